//! Trading Grid / Active Community connector.

pub mod wire;
