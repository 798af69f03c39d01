//! The HTTP surface: GraphQL (POST/GET, GraphiQL), document downloads, signed
//! webhooks in, health.

mod documents;
mod graphiql;
mod graphql;
mod guard;
pub(crate) mod health;
pub(crate) mod portal;
pub(crate) mod ratelimit;
pub(crate) mod server;
mod sse;
mod webhooks;
mod ws;

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::auth::{JwtVerifier, Principal};
use crate::graphql::errors::code;
use crate::graphql::Executor;
use crate::upstream::{CoreCase, TradingGrid};

/// What handlers share.
#[derive(Clone)]
pub(crate) struct AppState {
    pub schema: Executor,
    pub verifier: Arc<JwtVerifier>,
    pub tg: Arc<dyn TradingGrid>,
    pub cc: Arc<dyn CoreCase>,
    pub store: Arc<dyn crate::store::Store>,
    pub rules: Arc<crate::rules::RuleEngine>,
    pub webhook_secret: Option<crate::config::Secret>,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Bounds and switches of the HTTP surface.
    pub http: Arc<crate::config::Http>,
    /// The operation limits, for checks made before the schema runs.
    pub limits: crate::graphql::limits::OperationLimits,
    /// Cancelled when the gateway shuts down: open sockets say goodbye.
    pub going_away: tokio_util::sync::CancellationToken,
    /// Long-lived connection work (WebSockets) shutdown waits for.
    pub tasks: tokio_util::task::TaskTracker,
    /// Per-principal and per-webhook-source request budgets.
    pub rate_limits: Arc<ratelimit::RateLimits>,
    /// Breaker states and whether Redis is configured, for `/readyz`.
    pub readiness: health::Readiness,
    pub stream: crate::config::StreamConfig,
    /// Sample tokens, in sandbox mode only.
    pub sandbox: Option<Arc<portal::Sandbox>>,
    pub cache: Arc<crate::cache::EntityCache>,
}

/// Every route (`/metrics` only when `public_metrics`; otherwise it is served by
/// [`metrics_router`] on its own listener). No socket needed: tests may `oneshot` it.
pub(crate) fn router(state: AppState, public_metrics: bool) -> Router {
    let bounded = axum::middleware::from_fn_with_state(state.clone(), guard::bounded_body);
    let graphql = Router::new()
        .route(
            "/graphql",
            get(graphql::get_graphql).post(graphql::post_graphql),
        )
        // Route layers: unmatched paths still answer 404.
        .route_layer(axum::middleware::from_fn(guard::csrf))
        .route_layer(bounded.clone());
    let graphql = match guard::cors(&state.http.cors_origins) {
        Some(cors) => graphql.layer(cors),
        None => graphql,
    };
    let router = Router::new()
        .merge(graphql)
        .route("/graphql/ws", get(ws::websocket))
        .route(
            "/graphql/stream",
            get(sse::stream).post(sse::stream).layer(bounded.clone()),
        )
        .merge(portal::routes())
        .merge(graphiql::routes())
        .route("/documents/{id}/content", get(documents::content))
        .route(
            "/webhooks/{platform}",
            post(webhooks::receive).layer(bounded),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let router = if public_metrics {
        router.route("/metrics", get(metrics))
    } else {
        router
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(crate::telemetry::http_span::<axum::body::Body>),
        )
        .with_state(state)
}

/// `/metrics` alone, for a listen address inside the network boundary.
pub(crate) fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// `GET /metrics`: Prometheus text. Aggregate counts only, no ids or payloads.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    // Read before the in-flight gauges are rendered: a step claimed after this
    // read is counted by `gridcase_workflow_runs_in_flight` instead.
    match state.store.outbox_due(chrono::Utc::now()).await {
        Ok(due) => state.metrics.set("gridcase_outbox_due", due as f64),
        Err(e) => tracing::warn!(error = %e, "outbox not counted for /metrics"),
    }
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

/// 429 with `Retry-After` and a GraphQL-shaped body coded `RATE_LIMITED`.
pub(crate) fn rate_limited(wait: ratelimit::RetryAfter) -> Response {
    let mut resp = error_response(
        StatusCode::TOO_MANY_REQUESTS,
        code::RATE_LIMITED,
        "too many requests; retry after the time in the Retry-After header",
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(wait.secs()));
    resp
}

/// The authenticated caller (and within its rate limit); requests without a valid bearer token get 401.
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
        match state.verifier.verify(token).await {
            Ok(v) => match state.rate_limits.check(&v.principal) {
                Ok(()) => Ok(Authenticated(v.principal)),
                Err(wait) => {
                    let role = ratelimit::role_label(&v.principal);
                    state
                        .metrics
                        .inc("gridcase_rate_limited_total", &[("caller", role)]);
                    Err(rate_limited(wait))
                }
            },
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
