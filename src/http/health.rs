//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: both
//! platforms answer an authenticated call).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;

pub(crate) async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let (tg, cc, store) = tokio::join!(state.tg.check(), state.cc.check(), state.store.ping());
    let store_ok = match &store {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(error = %e, "store readiness check failed");
            "unavailable"
        }
    };
    let describe = |r: &Result<(), crate::upstream::UpstreamError>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            "unavailable".to_owned()
        }
    };
    let ready = tg.is_ok() && cc.is_ok() && store.is_ok();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({
            "status": if ready { "ready" } else { "not ready" },
            "trading_grid": describe(&tg),
            "core_case": describe(&cc),
            "store": store_ok,
        })),
    )
}
