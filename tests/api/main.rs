//! Black-box tests: both simulators and the gateway on port 0, spoken to over HTTP.

mod auth;
mod cache;
mod converge;
mod documents;
mod errors;
mod federation;
mod field_policy;
mod graphiql;
mod hardening;
mod helpers;
mod isolation;
mod queries;
mod ratelimit;
mod relations;
mod resilience;
mod robustness;
mod sse;
mod subscriptions;
mod trusted_documents;
mod upstream;
mod workflows;
