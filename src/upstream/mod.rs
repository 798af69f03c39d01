//! Connectors to the two platforms. Each platform module holds its wire models
//! (`wire.rs`), the one place they become domain types (`map.rs`) and the HTTP client
//! (`client.rs`) behind a trait, so resolvers and workflows hold `Arc<dyn TradingGrid>`
//! / `Arc<dyn CoreCase>` and never see JSON.

pub mod core_case;
mod http;
mod resilience;
pub mod trading_grid;

use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;

use crate::domain::Platform;

pub use core_case::CoreCase;
pub(crate) use http::{HttpSettings, UpstreamHttp};
pub use resilience::Resilience;
pub use trading_grid::TradingGrid;

/// What went wrong talking to a platform. Carries the platform and operation so
/// the one log line that reports it says where to look.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("{platform} {operation}: unreachable: {source}")]
    Unreachable {
        platform: Platform,
        operation: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{platform} {operation}: answered {status} {code}: {message}")]
    Status {
        platform: Platform,
        operation: &'static str,
        status: u16,
        code: String,
        message: String,
    },
    #[error("{platform} {operation}: unreadable answer: {detail}")]
    Decode {
        platform: Platform,
        operation: &'static str,
        detail: String,
    },
    #[error("{platform}: the token endpoint refused the gateway's client credentials ({status})")]
    Credentials { platform: Platform, status: u16 },
    #[error("{platform} {operation}: not called, the circuit is open after repeated failures")]
    CircuitOpen {
        platform: Platform,
        operation: &'static str,
    },
    #[error("{platform} {operation}: not called, too many calls already in flight")]
    Overloaded {
        platform: Platform,
        operation: &'static str,
    },
}

impl UpstreamError {
    pub fn platform(&self) -> Platform {
        match self {
            UpstreamError::Unreachable { platform, .. }
            | UpstreamError::Status { platform, .. }
            | UpstreamError::Decode { platform, .. }
            | UpstreamError::Credentials { platform, .. }
            | UpstreamError::CircuitOpen { platform, .. }
            | UpstreamError::Overloaded { platform, .. } => *platform,
        }
    }

    /// The platform failed (unreachable, timed out or a 5xx), as opposed to
    /// refusing what was asked: what the circuit breaker counts.
    pub(crate) fn is_platform_fault(&self) -> bool {
        match self {
            UpstreamError::Unreachable { .. } => true,
            UpstreamError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The upstream said the thing does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, UpstreamError::Status { status: 404, .. })
    }
}

pub type Result<T, E = UpstreamError> = std::result::Result<T, E>;

/// A document's bytes on their way from a platform to a client.
pub struct Content {
    pub content_type: String,
    pub length: Option<u64>,
    pub etag: Option<String>,
    pub body: Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
}
