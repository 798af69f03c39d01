//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: both
//! platforms answer an authenticated call, the store answers; with each
//! platform's circuit breaker state and Redis reported).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;
use crate::upstream::Resilience;

/// Longest any readiness probe may take, so `/readyz` answers at once even when a
/// platform or Redis hangs (the probes run side by side).
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// What readiness reports besides the probes themselves.
#[derive(Clone)]
pub(crate) struct Readiness {
    /// Trading Grid's and Core Case's breaker, retry budget and bulkhead.
    pub upstreams: [Arc<Resilience>; 2],
    /// Whether the store (and milestone stream) is Redis rather than memory.
    pub redis: bool,
}

pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `Ok` or why not, logged; a probe past [`PROBE_TIMEOUT`] counts as failed.
async fn probe<E: std::fmt::Display>(
    what: &'static str,
    check: impl std::future::Future<Output = Result<(), E>>,
) -> bool {
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(what, error = %e, "readiness check failed");
            false
        }
        Err(_) => {
            tracing::warn!(what, timeout = ?PROBE_TIMEOUT, "readiness check did not answer in time");
            false
        }
    }
}

pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    // While a platform's circuit is open its check fails at once without a call.
    let (tg, cc, store) = tokio::join!(
        probe("trading-grid", state.tg.check()),
        probe("core-case", state.cc.check()),
        probe("store", state.store.ping()),
    );
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let [tg_guard, cc_guard] = &state.readiness.upstreams;
    let ready = tg && cc && store;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "trading_grid": word(tg),
            "core_case": word(cc),
            "store": word(store),
            "redis": if state.readiness.redis { word(store) } else { "not configured" },
            "breakers": {
                "trading_grid": tg_guard.state().as_str(),
                "core_case": cc_guard.state().as_str(),
            },
        })),
    )
}
