//! Core Case connector.

pub mod wire;
