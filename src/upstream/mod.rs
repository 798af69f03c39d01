//! Connectors to the two platforms: HTTP clients, wire models, and the mapping to domain types.

pub mod core_case;
pub mod trading_grid;
