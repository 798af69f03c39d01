//! Black-box tests: both simulators and the gateway on port 0, spoken to over HTTP.

mod documents;
mod errors;
mod helpers;
mod isolation;
mod queries;
mod ratelimit;
mod relations;
mod resilience;
mod robustness;
mod subscriptions;
mod upstream;
mod workflows;
