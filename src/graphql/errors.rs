//! GraphQL errors with a stable `extensions.code`. Internal detail goes to the log,
//! never to the client.
//!
//! Upstream failures reach resolvers as `FetchError`, and there is exactly one
//! conversion from it to a GraphQL error: `From<FetchError> for Error`, so a
//! resolver just writes `?`. `FetchError` deliberately does not implement
//! `Display`: async-graphql converts any `Display + Send + Sync` type into an
//! error (its message the type's text, with no code), and a `Display` impl here
//! would both clash with our own `From` and make a forgotten conversion compile
//! into an uncoded error that carries upstream text. Without it, the only way
//! from a `FetchError` to an `Error` is the coded one below. `UpstreamError`
//! itself does implement `Display`, so loaders and fetch helpers return
//! `FetchError`, never a bare `UpstreamError`.

use std::sync::Arc;

use async_graphql::{Error, ErrorExtensions};

use crate::domain::InvalidId;
use crate::upstream::UpstreamError;

/// The error codes clients can rely on.
pub mod code {
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
    pub const INTERNAL: &str = "INTERNAL";
    pub const IDEMPOTENCY_CONFLICT: &str = "IDEMPOTENCY_CONFLICT";
    pub const RETRY_LATER: &str = "RETRY_LATER";
    /// The document has more tokens than the parser is allowed to read.
    pub const QUERY_TOO_LARGE: &str = "QUERY_TOO_LARGE";
    /// Brackets or selections nest deeper than allowed.
    pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
    /// The operation's list-weighted cost is over the budget.
    pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
    pub const TOO_MANY_ALIASES: &str = "TOO_MANY_ALIASES";
    pub const TOO_MANY_ROOT_FIELDS: &str = "TOO_MANY_ROOT_FIELDS";
    /// A browser could have sent this request without a CORS preflight.
    pub const CSRF_REFUSED: &str = "CSRF_REFUSED";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// A WebSocket already holds as many subscriptions as it may.
    pub const TOO_MANY_SUBSCRIPTIONS: &str = "TOO_MANY_SUBSCRIPTIONS";
    /// The caller's request budget is spent; `Retry-After` says when to come back.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// A subscription fell further behind its events than the gateway holds for
    /// it and was ended; subscribing again with `after` resumes it.
    pub const FELL_BEHIND: &str = "FELL_BEHIND";
}

pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code::BAD_USER_INPUT))
}

pub(crate) fn forbidden(message: impl Into<String>) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code::FORBIDDEN))
}

pub(crate) fn internal() -> Error {
    Error::new("internal error").extend_with(|_, e| e.set("code", code::INTERNAL))
}

pub(crate) fn invalid_id(err: InvalidId) -> Error {
    bad_input(err.to_string())
}

/// An upstream failure as loaders and fetch helpers hand it to resolvers. Cheap to
/// clone (one failed batch answers every key in it). Not `Display`; see the module
/// comment.
#[derive(Debug, Clone)]
pub(crate) struct FetchError(Arc<UpstreamError>);

impl FetchError {
    /// The shared failure, for the entity cache, which hands one failure to
    /// every waiter.
    pub(crate) fn into_shared(self) -> Arc<UpstreamError> {
        self.0
    }
}

impl From<Arc<UpstreamError>> for FetchError {
    fn from(err: Arc<UpstreamError>) -> Self {
        Self(err)
    }
}

impl From<UpstreamError> for FetchError {
    fn from(err: UpstreamError) -> Self {
        Self(Arc::new(err))
    }
}

impl From<FetchError> for Error {
    fn from(err: FetchError) -> Self {
        upstream(&err.0)
    }
}

/// An upstream failure: logged in full once, answered with the platform named and
/// nothing else of the upstream's answer.
pub(crate) fn upstream(err: &UpstreamError) -> Error {
    tracing::warn!(error = %err, "upstream call failed");
    let platform = err.platform().slug();
    Error::new(format!(
        "{platform} is unavailable; this part of the answer is missing"
    ))
    .extend_with(|_, e| {
        e.set("code", code::UPSTREAM_UNAVAILABLE);
        e.set("platform", platform);
    })
}
