//! The HTTP surface: GraphQL (POST/GET, GraphiQL), document downloads, signed
//! webhooks in, health.

mod documents;
mod graphql;
mod health;
mod webhooks;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::auth::{JwtVerifier, Principal};
use crate::graphql::errors::code;
use crate::graphql::GatewaySchema;
use crate::upstream::{CoreCase, TradingGrid};

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub schema: GatewaySchema,
    pub verifier: Arc<JwtVerifier>,
    pub tg: Arc<dyn TradingGrid>,
    pub cc: Arc<dyn CoreCase>,
    pub store: Arc<dyn crate::store::Store>,
    pub rules: Arc<crate::rules::RuleEngine>,
    pub webhook_secret: Option<crate::config::Secret>,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub cache: Arc<crate::cache::EntityCache>,
}

/// Every route. No socket needed: tests may `oneshot` it.
pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        .route("/graphql/ws", get(graphql::websocket))
        .route("/documents/{id}/content", get(documents::content))
        .route("/webhooks/{platform}", post(webhooks::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

/// `GET /metrics`: Prometheus text. Aggregate counts only, no ids or payloads.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// Count every answered request by its route template (never the raw path, which
/// carries ids) and status.
async fn count_requests(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    state.metrics.inc(
        "gridcase_http_requests_total",
        &[
            ("method", &method),
            ("route", &route),
            ("status", resp.status().as_str()),
        ],
    );
    resp
}

/// A GraphQL-shaped error answer for failures before GraphQL runs.
pub(crate) fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message, "extensions": { "code": code } }]
    });
    let mut resp = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

/// The authenticated caller; requests without a valid bearer token get 401.
pub(crate) struct Authenticated(pub Principal);

impl<S> FromRequestParts<S> for Authenticated
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        let Some(token) = token else {
            return Err(error_response(
                StatusCode::UNAUTHORIZED,
                code::UNAUTHENTICATED,
                "a bearer token is required",
            ));
        };
        match state.verifier.verify(token) {
            Ok(p) => Ok(Authenticated(p)),
            Err(e) => {
                tracing::info!(error = %e, "refused bearer token");
                Err(error_response(
                    StatusCode::UNAUTHORIZED,
                    code::UNAUTHENTICATED,
                    "the bearer token is invalid or expired",
                ))
            }
        }
    }
}
