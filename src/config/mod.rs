//! Configuration: an optional TOML file, then `GRIDCASE_*` environment variables
//! on top, validated into one typed [`Config`]. This module holds the types and
//! their defaults; `load` reads the sources and `validate` checks them. Unknown
//! keys are errors; secrets never print.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// The JWT secret sandbox mode signs and verifies with. Public on purpose: it only
/// ever guards simulated data, and a gateway with real upstreams refuses it.
pub const SANDBOX_JWT_SECRET: &str = "gridcase-sandbox-secret-not-for-production";

/// A secret string: usable, but never shown by `Debug`/`Display`.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a configuration was refused. Says which key to fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config file {path}: {source}")]
    Parse {
        path: String,
        source: toml::de::Error,
    },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// The file format (every field optional; env vars fill or override).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// Address the gateway listens on.
    listen: Option<String>,
    /// Base URL the gateway is reached at, for absolute document download links.
    public_url: Option<String>,
    /// Settings shared by both upstreams unless a platform section overrides them.
    #[serde(default)]
    upstream: UpstreamFile,
    #[serde(default)]
    trading_grid: PlatformFile,
    #[serde(default)]
    core_case: PlatformFile,
    #[serde(default)]
    auth: AuthFile,
    #[serde(default)]
    limits: LimitsFile,
    /// Redis for the store (idempotency keys, outbox, webhook dedupe, activity) and the
    /// milestone stream; unset = in memory.
    redis_url: Option<Secret>,
    /// Prefix of every Redis key (several deployments can share one Redis).
    redis_namespace: Option<String>,
    /// Shared secret platforms sign webhooks with.
    webhook_secret: Option<Secret>,
    #[serde(default)]
    rules: RulesFile,
    #[serde(default)]
    http: HttpFile,
    #[serde(default)]
    cache: CacheFile,
    #[serde(default)]
    stream: StreamFile,
    #[serde(default)]
    rate_limit: RateLimitFile,
    /// Serve `/metrics` on this address instead of the public one.
    metrics_listen: Option<String>,
}

/// Requests per second and burst per caller (by role) and per webhook source.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitFile {
    enabled: Option<bool>,
    partner_per_second: Option<u32>,
    partner_burst: Option<u32>,
    agent_per_second: Option<u32>,
    agent_burst: Option<u32>,
    admin_per_second: Option<u32>,
    admin_burst: Option<u32>,
    webhook_per_second: Option<u32>,
    webhook_burst: Option<u32>,
}

/// GraphQL over SSE (`/graphql/stream`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamFile {
    /// Send a keep-alive comment after this many ms without an event.
    keepalive_ms: Option<u64>,
    /// Close a stream after this many ms; clients reconnect with `Last-Event-ID`.
    max_lifetime_ms: Option<u64>,
    /// Events held for a slow client before its stream is closed.
    buffer: Option<u64>,
}

/// The entity cache (`[cache]`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CacheFile {
    /// `off`, `memory` or `redis` (default: `redis` when `redis_url` is set, else `memory`).
    backend: Option<String>,
    /// Time to live per kind over the defaults, e.g. `"case=1m,list=30s,negative=5s"`.
    ttl: Option<String>,
    /// Most entries the memory backend holds.
    max_entries: Option<u64>,
    /// A cache operation taking longer is bypassed (answered from the platforms).
    timeout_ms: Option<u64>,
}

/// Which platform events start workflows by themselves (all on by default).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    /// Failed, rejected or acknowledgement-overdue transaction → exception case.
    transaction_exceptions: Option<bool>,
    /// New dispute discussion → dispute case.
    disputes: Option<bool>,
    /// New compliance question → compliance review with routed tasks.
    compliance_reviews: Option<bool>,
    /// Discussion tagged `escalate` → support escalation.
    escalation_tag: Option<bool>,
    /// Case status change → milestone published to the community.
    milestones: Option<bool>,
    /// Case resolved (and shared) → resolution posted to the community.
    resolutions: Option<bool>,
    /// Document posted in a discussion whose case awaits documents → linked as evidence.
    auto_link_documents: Option<bool>,
    /// Poll the platforms' events feeds every this many ms, as the fallback for
    /// lost webhooks (default 5000; 0 = off, rely on webhooks alone).
    poll_interval_ms: Option<u64>,
    /// Reconcile both platforms every this many ms (default 60000; 0 = off).
    reconcile_interval_ms: Option<u64>,
    /// How far back the reconciler looks, in ms (default 86400000, a day).
    reconcile_lookback_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamFile {
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    retries: Option<u32>,
    // Breaker, retry budget and bulkhead: see `ResilienceConfig`.
    max_retry_after_ms: Option<u64>,
    retry_budget_percent: Option<u64>,
    retry_budget_min_per_second: Option<u64>,
    breaker_failures: Option<u64>,
    breaker_open_ms: Option<u64>,
    max_concurrent: Option<u64>,
    queue_timeout_ms: Option<u64>,
}

/// The breaker, retry budget and bulkhead knobs of `[upstream]` or a platform
/// section, each with the suffix of its `GRIDCASE_*` variable.
macro_rules! resilience_knobs {
    ($section:expr) => {
        [
            ("MAX_RETRY_AFTER_MS", &mut $section.max_retry_after_ms),
            ("RETRY_BUDGET_PERCENT", &mut $section.retry_budget_percent),
            (
                "RETRY_BUDGET_MIN_PER_SECOND",
                &mut $section.retry_budget_min_per_second,
            ),
            ("BREAKER_FAILURES", &mut $section.breaker_failures),
            ("BREAKER_OPEN_MS", &mut $section.breaker_open_ms),
            ("MAX_CONCURRENT", &mut $section.max_concurrent),
            ("QUEUE_TIMEOUT_MS", &mut $section.queue_timeout_ms),
        ]
    };
}

/// The same knobs, read.
macro_rules! resilience_file {
    ($section:expr) => {
        ResilienceFile {
            max_retry_after_ms: $section.max_retry_after_ms,
            retry_budget_percent: $section.retry_budget_percent,
            retry_budget_min_per_second: $section.retry_budget_min_per_second,
            breaker_failures: $section.breaker_failures,
            breaker_open_ms: $section.breaker_open_ms,
            max_concurrent: $section.max_concurrent,
            queue_timeout_ms: $section.queue_timeout_ms,
        }
    };
}

#[derive(Debug, Default, Clone, Copy)]
struct ResilienceFile {
    max_retry_after_ms: Option<u64>,
    retry_budget_percent: Option<u64>,
    retry_budget_min_per_second: Option<u64>,
    breaker_failures: Option<u64>,
    breaker_open_ms: Option<u64>,
    max_concurrent: Option<u64>,
    queue_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlatformFile {
    url: Option<String>,
    token_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<Secret>,
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    retries: Option<u32>,
    // Breaker, retry budget and bulkhead: see `ResilienceConfig`.
    max_retry_after_ms: Option<u64>,
    retry_budget_percent: Option<u64>,
    retry_budget_min_per_second: Option<u64>,
    breaker_failures: Option<u64>,
    breaker_open_ms: Option<u64>,
    max_concurrent: Option<u64>,
    queue_timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    /// Exactly one key source: an HMAC secret, a public key (PEM text or a path
    /// to a PEM file), or an identity provider's JWKS URL.
    jwt_secret: Option<Secret>,
    jwt_public_key: Option<String>,
    jwks_url: Option<String>,
    /// How often the JWKS is fetched again, in ms.
    jwks_refresh_ms: Option<u64>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
    /// The accepted `alg`s (default: what the key source implies).
    jwt_algorithms: Option<Vec<String>>,
    /// Claim carrying the role (or roles, groups, scopes); default `role`.
    role_claim: Option<String>,
    /// Claim carrying a partner's id; default `partner_id`.
    partner_claim: Option<String>,
    /// Claim value → partner | agent | admin; default: the role names themselves.
    role_map: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_depth: Option<usize>,
    max_complexity: Option<usize>,
    max_page_size: Option<usize>,
    max_tokens: Option<usize>,
    max_nesting: Option<usize>,
    max_aliases: Option<usize>,
    max_root_fields: Option<usize>,
    max_directives: Option<usize>,
}

/// The HTTP surface's bounds and switches (every one has a default; see [`Http`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    max_body_bytes: Option<usize>,
    header_timeout_ms: Option<u64>,
    body_timeout_ms: Option<u64>,
    max_connections: Option<usize>,
    max_connections_per_ip: Option<usize>,
    shutdown_timeout_ms: Option<u64>,
    introspection: Option<bool>,
    graphiql: Option<bool>,
    cors_origins: Option<Vec<String>>,
    ws_init_timeout_ms: Option<u64>,
    ws_max_subscriptions: Option<usize>,
    ws_max_message_bytes: Option<usize>,
    trusted_documents: Option<std::path::PathBuf>,
    trusted_documents_for: Option<String>,
}

/// One upstream platform, fully resolved.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    pub url: Url,
    pub token_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    pub resilience: ResilienceConfig,
}

/// How the gateway protects itself and a platform from each other's failures.
#[derive(Debug, Clone)]
pub struct ResilienceConfig {
    /// Longest `Retry-After` waited out inside one request; longer ones fail the call.
    pub max_retry_after: Duration,
    /// Retries may add at most this percentage of the calls of the last 10 s…
    pub retry_budget_percent: u32,
    /// …plus this many per second, so a quiet gateway can still retry.
    pub retry_budget_min_per_second: u32,
    /// Failed attempts in a row that open the circuit.
    pub breaker_failures: u32,
    /// How long an open circuit refuses calls before one probe goes through.
    pub breaker_open: Duration,
    /// Calls in flight to the platform at most.
    pub max_concurrent: usize,
    /// Longest wait for a free slot before the call is refused.
    pub queue_timeout: Duration,
}

impl Default for ResilienceConfig {
    fn default() -> Self {
        Self {
            max_retry_after: Duration::from_secs(2),
            retry_budget_percent: 20,
            retry_budget_min_per_second: 10,
            breaker_failures: 10,
            breaker_open: Duration::from_secs(5),
            max_concurrent: 64,
            queue_timeout: Duration::from_secs(1),
        }
    }
}

/// How bearer tokens are verified.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub keys: KeySource,
    /// When set, tokens must carry this `iss`.
    pub issuer: Option<String>,
    /// When set, tokens must carry this `aud`.
    pub audience: Option<String>,
    /// The only `alg`s accepted; each fits the key source.
    pub algorithms: Vec<jsonwebtoken::Algorithm>,
    pub claims: crate::auth::ClaimMapping,
}

impl AuthConfig {
    /// HS256 tokens with the gateway's own claims, verified with `secret`.
    pub fn with_secret(secret: Secret) -> Self {
        Self {
            keys: KeySource::Secret(secret),
            issuer: None,
            audience: None,
            algorithms: vec![jsonwebtoken::Algorithm::HS256],
            claims: crate::auth::ClaimMapping::default(),
        }
    }
}

/// Where the keys that verify tokens come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A shared HMAC secret (sandbox, small deployments, `gridcase token`).
    Secret(Secret),
    /// One public key, PEM text (RSA, EC P-256/P-384 or Ed25519).
    PublicKey(String),
    /// An identity provider's key set, fetched at start and every `refresh`.
    Jwks { url: Url, refresh: Duration },
}

/// Default for `jwks_refresh_ms` (GRIDCASE_JWKS_REFRESH_MS).
pub const DEFAULT_JWKS_REFRESH: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest selection a query may nest.
    pub max_depth: usize,
    /// Most fields (weighted by list sizes) one query may ask for.
    pub max_complexity: usize,
    /// Largest `first:` a connection accepts (also the platforms' page limit).
    pub max_page_size: usize,
    /// Most lexical tokens one document may have (checked before parsing).
    pub max_tokens: usize,
    /// Deepest nesting of `{`, `[`, `(` in a document (checked before parsing).
    pub max_nesting: usize,
    /// Most aliased fields in one operation.
    pub max_aliases: usize,
    /// Most fields at an operation's root.
    pub max_root_fields: usize,
    /// Most directives on one field.
    pub max_directives: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 25_000,
            max_page_size: 100,
            max_tokens: 15_000,
            max_nesting: 64,
            max_aliases: 30,
            max_root_fields: 20,
            max_directives: 5,
        }
    }
}

/// Bounds and switches of the HTTP surface.
#[derive(Debug, Clone)]
pub struct Http {
    /// Largest request body on `/graphql` and the webhook endpoints (413 past it).
    pub max_body_bytes: usize,
    /// A connection must send a request's headers within this (then it is closed).
    pub header_timeout: Duration,
    /// A request's body must arrive within this (408 past it).
    pub body_timeout: Duration,
    /// Open connections at once, in total and per client address.
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// How long shutdown waits for in-flight work before exiting anyway.
    pub shutdown_timeout: Duration,
    /// Schema introspection and "did you mean" suggestions (sandbox: on).
    pub introspection: bool,
    /// GraphiQL for browsers at `GET /graphql` (sandbox: on).
    pub graphiql: bool,
    /// Origins allowed by CORS (empty: no cross-origin access).
    pub cors_origins: Vec<String>,
    /// A WebSocket must authenticate (`connection_init`) within this (4408).
    pub ws_init_timeout: Duration,
    /// Subscriptions one WebSocket may hold at once (4429 past it).
    pub ws_max_subscriptions: usize,
    /// Largest WebSocket message accepted.
    pub ws_max_message_bytes: usize,
    /// A persisted query manifest: the callers it binds run only its operations.
    pub trusted_documents: Option<std::path::PathBuf>,
    pub trusted_documents_for: TrustedFor,
}

/// Who a trusted documents manifest binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedFor {
    /// Partners (external portals); agents' and admins' tools may send any operation.
    Partners,
    Everyone,
}

impl TrustedFor {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "partners" => Ok(Self::Partners),
            "everyone" => Ok(Self::Everyone),
            _ => Err(format!("`{s}` is not one of partners, everyone")),
        }
    }
}

impl Http {
    /// The defaults; introspection and GraphiQL follow the mode.
    pub fn defaults(sandbox: bool) -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 10_000,
            max_connections_per_ip: 512,
            shutdown_timeout: Duration::from_secs(10),
            introspection: sandbox,
            graphiql: sandbox,
            cors_origins: Vec::new(),
            ws_init_timeout: Duration::from_secs(3),
            ws_max_subscriptions: 20,
            ws_max_message_bytes: 64 * 1024,
            trusted_documents: None,
            trusted_documents_for: TrustedFor::Partners,
        }
    }
}

/// Which automatic workflows run.
#[derive(Debug, Clone)]
pub struct Rules {
    pub transaction_exceptions: bool,
    pub disputes: bool,
    pub compliance_reviews: bool,
    pub escalation_tag: bool,
    pub milestones: bool,
    pub resolutions: bool,
    pub auto_link_documents: bool,
    pub poll_interval: Option<Duration>,
    /// How often the reconciler sweeps; `None` = never.
    pub reconcile_interval: Option<Duration>,
    /// How far back the reconciler looks.
    pub reconcile_lookback: Duration,
}

/// Defaults of the convergence settings.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 5_000;
pub const DEFAULT_RECONCILE_INTERVAL_MS: u64 = 60_000;
pub const DEFAULT_RECONCILE_LOOKBACK_MS: u64 = 24 * 3_600_000;

impl Default for Rules {
    fn default() -> Self {
        Self {
            transaction_exceptions: true,
            disputes: true,
            compliance_reviews: true,
            escalation_tag: true,
            milestones: true,
            resolutions: true,
            auto_link_documents: true,
            poll_interval: Some(Duration::from_millis(DEFAULT_POLL_INTERVAL_MS)),
            reconcile_interval: Some(Duration::from_millis(DEFAULT_RECONCILE_INTERVAL_MS)),
            reconcile_lookback: Duration::from_millis(DEFAULT_RECONCILE_LOOKBACK_MS),
        }
    }
}

/// One token bucket's size: refilled at `per_second`, holding at most `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    pub per_second: u32,
    pub burst: u32,
}

/// Rate limits: one bucket per partner (shared by its users), per staff subject,
/// and per webhook source.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    pub enabled: bool,
    pub partner: Bucket,
    pub agent: Bucket,
    pub admin: Bucket,
    pub webhook: Bucket,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        let b = |per_second, burst| Bucket { per_second, burst };
        Self {
            enabled: true,
            partner: b(20, 40),
            agent: b(50, 100),
            admin: b(50, 100),
            webhook: b(100, 200),
        }
    }
}

/// Everything `gridcase serve` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: Option<Url>,
    pub trading_grid: PlatformConfig,
    pub core_case: PlatformConfig,
    pub auth: AuthConfig,
    pub limits: Limits,
    pub redis_url: Option<Secret>,
    pub redis_namespace: String,
    /// Unset: webhooks are refused (401) and only polling can feed the rules.
    pub webhook_secret: Option<Secret>,
    pub rules: Rules,
    pub http: Http,
    pub stream: StreamConfig,
    pub rate_limit: RateLimitConfig,
    /// Where `/metrics` is served when not on the public listener.
    pub metrics_listen: Option<SocketAddr>,
    pub cache: crate::cache::CacheConfig,
}

/// GraphQL over SSE limits.
#[derive(Debug, Clone)]
pub struct StreamConfig {
    pub keepalive: Duration,
    pub max_lifetime: Duration,
    pub buffer: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(15),
            max_lifetime: Duration::from_secs(3600),
            buffer: 64,
        }
    }
}

/// The webhook secret sandbox mode gives its simulators.
pub const SANDBOX_WEBHOOK_SECRET: &str = "gridcase-sandbox-webhook-secret";

/// The development client credentials both simulators accept by default; sandbox
/// mode gives them to its simulators, and a platform URL without credentials is
/// refused rather than falling back to them.
pub const DEV_CLIENT_ID: &str = "gridcase-dev";
pub const DEV_CLIENT_SECRET: &str = "gridcase-dev-secret";

/// The raw settings before deciding sandbox or explicit mode.
#[derive(Debug, Default)]
pub struct Settings {
    file: FileConfig,
}

pub(crate) const JWT_SECRET_KEY: &str = "auth.jwt_secret (GRIDCASE_JWT_SECRET)";
pub(crate) const JWT_PUBLIC_KEY_KEY: &str = "auth.jwt_public_key (GRIDCASE_JWT_PUBLIC_KEY)";
pub(crate) const JWKS_URL_KEY: &str = "auth.jwks_url (GRIDCASE_JWKS_URL)";
pub(crate) const JWKS_REFRESH_KEY: &str = "auth.jwks_refresh_ms (GRIDCASE_JWKS_REFRESH_MS)";
pub(crate) const JWT_ALGORITHMS_KEY: &str = "auth.jwt_algorithms (GRIDCASE_JWT_ALGORITHMS)";
pub(crate) const ROLE_MAP_KEY: &str = "auth.role_map (GRIDCASE_JWT_ROLE_MAP)";

impl Settings {
    /// No upstream URL configured: `serve` runs the built-in simulators.
    pub fn is_sandbox(&self) -> bool {
        self.file.trading_grid.url.is_none() && self.file.core_case.url.is_none()
    }

    /// Point both platforms at simulators and verify tokens as the sandbox signs
    /// them (the sandbox secret, the gateway's own claims).
    pub fn into_sandbox(mut self, trading_grid: &str, core_case: &str) -> Self {
        self.file.trading_grid.url = Some(trading_grid.to_owned());
        self.file.core_case.url = Some(core_case.to_owned());
        // The built-in simulators accept their development credentials.
        for p in [&mut self.file.trading_grid, &mut self.file.core_case] {
            if p.client_id.is_none() && p.client_secret.is_none() {
                p.client_id = Some(DEV_CLIENT_ID.to_owned());
                p.client_secret = Some(Secret::new(DEV_CLIENT_SECRET));
            }
        }
        let a = &self.file.auth;
        if a.jwt_public_key.is_some()
            || a.jwks_url.is_some()
            || a.jwt_issuer.is_some()
            || a.jwt_audience.is_some()
            || a.jwt_algorithms.is_some()
            || a.role_claim.is_some()
            || a.partner_claim.is_some()
            || a.role_map.is_some()
        {
            tracing::warn!(
                "sandbox mode verifies tokens with the sandbox secret only; the auth settings apply once upstream URLs are set"
            );
        }
        self.file.auth = AuthFile {
            jwt_secret: Some(Secret::new(SANDBOX_JWT_SECRET)),
            ..AuthFile::default()
        };
        if self.file.webhook_secret.is_none() {
            self.file.webhook_secret = Some(Secret::new(SANDBOX_WEBHOOK_SECRET));
        }
        self
    }

    /// The JWT secret `gridcase token` signs with.
    pub fn jwt_secret(&self) -> Option<&Secret> {
        self.file.auth.jwt_secret.as_ref()
    }

    pub fn jwt_issuer(&self) -> Option<&str> {
        self.file.auth.jwt_issuer.as_deref()
    }

    pub fn jwt_audience(&self) -> Option<&str> {
        self.file.auth.jwt_audience.as_deref()
    }
}

mod load;
mod validate;

#[cfg(test)]
mod tests;
