//! Simulators of both platforms (placeholder until the simulators land).
