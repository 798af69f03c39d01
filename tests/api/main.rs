//! Black-box tests: both simulators and the gateway on port 0, spoken to over HTTP.

mod cache;
mod documents;
mod errors;
mod helpers;
mod isolation;
mod queries;
mod relations;
mod robustness;
mod subscriptions;
mod upstream;
mod workflows;
