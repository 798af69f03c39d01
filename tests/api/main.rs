//! Black-box tests: both simulators and the gateway on port 0, spoken to over HTTP.

mod documents;
mod errors;
mod federation;
mod graphiql;
mod helpers;
mod isolation;
mod queries;
mod relations;
mod robustness;
mod sse;
mod subscriptions;
mod upstream;
mod workflows;
