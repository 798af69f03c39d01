//! Simulators of both platforms.
pub(crate) mod rng;
pub(crate) mod world;
