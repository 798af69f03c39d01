//! `GET /portal`: a small page for a trading partner (its open issues with their
//! case milestone, documents, published resolutions and a live milestone
//! timeline), written against the partner-safe GraphQL API only — the page is also
//! an example of a portal client. Plain HTML, CSS and JS compiled into the binary.
//!
//! In sandbox mode `/portal/sandbox.json` offers the sample partner's token (the
//! sandbox secret is public and guards simulated data only); elsewhere it is 404.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::auth::Role;
use crate::config::{Config, Secret, SANDBOX_JWT_SECRET};

const INDEX: &str = include_str!("../../web/portal/index.html");
const SCRIPT: &str = include_str!("../../web/portal/portal.js");
const STYLE: &str = include_str!("../../web/portal/portal.css");

/// The partner whose token sandbox mode offers.
pub(crate) const SAMPLE_PARTNER: &str = "TP-0001";

/// Tokens sandbox mode hands out to newcomers (portal, GraphiQL).
pub(crate) struct Sandbox {
    pub partner_token: String,
    pub agent_token: String,
}

/// Sign the sample tokens when `config` is a sandbox (its JWT secret is the public
/// sandbox secret, which explicit mode refuses); `None` otherwise.
pub(crate) fn sandbox(config: &Config) -> anyhow::Result<Option<Arc<Sandbox>>> {
    let is_sandbox = matches!(
        &config.auth.keys,
        crate::config::KeySource::Secret(s) if s.expose() == SANDBOX_JWT_SECRET
    );
    if !is_sandbox {
        return Ok(None);
    }
    let secret = Secret::new(SANDBOX_JWT_SECRET);
    let day = std::time::Duration::from_secs(24 * 3600);
    let sign = |role, partner, subject| {
        crate::auth::sign(
            &secret,
            role,
            partner,
            subject,
            day,
            config.auth.issuer.as_deref(),
            config.auth.audience.as_deref(),
        )
    };
    Ok(Some(Arc::new(Sandbox {
        partner_token: sign(Role::Partner, Some(SAMPLE_PARTNER), "sandbox-partner")?,
        agent_token: sign(Role::Agent, None, "sandbox-agent")?,
    })))
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/portal",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/portal/portal.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/portal/portal.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/portal/sandbox.json", get(sandbox_json))
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Only this origin's scripts and requests; downloads are blob: URLs.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

async fn sandbox_json(State(state): State<AppState>) -> Response {
    match &state.sandbox {
        Some(s) => (
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({
                "partnerId": SAMPLE_PARTNER,
                "partnerToken": s.partner_token,
            })),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
