//! `POST /webhooks/{platform}`: signed platform events in.
//!
//! A delivery carries `Webhook-Id`, `Webhook-Timestamp` (unix seconds) and
//! `Webhook-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. A bad
//! or stale signature is refused with 401 before the body is even parsed; an
//! event already handled is acknowledged and not handled again.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{error_response, AppState};
use crate::domain::Platform;
use crate::graphql::errors::code;
use crate::rules::Handled;
use crate::upstream::{core_case, trading_grid};
use crate::workflows::WorkflowError;

/// How far a delivery's timestamp may be from now.
const TOLERANCE_SECS: u64 = 300;

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

/// Check the signature; `Err` says why (logged, not returned).
pub(crate) fn verify(
    secret: &[u8],
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<String, &'static str> {
    let id = header(headers, "webhook-id")
        .filter(|s| !s.is_empty())
        .ok_or("no Webhook-Id")?;
    let ts = header(headers, "webhook-timestamp").ok_or("no Webhook-Timestamp")?;
    let ts_num: i64 = ts.parse().map_err(|_| "unreadable Webhook-Timestamp")?;
    if now.abs_diff(ts_num) > TOLERANCE_SECS {
        return Err("stale or future Webhook-Timestamp");
    }
    let sigs = header(headers, "webhook-signature").ok_or("no Webhook-Signature")?;
    // Several signatures may be sent during a secret rotation; one must match.
    for sig in sigs.split([' ', ',']).filter_map(|s| s.strip_prefix("v1=")) {
        let Ok(expected) = hex::decode(sig) else {
            continue;
        };
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| "bad secret")?;
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant-time comparison.
        if mac.verify_slice(&expected).is_ok() {
            return Ok(id.to_owned());
        }
    }
    Err("signature does not match")
}

#[tracing::instrument(name = "webhook", skip_all)]
pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let platform = match platform.as_str() {
        "trading-grid" => Platform::TradingGrid,
        "core-case" => Platform::CoreCase,
        _ => return error_response(StatusCode::NOT_FOUND, "NOT_FOUND", "no such webhook"),
    };
    // Before the signature is checked, so a flood costs no HMAC work.
    if let Err(wait) = state.rate_limits.check_webhook(platform) {
        state
            .metrics
            .inc("gridcase_rate_limited_total", &[("caller", "webhook")]);
        return super::rate_limited(wait);
    }
    let Some(secret) = &state.webhook_secret else {
        return error_response(
            StatusCode::UNAUTHORIZED,
            code::UNAUTHENTICATED,
            "webhooks are not configured",
        );
    };
    let id = match verify(
        secret.expose().as_bytes(),
        &headers,
        &body,
        chrono::Utc::now().timestamp(),
    ) {
        Ok(id) => id,
        Err(why) => {
            tracing::warn!(%platform, why, "webhook refused");
            state.metrics.inc(
                "gridcase_webhooks_total",
                &[("platform", platform.slug()), ("result", "refused")],
            );
            return error_response(
                StatusCode::UNAUTHORIZED,
                code::UNAUTHENTICATED,
                "invalid webhook signature",
            );
        }
    };
    let parsed = match platform {
        Platform::TradingGrid => trading_grid::parse_event(&body),
        Platform::CoreCase => core_case::parse_event(&body),
    };
    let event = match parsed {
        Ok(e) if e.id == id => e,
        Ok(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "Webhook-Id does not match the event id",
            )
        }
        Err(e) => {
            tracing::info!(%platform, error = %e, "malformed webhook body");
            return error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "the body is not an event of this platform",
            );
        }
    };
    // Before the acknowledgement: no read after it sees what the event changed.
    state.cache.evict_for_event(&event).await;
    // On a task of its own: a sender that gives up waiting must not cut the
    // workflow off between two upstream writes.
    let rules = state.rules.clone();
    // Counted for as long as the task runs, which may outlive this request.
    let in_flight = state.metrics.in_flight("gridcase_webhooks_in_flight");
    let handled = match tokio::spawn(async move {
        let _in_flight = in_flight;
        rules.handle(event).await
    })
    .await
    {
        Ok(h) => h,
        Err(e) => {
            tracing::error!(error = %e, "webhook task failed");
            return error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                code::INTERNAL,
                "could not process the event",
            );
        }
    };
    let result = match &handled {
        Ok(Handled::Processed) => "processed",
        Ok(Handled::Duplicate) => "duplicate",
        Ok(Handled::InProgress) => "in_progress",
        Err(_) => "failed",
    };
    state.metrics.inc(
        "gridcase_webhooks_total",
        &[("platform", platform.slug()), ("result", result)],
    );
    match handled {
        Ok(Handled::Processed) => {
            Json(serde_json::json!({ "status": "processed" })).into_response()
        }
        Ok(Handled::Duplicate) => {
            Json(serde_json::json!({ "status": "duplicate" })).into_response()
        }
        // The platform retries; by then the other delivery has finished.
        Ok(Handled::InProgress) => error_response(
            StatusCode::CONFLICT,
            code::RETRY_LATER,
            "this event is being processed",
        ),
        Err(WorkflowError::Upstream(e)) => {
            tracing::warn!(error = %e, "webhook workflow failed; the platform will redeliver");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                code::UPSTREAM_UNAVAILABLE,
                &format!("{} is unavailable", e.platform()),
            )
        }
        // The store does not answer: the platform redelivers (and the feed poller
        // and reconciler catch up with what it gives up on).
        Err(WorkflowError::Store(e)) => {
            tracing::warn!(error = %e, "webhook not processed: the store is unavailable");
            let mut resp = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                code::RETRY_LATER,
                "the gateway's store is unavailable; retry shortly",
            );
            resp.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("1"),
            );
            resp
        }
        Err(e) => {
            tracing::error!(error = %e, "webhook workflow failed");
            error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                code::INTERNAL,
                "could not process the event",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret: &[u8], ts: i64, body: &[u8]) -> HeaderMap {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{ts}.").as_bytes());
        mac.update(body);
        let mut h = HeaderMap::new();
        h.insert("webhook-id", "EVT-1".parse().unwrap());
        h.insert("webhook-timestamp", ts.to_string().parse().unwrap());
        h.insert(
            "webhook-signature",
            format!("v1={}", hex::encode(mac.finalize().into_bytes()))
                .parse()
                .unwrap(),
        );
        h
    }

    #[test]
    fn only_a_fresh_signature_by_the_shared_secret_passes() {
        let now = 1_800_000_000;
        let body = br#"{"id":"EVT-1"}"#;
        assert_eq!(
            verify(b"secret", &signed(b"secret", now, body), body, now),
            Ok("EVT-1".into())
        );
        assert!(verify(b"secret", &signed(b"other", now, body), body, now).is_err());
        assert!(verify(b"secret", &signed(b"secret", now, body), b"{}", now).is_err());
        assert!(verify(b"secret", &signed(b"secret", now - 301, body), body, now).is_err());
        assert!(verify(b"secret", &HeaderMap::new(), body, now).is_err());
        let mut extreme = signed(b"secret", now, body);
        extreme.insert("webhook-timestamp", i64::MIN.to_string().parse().unwrap());
        assert!(verify(b"secret", &extreme, body, now).is_err());
    }
}
