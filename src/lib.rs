//! gridcase: one GraphQL API over OpenText Trading Grid and Core Case.

pub mod sim;
pub mod upstream;
