//! What both simulators share: error answers in each platform's shape, the OAuth token
//! endpoint, the fault/latency/rate-limit/auth gate, request statistics, the
//! simulator-only `/__sim` routes (faults, stats, webhook target), and query-string
//! and pagination helpers.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{json, Value};

use super::idempotency::Keys;
use super::rng::Rng;
use super::webhook::{Outbox, RedeliverError, Target};
use super::{Platform, SimOptions};
use crate::upstream::core_case::wire as cc;
use crate::upstream::trading_grid::wire as tg;

/// The time a simulator stamps on what it writes, to the millisecond as the
/// platforms answer it.
pub(crate) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(3)
}

/// A list filter's values as a set (`None`: not filtered).
pub(crate) fn set(v: Option<Vec<String>>) -> Option<HashSet<String>> {
    v.map(|v| v.into_iter().collect())
}

/// `404` for the `what` with this `id`, as `platform` words it.
pub(crate) fn not_found(platform: Platform, what: &str, id: &str) -> ApiError {
    ApiError::new(platform, Kind::NotFound, format!("{what} {id} not found"))
}

/// Lock a mutex, carrying on with the data if a panicking thread poisoned it: the
/// simulators' state stays usable and a test failure elsewhere should not cascade.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

// ---------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    NotFound,
    Invalid,
    Unauthorized,
    InvalidClient,
    UnsupportedGrant,
    RateLimited(u64),
    Unavailable,
    Conflict,
    /// An `Idempotency-Key` sent again with a different request.
    IdempotencyKeyReused,
}

/// An error answer; rendered in the shape of the platform that produced it.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) platform: Platform,
    pub(crate) kind: Kind,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

impl ApiError {
    pub(crate) fn new(platform: Platform, kind: Kind, message: impl Into<String>) -> Self {
        Self {
            platform,
            kind,
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    fn status(&self) -> StatusCode {
        match self.kind {
            Kind::NotFound => StatusCode::NOT_FOUND,
            Kind::Invalid | Kind::UnsupportedGrant => StatusCode::BAD_REQUEST,
            Kind::Unauthorized | Kind::InvalidClient => StatusCode::UNAUTHORIZED,
            Kind::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Kind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Kind::Conflict => StatusCode::CONFLICT,
            Kind::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut resp = match self.platform {
            Platform::TradingGrid => {
                let code = match self.kind {
                    Kind::NotFound => "not_found",
                    Kind::Invalid => "invalid_request",
                    Kind::Unauthorized => "unauthorized",
                    Kind::InvalidClient => "invalid_client",
                    Kind::UnsupportedGrant => "unsupported_grant_type",
                    Kind::RateLimited(_) => "rate_limited",
                    Kind::Unavailable => "unavailable",
                    Kind::Conflict => "conflict",
                    Kind::IdempotencyKeyReused => "idempotency_key_reused",
                };
                let body = tg::ErrorBody {
                    error: tg::ErrorDetail {
                        code: code.into(),
                        message: self.message,
                    },
                };
                (status, Json(body)).into_response()
            }
            Platform::CoreCase => {
                let code = match self.kind {
                    Kind::NotFound => "NOT_FOUND",
                    Kind::Invalid | Kind::UnsupportedGrant => "VALIDATION_FAILED",
                    Kind::Unauthorized | Kind::InvalidClient => "UNAUTHORIZED",
                    Kind::RateLimited(_) => "RATE_LIMITED",
                    Kind::Unavailable => "UNAVAILABLE",
                    Kind::Conflict => "CONFLICT",
                    Kind::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
                };
                let n = REQUEST_IDS.fetch_add(1, Ordering::Relaxed);
                let body = cc::ErrorBody {
                    code: code.into(),
                    message: self.message,
                    request_id: Some(format!("req-{n:06x}")),
                    details: self.details,
                };
                (status, Json(body)).into_response()
            }
        };
        if let Kind::RateLimited(secs) = self.kind {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        resp
    }
}

// ---------------------------------------------------------------------------
// Shared state: knobs, tokens, stats

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Faults {
    pub(crate) latency_ms: u64,
    pub(crate) error_rate: f64,
    pub(crate) rate_limit: Option<u32>,
}

/// Token bucket holding up to `rate` tokens, refilled at `rate` per second.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct Stats {
    total: u64,
    routes: BTreeMap<String, u64>,
}

/// State of one simulator that is not platform data.
pub(crate) struct Common {
    pub(crate) platform: Platform,
    client_id: String,
    client_secret: String,
    token_ttl: Duration,
    faults: Mutex<Faults>,
    bucket: Mutex<Bucket>,
    fault_rng: Mutex<Rng>,
    token_rng: Mutex<Rng>,
    tokens: Mutex<HashMap<String, Instant>>,
    stats: Mutex<Stats>,
    pub(crate) idempotency: Keys,
    pub(crate) outbox: Arc<Outbox>,
}

impl Common {
    pub(crate) fn new(platform: Platform, opts: &SimOptions) -> Self {
        // Tokens only need to look random and differ between runs; seeded data never
        // depends on this generator.
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self {
            platform,
            client_id: opts.client_id.clone(),
            client_secret: opts.client_secret.clone(),
            token_ttl: opts.token_ttl,
            faults: Mutex::new(Faults {
                latency_ms: opts.latency_ms,
                error_rate: opts.error_rate.clamp(0.0, 1.0),
                rate_limit: opts.rate_limit,
            }),
            bucket: Mutex::new(Bucket {
                tokens: f64::from(opts.rate_limit.unwrap_or(0)),
                last: Instant::now(),
            }),
            fault_rng: Mutex::new(Rng::derive(opts.seed, "faults")),
            token_rng: Mutex::new(Rng::new(nanos ^ opts.seed.rotate_left(29))),
            tokens: Mutex::new(HashMap::new()),
            stats: Mutex::new(Stats::default()),
            idempotency: Keys::default(),
            outbox: Arc::new(Outbox::new(
                platform,
                Target {
                    url: opts.webhook_url.clone(),
                    secret: opts.webhook_secret.clone(),
                },
            )),
        }
    }

    pub(crate) fn err(&self, kind: Kind, message: impl Into<String>) -> ApiError {
        ApiError::new(self.platform, kind, message)
    }

    /// The user Core Case records as the author of writes made with our client's token.
    pub(crate) fn client_user(&self) -> cc::UserRef {
        cc::UserRef {
            id: self.client_id.clone(),
            name: format!("{} (API client)", self.client_id),
        }
    }

    fn faults(&self) -> Faults {
        *lock(&self.faults)
    }

    fn count(&self, key: String) {
        let mut s = lock(&self.stats);
        s.total += 1;
        *s.routes.entry(key).or_insert(0) += 1;
    }

    /// Take one request token; on refusal, the whole seconds until one is available.
    fn take_rate_token(&self) -> Result<(), u64> {
        let Some(rate) = self.faults().rate_limit else {
            return Ok(());
        };
        if rate == 0 {
            return Err(1);
        }
        let rate = f64::from(rate);
        let mut b = lock(&self.bucket);
        let now = Instant::now();
        let elapsed = now.duration_since(b.last).as_secs_f64();
        b.last = now;
        b.tokens = (b.tokens + elapsed * rate).min(rate);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / rate).ceil() as u64;
            Err(wait.max(1))
        }
    }

    fn roll_error(&self) -> bool {
        let rate = self.faults().error_rate;
        if rate <= 0.0 {
            return false;
        }
        lock(&self.fault_rng).next_f64() < rate
    }

    fn issue_token(&self) -> String {
        let mut bytes = [0u8; 24];
        {
            let mut rng = lock(&self.token_rng);
            for chunk in bytes.chunks_mut(8) {
                let v = rng.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, exp| *exp > now);
        tokens.insert(token.clone(), now + self.token_ttl);
        token
    }

    fn token_valid(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let mut parts = value.splitn(2, ' ');
        let scheme = parts.next().unwrap_or("");
        let token = parts.next().unwrap_or("").trim();
        if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
            return false;
        }
        lock(&self.tokens)
            .get(token)
            .is_some_and(|exp| *exp > Instant::now())
    }
}

/// Gate in front of every platform route, in the documented order: count -> rate
/// limit -> latency -> injected 503 -> bearer auth. The token endpoint skips the last two
/// so a platform failing every API call still issues tokens.
pub(crate) async fn gate(State(c): State<Arc<Common>>, req: Request, next: Next) -> Response {
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let is_token = template == c.platform.token_path();
    c.count(format!("{} {}", req.method(), template));
    if let Err(secs) = c.take_rate_token() {
        return c
            .err(Kind::RateLimited(secs), "rate limit exceeded")
            .into_response();
    }
    let latency = c.faults().latency_ms;
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    if !is_token {
        if c.roll_error() {
            return c
                .err(Kind::Unavailable, "service temporarily unavailable")
                .into_response();
        }
        if !c.token_valid(req.headers()) {
            return c
                .err(Kind::Unauthorized, "missing or invalid bearer token")
                .into_response();
        }
    }
    next.run(req).await
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth2/token` (Trading Grid) and `POST /oauth/token` (Core Case).
async fn token(State(c): State<Arc<Common>>, headers: HeaderMap, body: Bytes) -> Response {
    let form: TokenForm = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(e) => {
            return c
                .err(Kind::Invalid, format!("malformed form body: {e}"))
                .into_response()
        }
    };
    match form.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(other) => {
            return c
                .err(
                    Kind::UnsupportedGrant,
                    format!("grant_type {other:?} is not supported; only client_credentials is"),
                )
                .into_response()
        }
        None => {
            return c
                .err(Kind::Invalid, "grant_type is required")
                .into_response()
        }
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest.trim())
        })
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| {
            let (id, secret) = s.split_once(':')?;
            Some((id.to_string(), secret.to_string()))
        });
    let (id, secret) = match (form.client_id, form.client_secret, basic) {
        (Some(id), Some(secret), _) => (id, secret),
        (_, _, Some(pair)) => pair,
        _ => (String::new(), String::new()),
    };
    if id != c.client_id || secret != c.client_secret {
        return c
            .err(Kind::InvalidClient, "unknown client or wrong secret")
            .into_response();
    }
    let access_token = c.issue_token();
    let body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": c.token_ttl.as_secs(),
    });
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(body),
    )
        .into_response()
}

/// The token route, to be merged into the platform router before the gate is layered.
pub(crate) fn token_router(common: Arc<Common>) -> Router {
    Router::new()
        .route(common.platform.token_path(), post(token))
        .with_state(common)
}

// ---------------------------------------------------------------------------
// Simulator-only routes

async fn stats(State(c): State<Arc<Common>>) -> Response {
    let s = lock(&c.stats);
    Json(json!({ "total": s.total, "routes": s.routes })).into_response()
}

async fn stats_reset(State(c): State<Arc<Common>>) -> StatusCode {
    *lock(&c.stats) = Stats::default();
    StatusCode::NO_CONTENT
}

async fn faults_get(State(c): State<Arc<Common>>) -> Response {
    Json(c.faults()).into_response()
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsUpdate {
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default)]
    error_rate: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    rate_limit: Option<Option<u32>>,
}

async fn faults_put(State(c): State<Arc<Common>>, body: Bytes) -> Response {
    let upd: FaultsUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return c
                .err(Kind::Invalid, format!("invalid faults body: {e}"))
                .into_response()
        }
    };
    if let Some(r) = upd.error_rate {
        if !(0.0..=1.0).contains(&r) {
            return c
                .err(Kind::Invalid, "error_rate must be between 0 and 1")
                .into_response();
        }
    }
    if let Some(Some(0)) = upd.rate_limit {
        return c
            .err(Kind::Invalid, "rate_limit must be at least 1 (or null)")
            .into_response();
    }
    let now = {
        let mut f = lock(&c.faults);
        if let Some(l) = upd.latency_ms {
            f.latency_ms = l;
        }
        if let Some(r) = upd.error_rate {
            f.error_rate = r;
        }
        if let Some(rl) = upd.rate_limit {
            f.rate_limit = rl;
            // A new limit starts with a full bucket, as a freshly started simulator would.
            let mut b = lock(&c.bucket);
            b.tokens = f64::from(rl.unwrap_or(0));
            b.last = Instant::now();
        }
        *f
    };
    Json(now).into_response()
}

async fn health() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

async fn webhook_get(State(c): State<Arc<Common>>) -> Response {
    Json(c.outbox.status()).into_response()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookUpdate {
    #[serde(default, deserialize_with = "present")]
    url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    secret: Option<Option<String>>,
}

/// Only http(s) URLs with a host: anything else could never be delivered to.
fn valid_webhook_url(u: &str) -> bool {
    reqwest::Url::parse(u)
        .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

async fn webhook_put(State(c): State<Arc<Common>>, body: Bytes) -> Response {
    let upd: WebhookUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return c
                .err(Kind::Invalid, format!("invalid webhook body: {e}"))
                .into_response()
        }
    };
    if let Some(Some(u)) = &upd.url {
        if !valid_webhook_url(u) {
            return c
                .err(Kind::Invalid, "url must be an absolute http or https URL")
                .into_response();
        }
    }
    if let Some(Some(s)) = &upd.secret {
        if s.is_empty() {
            return c
                .err(Kind::Invalid, "secret must not be empty (null removes it)")
                .into_response();
        }
    }
    let mut target = c.outbox.target();
    if let Some(u) = upd.url {
        target.url = u;
    }
    if let Some(s) = upd.secret {
        target.secret = s;
    }
    c.outbox.set_target(target);
    Json(c.outbox.status()).into_response()
}

async fn webhook_redeliver(State(c): State<Arc<Common>>, Path(id): Path<String>) -> Response {
    match c.outbox.redeliver(&id) {
        Ok(()) => (StatusCode::ACCEPTED, Json(c.outbox.status())).into_response(),
        Err(RedeliverError::UnknownEvent) => c
            .err(Kind::NotFound, format!("event {id} not found"))
            .into_response(),
        Err(RedeliverError::NoTarget) => c
            .err(
                Kind::Conflict,
                "no webhook url is configured; set one with PUT /__sim/webhook",
            )
            .into_response(),
    }
}

/// `/__sim/*`: no auth, no stats, no faults.
pub(crate) fn sim_router(common: Arc<Common>) -> Router {
    Router::new()
        .route("/__sim/stats", get(stats))
        .route("/__sim/stats/reset", post(stats_reset))
        .route("/__sim/faults", get(faults_get).put(faults_put))
        .route("/__sim/health", get(health))
        .route("/__sim/webhook", get(webhook_get).put(webhook_put))
        .route(
            "/__sim/webhook/redeliver/{event_id}",
            post(webhook_redeliver),
        )
        .with_state(common)
}

// ---------------------------------------------------------------------------
// Query strings, bodies, pages

/// Parsed query string. Multi-valued parameters are comma-separated (repeating the
/// parameter works too); empty values count as absent.
pub(crate) struct Params {
    platform: Platform,
    pairs: Vec<(String, String)>,
}

impl Params {
    pub(crate) fn parse(platform: Platform, raw: Option<&str>) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
            .map_err(|e| ApiError::new(platform, Kind::Invalid, format!("malformed query: {e}")))?;
        Ok(Self { platform, pairs })
    }

    fn invalid(&self, msg: String) -> ApiError {
        ApiError::new(self.platform, Kind::Invalid, msg)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    pub(crate) fn list(&self, name: &str, max: usize) -> Result<Option<Vec<String>>, ApiError> {
        let vals: Vec<String> = self
            .pairs
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        if vals.is_empty() {
            return Ok(None);
        }
        if vals.len() > max {
            return Err(self.invalid(format!("{name} takes at most {max} values")));
        }
        Ok(Some(vals))
    }

    pub(crate) fn required_list(&self, name: &str, max: usize) -> Result<Vec<String>, ApiError> {
        self.list(name, max)?
            .ok_or_else(|| self.invalid(format!("{name} is required")))
    }

    pub(crate) fn enums<E>(&self, name: &str) -> Result<Option<Vec<E>>, ApiError>
    where
        E: DeserializeOwned + Serialize,
    {
        let Some(vals) = self.list(name, 100)? else {
            return Ok(None);
        };
        vals.iter()
            .map(|v| {
                parse_enum::<E>(v)
                    .ok_or_else(|| self.invalid(format!("unknown {name} value {v:?}")))
            })
            .collect::<Result<Vec<E>, ApiError>>()
            .map(Some)
    }

    pub(crate) fn date(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        // A `+` offset sent unencoded arrives as a space.
        let fixed = v.replace(' ', "+");
        DateTime::parse_from_rfc3339(&fixed)
            .map(|d| Some(d.with_timezone(&Utc)))
            .map_err(|_| self.invalid(format!("{name} must be an RFC 3339 timestamp")))
    }

    pub(crate) fn u64(&self, name: &str) -> Result<Option<u64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| self.invalid(format!("{name} must be a non-negative integer")))
            })
            .transpose()
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(self.invalid(format!("{name} must be true or false"))),
        }
    }

    /// Page size from `name`: default 25, 1..=100.
    pub(crate) fn size(&self, name: &str) -> Result<usize, ApiError> {
        match self.get(name) {
            None => Ok(25),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=100).contains(&n) => Ok(n),
                _ => Err(self.invalid(format!("{name} must be between 1 and 100"))),
            },
        }
    }

    /// Offset encoded in the opaque cursor `name`; 0 when absent.
    pub(crate) fn offset(&self, name: &str) -> Result<usize, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(0);
        };
        decode_cursor(v).ok_or_else(|| self.invalid(format!("{name} is not a valid cursor")))
    }
}

pub(crate) fn parse_enum<E: DeserializeOwned + Serialize>(v: &str) -> Option<E> {
    let e: E = serde_json::from_value(Value::String(v.to_string())).ok()?;
    // The wire enums swallow unknown strings into `Unknown`; only exact values count.
    match serde_json::to_value(&e).ok()? {
        Value::String(s) if s == v && s != "unknown" => Some(e),
        _ => None,
    }
}

/// Whether a wire enum value is the catch-all `Unknown` (i.e. the client sent garbage).
pub(crate) fn is_unknown<E: Serialize>(e: &E) -> bool {
    matches!(serde_json::to_value(e), Ok(Value::String(s)) if s == "unknown")
}

pub(crate) fn encode_cursor(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("off:{offset}"))
}

fn decode_cursor(v: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim_end_matches('='))
        .ok()?;
    String::from_utf8(raw)
        .ok()?
        .strip_prefix("off:")?
        .parse()
        .ok()
}

/// One page of `items` from `offset`; the next cursor when more remain.
pub(crate) fn paginate<T>(items: Vec<T>, offset: usize, size: usize) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(offset).take(size).collect();
    let next = (offset.saturating_add(size) < total).then(|| encode_cursor(offset + size));
    (page, next)
}

pub(crate) fn json_body<T: DeserializeOwned>(
    platform: Platform,
    body: &[u8],
) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(platform, Kind::Invalid, format!("invalid JSON body: {e}")))
}

/// Ids the gateway routes on: only `[A-Za-z0-9_-]`.
pub(crate) fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn created<T: Serialize>(location: Option<String>, value: &T) -> Response {
    let mut resp = (StatusCode::CREATED, Json(value)).into_response();
    if let Some(loc) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

/// Raw bytes with their type, length and the sha256 as a strong ETag.
pub(crate) fn content(bytes: Bytes, content_type: &str, sha256: &str) -> Response {
    let mut resp = (StatusCode::OK, bytes.clone()).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
        h.insert(header::CONTENT_LENGTH, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{sha256}\"")) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trip() {
        assert_eq!(decode_cursor(&encode_cursor(75)), Some(75));
        assert_eq!(decode_cursor("garbage!"), None);
        assert_eq!(decode_cursor("b2ZmOng"), None);
    }

    #[test]
    fn enums_are_strict() {
        assert_eq!(
            parse_enum::<tg::DiscussionStatus>("open"),
            Some(tg::DiscussionStatus::Open)
        );
        assert_eq!(parse_enum::<tg::DiscussionStatus>("bogus"), None);
        assert_eq!(parse_enum::<tg::DiscussionStatus>("unknown"), None);
    }

    #[test]
    fn params_lists_and_limits() {
        let p = Params::parse(Platform::TradingGrid, Some("ids=a,b&ids=c&limit=101&x="))
            .unwrap_or_else(|_| panic!("parse"));
        assert_eq!(p.list("ids", 100).ok().flatten().map(|v| v.len()), Some(3));
        assert!(p.list("ids", 2).is_err());
        assert!(p.size("limit").is_err());
        assert_eq!(p.get("x"), None);
    }
}
