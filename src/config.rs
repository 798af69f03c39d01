//! Configuration: an optional TOML file, then `GRIDCASE_*` environment variables
//! on top, validated into one typed [`Config`]. Unknown keys are errors; secrets
//! never print.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
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

/// The development client credentials both simulators accept by default; used when
/// a platform has a URL but no credentials configured (with a warning).
pub const DEV_CLIENT_ID: &str = "gridcase-dev";
pub const DEV_CLIENT_SECRET: &str = "gridcase-dev-secret";

/// The raw settings before deciding sandbox or explicit mode.
#[derive(Debug, Default)]
pub struct Settings {
    file: FileConfig,
}

/// Where the values come from: a file and an environment (a map, so tests need not
/// touch the process environment).
impl Settings {
    pub fn load(
        path: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut file = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: p.display().to_string(),
                    source,
                })?
            }
            None => FileConfig::default(),
        };
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let num = |k: &str| -> Result<Option<u64>, ConfigError> {
            get(k)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| invalid(k, format!("`{v}` is not a whole number")))
                })
                .transpose()
        };
        if let Some(v) = get("GRIDCASE_LISTEN") {
            file.listen = Some(v);
        }
        if let Some(v) = get("GRIDCASE_PUBLIC_URL") {
            file.public_url = Some(v);
        }
        for (prefix, section) in [
            ("GRIDCASE_TRADING_GRID", &mut file.trading_grid),
            ("GRIDCASE_CORE_CASE", &mut file.core_case),
        ] {
            if let Some(v) = get(&format!("{prefix}_URL")) {
                section.url = Some(v);
            }
            if let Some(v) = get(&format!("{prefix}_TOKEN_URL")) {
                section.token_url = Some(v);
            }
            if let Some(v) = get(&format!("{prefix}_CLIENT_ID")) {
                section.client_id = Some(v);
            }
            if let Some(v) = get(&format!("{prefix}_CLIENT_SECRET")) {
                section.client_secret = Some(Secret(v));
            }
            if let Some(v) = num(&format!("{prefix}_TIMEOUT_MS"))? {
                section.timeout_ms = Some(v);
            }
        }
        for (prefix, knobs) in [
            ("GRIDCASE_UPSTREAM", resilience_knobs!(file.upstream)),
            (
                "GRIDCASE_TRADING_GRID",
                resilience_knobs!(file.trading_grid),
            ),
            ("GRIDCASE_CORE_CASE", resilience_knobs!(file.core_case)),
        ] {
            for (suffix, slot) in knobs {
                if let Some(v) = num(&format!("{prefix}_{suffix}"))? {
                    *slot = Some(v);
                }
            }
        }
        for (prefix, connect, retries) in [
            (
                "GRIDCASE_UPSTREAM",
                &mut file.upstream.connect_timeout_ms,
                &mut file.upstream.retries,
            ),
            (
                "GRIDCASE_TRADING_GRID",
                &mut file.trading_grid.connect_timeout_ms,
                &mut file.trading_grid.retries,
            ),
            (
                "GRIDCASE_CORE_CASE",
                &mut file.core_case.connect_timeout_ms,
                &mut file.core_case.retries,
            ),
        ] {
            if let Some(v) = num(&format!("{prefix}_CONNECT_TIMEOUT_MS"))? {
                *connect = Some(v);
            }
            if let Some(v) = num(&format!("{prefix}_RETRIES"))? {
                *retries = Some(u32::try_from(v).unwrap_or(u32::MAX));
            }
        }
        if let Some(v) = num("GRIDCASE_UPSTREAM_TIMEOUT_MS")? {
            file.upstream.timeout_ms = Some(v);
        }
        if let Some(v) = num("GRIDCASE_UPSTREAM_RETRIES")? {
            file.upstream.retries = Some(u32::try_from(v).unwrap_or(u32::MAX));
        }
        if let Some(v) = get("GRIDCASE_JWT_SECRET") {
            file.auth.jwt_secret = Some(Secret(v));
        }
        if let Some(v) = get("GRIDCASE_JWT_ISSUER") {
            file.auth.jwt_issuer = Some(v);
        }
        if let Some(v) = get("GRIDCASE_JWT_AUDIENCE") {
            file.auth.jwt_audience = Some(v);
        }
        load_auth_env(&mut file.auth, &get, &num)?;
        if let Some(v) = get("GRIDCASE_REDIS_URL") {
            file.redis_url = Some(Secret(v));
        }
        if let Some(v) = get("GRIDCASE_REDIS_NAMESPACE") {
            file.redis_namespace = Some(v);
        }
        if let Some(v) = get("GRIDCASE_WEBHOOK_SECRET") {
            file.webhook_secret = Some(Secret(v));
        }
        if let Some(v) = num("GRIDCASE_POLL_INTERVAL_MS")? {
            file.rules.poll_interval_ms = Some(v);
        }
        load_limits_env(&mut file.limits, &get)?;
        load_http_env(&mut file.http, &get)?;
        // Rate limits and the metrics listener.
        let rl = &mut file.rate_limit;
        if let Some(v) = get("GRIDCASE_RATE_LIMIT_ENABLED") {
            rl.enabled = Some(parse_flag("GRIDCASE_RATE_LIMIT_ENABLED", &v)?);
        }
        for (role, per_second, burst) in [
            ("PARTNER", &mut rl.partner_per_second, &mut rl.partner_burst),
            ("AGENT", &mut rl.agent_per_second, &mut rl.agent_burst),
            ("ADMIN", &mut rl.admin_per_second, &mut rl.admin_burst),
            ("WEBHOOK", &mut rl.webhook_per_second, &mut rl.webhook_burst),
        ] {
            for (suffix, slot) in [("PER_SECOND", per_second), ("BURST", burst)] {
                let key = format!("GRIDCASE_RATE_LIMIT_{role}_{suffix}");
                if let Some(v) = num(&key)? {
                    *slot = Some(u32::try_from(v).map_err(|_| invalid(&key, "too large"))?);
                }
            }
        }
        if let Some(v) = get("GRIDCASE_METRICS_LISTEN") {
            file.metrics_listen = Some(v);
        }
        if let Some(v) = num("GRIDCASE_STREAM_KEEPALIVE_MS")? {
            file.stream.keepalive_ms = Some(v);
        }
        if let Some(v) = num("GRIDCASE_STREAM_MAX_LIFETIME_MS")? {
            file.stream.max_lifetime_ms = Some(v);
        }
        if let Some(v) = num("GRIDCASE_STREAM_BUFFER")? {
            file.stream.buffer = Some(v);
        }
        if let Some(v) = num("GRIDCASE_RECONCILE_INTERVAL_MS")? {
            file.rules.reconcile_interval_ms = Some(v);
        }
        if let Some(v) = num("GRIDCASE_RECONCILE_LOOKBACK_MS")? {
            file.rules.reconcile_lookback_ms = Some(v);
        }
        if let Some(v) = get("GRIDCASE_CACHE") {
            file.cache.backend = Some(v);
        }
        if let Some(v) = get("GRIDCASE_CACHE_TTL") {
            file.cache.ttl = Some(v);
        }
        if let Some(v) = num("GRIDCASE_CACHE_MAX_ENTRIES")? {
            file.cache.max_entries = Some(v);
        }
        if let Some(v) = num("GRIDCASE_CACHE_TIMEOUT_MS")? {
            file.cache.timeout_ms = Some(v);
        }
        Ok(Self { file })
    }

    /// No upstream URL configured: `serve` runs the built-in simulators.
    pub fn is_sandbox(&self) -> bool {
        self.file.trading_grid.url.is_none() && self.file.core_case.url.is_none()
    }

    /// Point both platforms at simulators and verify tokens as the sandbox signs
    /// them (the sandbox secret, the gateway's own claims).
    pub fn into_sandbox(mut self, trading_grid: &str, core_case: &str) -> Self {
        self.file.trading_grid.url = Some(trading_grid.to_owned());
        self.file.core_case.url = Some(core_case.to_owned());
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

    /// Validate into a [`Config`]. `sandbox` allows the development JWT secret.
    pub fn resolve(self, sandbox: bool) -> Result<Config, ConfigError> {
        let f = self.file;
        let listen: SocketAddr = f
            .listen
            .as_deref()
            .unwrap_or("127.0.0.1:4000")
            .parse()
            .map_err(|_| {
                invalid(
                    "listen (GRIDCASE_LISTEN)",
                    "expected HOST:PORT, e.g. 127.0.0.1:4000",
                )
            })?;
        let public_url = f
            .public_url
            .as_deref()
            .map(|u| parse_url("public_url (GRIDCASE_PUBLIC_URL)", u))
            .transpose()?;
        let trading_grid = platform(
            "trading_grid",
            "GRIDCASE_TRADING_GRID",
            "/oauth2/token",
            f.trading_grid,
            &f.upstream,
        )?;
        let core_case = platform(
            "core_case",
            "GRIDCASE_CORE_CASE",
            "/oauth/token",
            f.core_case,
            &f.upstream,
        )?;
        let auth = auth_config(f.auth, sandbox)?;
        let limits = resolve_limits(f.limits)?;
        let http = resolve_http(f.http, sandbox)?;
        if let Some(r) = &f.redis_url {
            let u = Url::parse(r.expose())
                .map_err(|_| invalid("redis_url (GRIDCASE_REDIS_URL)", "not a URL"))?;
            if !matches!(u.scheme(), "redis" | "rediss") {
                return Err(invalid(
                    "redis_url (GRIDCASE_REDIS_URL)",
                    "must be redis:// or rediss://",
                ));
            }
        }
        if f.webhook_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < 16)
        {
            return Err(invalid(
                "webhook_secret (GRIDCASE_WEBHOOK_SECRET)",
                "must be at least 16 characters",
            ));
        }
        let cache = {
            use crate::cache::{Backend, CacheConfig, Ttls};
            let c = f.cache;
            let d = CacheConfig::default();
            let backend = c
                .backend
                .map(|b| Backend::parse(b.trim()))
                .transpose()
                .map_err(|e| invalid("cache.backend (GRIDCASE_CACHE)", e))?;
            if backend == Some(Backend::Redis) && f.redis_url.is_none() {
                return Err(invalid(
                    "cache.backend (GRIDCASE_CACHE)",
                    "`redis` needs redis_url (GRIDCASE_REDIS_URL)",
                ));
            }
            CacheConfig {
                backend,
                ttls: c
                    .ttl
                    .map(|t| Ttls::parse(&t))
                    .transpose()
                    .map_err(|e| invalid("cache.ttl (GRIDCASE_CACHE_TTL)", e))?
                    .unwrap_or(d.ttls),
                max_entries: match c.max_entries {
                    Some(0) => {
                        return Err(invalid(
                            "cache.max_entries (GRIDCASE_CACHE_MAX_ENTRIES)",
                            "must be above zero",
                        ))
                    }
                    Some(n) => n,
                    None => d.max_entries,
                },
                timeout: match c.timeout_ms {
                    Some(0) => {
                        return Err(invalid(
                            "cache.timeout_ms (GRIDCASE_CACHE_TIMEOUT_MS)",
                            "must be above zero",
                        ))
                    }
                    Some(ms) => Duration::from_millis(ms),
                    None => d.timeout,
                },
            }
        };
        let r = f.rules;
        let on = |v: Option<bool>| v.unwrap_or(true);
        let rules = Rules {
            transaction_exceptions: on(r.transaction_exceptions),
            disputes: on(r.disputes),
            compliance_reviews: on(r.compliance_reviews),
            escalation_tag: on(r.escalation_tag),
            milestones: on(r.milestones),
            resolutions: on(r.resolutions),
            auto_link_documents: on(r.auto_link_documents),
            poll_interval: Some(r.poll_interval_ms.unwrap_or(DEFAULT_POLL_INTERVAL_MS))
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
            reconcile_interval: Some(
                r.reconcile_interval_ms
                    .unwrap_or(DEFAULT_RECONCILE_INTERVAL_MS),
            )
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis),
            reconcile_lookback: match r
                .reconcile_lookback_ms
                .unwrap_or(DEFAULT_RECONCILE_LOOKBACK_MS)
            {
                0 => {
                    return Err(invalid(
                        "rules.reconcile_lookback_ms (GRIDCASE_RECONCILE_LOOKBACK_MS)",
                        "must be more than 0",
                    ))
                }
                ms => Duration::from_millis(ms),
            },
        };
        let rate_limit = rate_limits(&f.rate_limit)?;
        let metrics_listen = f
            .metrics_listen
            .as_deref()
            .map(|v| {
                v.parse::<SocketAddr>().map_err(|_| {
                    invalid(
                        "metrics_listen (GRIDCASE_METRICS_LISTEN)",
                        "expected HOST:PORT, e.g. 127.0.0.1:9100",
                    )
                })
            })
            .transpose()?;
        let stream = {
            let d = StreamConfig::default();
            let positive = |key: &str, v: Option<u64>| match v {
                Some(0) => Err(invalid(key, "must be greater than 0")),
                v => Ok(v),
            };
            let ms = |v: Option<u64>, d: Duration| v.map_or(d, Duration::from_millis);
            StreamConfig {
                keepalive: ms(
                    positive(
                        "stream.keepalive_ms (GRIDCASE_STREAM_KEEPALIVE_MS)",
                        f.stream.keepalive_ms,
                    )?,
                    d.keepalive,
                ),
                max_lifetime: ms(
                    positive(
                        "stream.max_lifetime_ms (GRIDCASE_STREAM_MAX_LIFETIME_MS)",
                        f.stream.max_lifetime_ms,
                    )?,
                    d.max_lifetime,
                ),
                buffer: positive("stream.buffer (GRIDCASE_STREAM_BUFFER)", f.stream.buffer)?
                    .map_or(d.buffer, |b| {
                        usize::try_from(b.min(10_000)).unwrap_or(10_000)
                    }),
            }
        };
        Ok(Config {
            listen,
            public_url,
            trading_grid,
            core_case,
            auth,
            limits,
            redis_url: f.redis_url,
            redis_namespace: f.redis_namespace.unwrap_or_else(|| "gridcase".into()),
            webhook_secret: f.webhook_secret,
            rules,
            http,
            rate_limit,
            metrics_listen,
            stream,
            cache,
        })
    }
}

fn env_parse<T: std::str::FromStr>(
    get: &dyn Fn(&str) -> Option<String>,
    key: &str,
    what: &str,
) -> Result<Option<T>, ConfigError> {
    get(key)
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|_| invalid(key, format!("`{v}` is not {what}")))
        })
        .transpose()
}

/// `GRIDCASE_LIMITS__<KEY>` for every `[limits]` key.
fn load_limits_env(
    l: &mut LimitsFile,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let n = |k: &str| env_parse::<usize>(get, &format!("GRIDCASE_LIMITS__{k}"), "a whole number");
    for (key, slot) in [
        ("MAX_DEPTH", &mut l.max_depth),
        ("MAX_COMPLEXITY", &mut l.max_complexity),
        ("MAX_PAGE_SIZE", &mut l.max_page_size),
        ("MAX_TOKENS", &mut l.max_tokens),
        ("MAX_NESTING", &mut l.max_nesting),
        ("MAX_ALIASES", &mut l.max_aliases),
        ("MAX_ROOT_FIELDS", &mut l.max_root_fields),
        ("MAX_DIRECTIVES", &mut l.max_directives),
    ] {
        if let Some(v) = n(key)? {
            *slot = Some(v);
        }
    }
    Ok(())
}

/// `GRIDCASE_HTTP__<KEY>` for every `[http]` key, plus the short forms
/// `GRIDCASE_INTROSPECTION`, `GRIDCASE_GRAPHIQL` and `GRIDCASE_CORS_ORIGINS`.
fn load_http_env(
    h: &mut HttpFile,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let key = |k: &str| format!("GRIDCASE_HTTP__{k}");
    let n = |k: &str| env_parse::<usize>(get, &key(k), "a whole number");
    let ms = |k: &str| env_parse::<u64>(get, &key(k), "a whole number of milliseconds");
    let flag = |k: &str, short: &str| -> Result<Option<bool>, ConfigError> {
        Ok(
            env_parse::<bool>(get, short, "true or false")?.or(env_parse::<bool>(
                get,
                &key(k),
                "true or false",
            )?),
        )
    };
    for (k, slot) in [
        ("MAX_BODY_BYTES", &mut h.max_body_bytes),
        ("MAX_CONNECTIONS", &mut h.max_connections),
        ("MAX_CONNECTIONS_PER_IP", &mut h.max_connections_per_ip),
        ("WS_MAX_SUBSCRIPTIONS", &mut h.ws_max_subscriptions),
        ("WS_MAX_MESSAGE_BYTES", &mut h.ws_max_message_bytes),
    ] {
        if let Some(v) = n(k)? {
            *slot = Some(v);
        }
    }
    for (k, slot) in [
        ("HEADER_TIMEOUT_MS", &mut h.header_timeout_ms),
        ("BODY_TIMEOUT_MS", &mut h.body_timeout_ms),
        ("SHUTDOWN_TIMEOUT_MS", &mut h.shutdown_timeout_ms),
        ("WS_INIT_TIMEOUT_MS", &mut h.ws_init_timeout_ms),
    ] {
        if let Some(v) = ms(k)? {
            *slot = Some(v);
        }
    }
    if let Some(v) = flag("INTROSPECTION", "GRIDCASE_INTROSPECTION")? {
        h.introspection = Some(v);
    }
    if let Some(v) = flag("GRAPHIQL", "GRIDCASE_GRAPHIQL")? {
        h.graphiql = Some(v);
    }
    if let Some(v) = get("GRIDCASE_CORS_ORIGINS").or_else(|| get(&key("CORS_ORIGINS"))) {
        h.cors_origins = Some(
            v.split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
        );
    }
    if let Some(v) = get("GRIDCASE_TRUSTED_DOCUMENTS").or_else(|| get(&key("TRUSTED_DOCUMENTS"))) {
        h.trusted_documents = Some(v.into());
    }
    if let Some(v) =
        get("GRIDCASE_TRUSTED_DOCUMENTS_FOR").or_else(|| get(&key("TRUSTED_DOCUMENTS_FOR")))
    {
        h.trusted_documents_for = Some(v);
    }
    Ok(())
}

fn resolve_limits(f: LimitsFile) -> Result<Limits, ConfigError> {
    let d = Limits::default();
    let positive = |key: &str, v: Option<usize>, default: usize| -> Result<usize, ConfigError> {
        match v {
            Some(0) => Err(invalid(
                &format!("limits.{key} (GRIDCASE_LIMITS__{})", key.to_uppercase()),
                "must be at least 1",
            )),
            Some(v) => Ok(v),
            None => Ok(default),
        }
    };
    let max_page_size = positive("max_page_size", f.max_page_size, d.max_page_size)?;
    if max_page_size > 100 {
        return Err(invalid(
            "limits.max_page_size (GRIDCASE_LIMITS__MAX_PAGE_SIZE)",
            "the platforms serve at most 100 items a page",
        ));
    }
    Ok(Limits {
        max_depth: positive("max_depth", f.max_depth, d.max_depth)?,
        max_complexity: positive("max_complexity", f.max_complexity, d.max_complexity)?,
        max_page_size,
        max_tokens: positive("max_tokens", f.max_tokens, d.max_tokens)?,
        max_nesting: positive("max_nesting", f.max_nesting, d.max_nesting)?,
        max_aliases: positive("max_aliases", f.max_aliases, d.max_aliases)?,
        max_root_fields: positive("max_root_fields", f.max_root_fields, d.max_root_fields)?,
        max_directives: positive("max_directives", f.max_directives, d.max_directives)?,
    })
}

fn resolve_http(f: HttpFile, sandbox: bool) -> Result<Http, ConfigError> {
    let d = Http::defaults(sandbox);
    let key = |k: &str| format!("http.{k} (GRIDCASE_HTTP__{})", k.to_uppercase());
    let positive = |k: &str, v: Option<usize>, default: usize| match v {
        Some(0) => Err(invalid(&key(k), "must be at least 1")),
        Some(v) => Ok(v),
        None => Ok(default),
    };
    let ms = |k: &str, v: Option<u64>, default: Duration| match v {
        Some(0) => Err(invalid(&key(k), "must be at least 1 ms")),
        Some(v) => Ok(Duration::from_millis(v)),
        None => Ok(default),
    };
    let cors_origins = f.cors_origins.unwrap_or_default();
    for o in &cors_origins {
        let ok = o == "*"
            || Url::parse(o).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https") && u.path() == "/" && !o.ends_with('/')
            });
        if !ok {
            return Err(invalid(
                "http.cors_origins (GRIDCASE_CORS_ORIGINS)",
                format!("`{o}` is not an origin like https://portal.example.com"),
            ));
        }
    }
    Ok(Http {
        max_body_bytes: positive("max_body_bytes", f.max_body_bytes, d.max_body_bytes)?,
        header_timeout: ms("header_timeout_ms", f.header_timeout_ms, d.header_timeout)?,
        body_timeout: ms("body_timeout_ms", f.body_timeout_ms, d.body_timeout)?,
        max_connections: positive("max_connections", f.max_connections, d.max_connections)?,
        max_connections_per_ip: positive(
            "max_connections_per_ip",
            f.max_connections_per_ip,
            d.max_connections_per_ip,
        )?,
        shutdown_timeout: ms(
            "shutdown_timeout_ms",
            f.shutdown_timeout_ms,
            d.shutdown_timeout,
        )?,
        introspection: f.introspection.unwrap_or(d.introspection),
        graphiql: f.graphiql.unwrap_or(d.graphiql),
        cors_origins,
        ws_init_timeout: ms(
            "ws_init_timeout_ms",
            f.ws_init_timeout_ms,
            d.ws_init_timeout,
        )?,
        ws_max_subscriptions: positive(
            "ws_max_subscriptions",
            f.ws_max_subscriptions,
            d.ws_max_subscriptions,
        )?,
        ws_max_message_bytes: positive(
            "ws_max_message_bytes",
            f.ws_max_message_bytes,
            d.ws_max_message_bytes,
        )?,
        trusted_documents: f.trusted_documents,
        trusted_documents_for: match f.trusted_documents_for {
            Some(v) => TrustedFor::parse(v.trim()).map_err(|e| {
                invalid(
                    "http.trusted_documents_for (GRIDCASE_TRUSTED_DOCUMENTS_FOR)",
                    e,
                )
            })?,
            None => d.trusted_documents_for,
        },
    })
}

const JWT_SECRET_KEY: &str = "auth.jwt_secret (GRIDCASE_JWT_SECRET)";
const JWT_PUBLIC_KEY_KEY: &str = "auth.jwt_public_key (GRIDCASE_JWT_PUBLIC_KEY)";
const JWKS_URL_KEY: &str = "auth.jwks_url (GRIDCASE_JWKS_URL)";
const JWKS_REFRESH_KEY: &str = "auth.jwks_refresh_ms (GRIDCASE_JWKS_REFRESH_MS)";
const JWT_ALGORITHMS_KEY: &str = "auth.jwt_algorithms (GRIDCASE_JWT_ALGORITHMS)";
const ROLE_MAP_KEY: &str = "auth.role_map (GRIDCASE_JWT_ROLE_MAP)";

/// The token settings beyond secret, issuer and audience, from the environment.
fn load_auth_env(
    auth: &mut AuthFile,
    get: &dyn Fn(&str) -> Option<String>,
    num: &dyn Fn(&str) -> Result<Option<u64>, ConfigError>,
) -> Result<(), ConfigError> {
    if let Some(v) = get("GRIDCASE_JWT_PUBLIC_KEY") {
        auth.jwt_public_key = Some(v);
    }
    if let Some(v) = get("GRIDCASE_JWKS_URL") {
        auth.jwks_url = Some(v);
    }
    if let Some(v) = num("GRIDCASE_JWKS_REFRESH_MS")? {
        auth.jwks_refresh_ms = Some(v);
    }
    if let Some(v) = get("GRIDCASE_JWT_ALGORITHMS") {
        auth.jwt_algorithms = Some(
            v.split([',', ' '])
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect(),
        );
    }
    if let Some(v) = get("GRIDCASE_JWT_ROLE_CLAIM") {
        auth.role_claim = Some(v.trim().to_owned());
    }
    if let Some(v) = get("GRIDCASE_JWT_PARTNER_CLAIM") {
        auth.partner_claim = Some(v.trim().to_owned());
    }
    if let Some(v) = get("GRIDCASE_JWT_ROLE_MAP") {
        let mut map = std::collections::BTreeMap::new();
        for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (value, role) = pair.rsplit_once('=').ok_or_else(|| {
                invalid(
                    ROLE_MAP_KEY,
                    format!("`{pair}`: expected CLAIM_VALUE=ROLE, e.g. gridcase.agent=agent"),
                )
            })?;
            map.insert(value.trim().to_owned(), role.trim().to_owned());
        }
        auth.role_map = Some(map);
    }
    Ok(())
}

/// Validate the token settings: exactly one key source, algorithms that fit it,
/// production-grade secrets outside sandbox mode, a sound claim mapping.
fn auth_config(a: AuthFile, sandbox: bool) -> Result<AuthConfig, ConfigError> {
    use crate::auth::{KeyKind, Role, VerificationKey};
    use jsonwebtoken::Algorithm;

    let sources = [
        a.jwt_secret.is_some(),
        a.jwt_public_key.is_some(),
        a.jwks_url.is_some(),
    ];
    let one_of = "GRIDCASE_JWT_SECRET, GRIDCASE_JWT_PUBLIC_KEY or GRIDCASE_JWKS_URL";
    match sources.iter().filter(|s| **s).count() {
        0 => {
            return Err(invalid(
                "auth",
                format!("one of {one_of} is required when upstream URLs are configured"),
            ))
        }
        1 => {}
        _ => return Err(invalid("auth", format!("set only one of {one_of}"))),
    }
    // The key source and the kind of key it yields (a key set's kinds vary by key).
    let (keys, kind) = if let Some(secret) = a.jwt_secret {
        if !sandbox && secret.expose() == SANDBOX_JWT_SECRET {
            return Err(invalid(
                JWT_SECRET_KEY,
                "the sandbox development secret is refused with real upstreams; set your own",
            ));
        }
        if secret.expose().len() < 32 {
            return Err(invalid(JWT_SECRET_KEY, "must be at least 32 characters"));
        }
        (KeySource::Secret(secret), Some(KeyKind::Hmac))
    } else if let Some(value) = a.jwt_public_key {
        // PEM text itself, or the path of a PEM file.
        let pem = if value.trim_start().starts_with("-----BEGIN") {
            value
        } else {
            std::fs::read_to_string(value.trim()).map_err(|e| {
                invalid(
                    JWT_PUBLIC_KEY_KEY,
                    format!(
                        "neither PEM text nor a readable file `{}`: {e}",
                        value.trim()
                    ),
                )
            })?
        };
        let key =
            VerificationKey::from_public_pem(&pem).map_err(|m| invalid(JWT_PUBLIC_KEY_KEY, m))?;
        (KeySource::PublicKey(pem), Some(key.kind))
    } else {
        let raw = a.jwks_url.unwrap_or_default();
        let url = parse_url(JWKS_URL_KEY, &raw)?;
        let loopback = matches!(
            url.host(),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback()
        ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
            || url.host_str() == Some("localhost");
        if url.scheme() != "https" && !loopback {
            return Err(invalid(
                JWKS_URL_KEY,
                "must be https:// (http:// only on a loopback address)",
            ));
        }
        let refresh = match a.jwks_refresh_ms {
            None => DEFAULT_JWKS_REFRESH,
            Some(ms) if ms >= 1_000 => Duration::from_millis(ms),
            Some(_) => return Err(invalid(JWKS_REFRESH_KEY, "at least 1000")),
        };
        (KeySource::Jwks { url, refresh }, None)
    };
    let algorithms: Vec<Algorithm> = match a.jwt_algorithms {
        None => match kind {
            Some(k) => vec![k.default_algorithm()],
            None => vec![Algorithm::RS256, Algorithm::ES256],
        },
        Some(names) => names
            .iter()
            .map(|n| {
                n.trim().parse::<Algorithm>().map_err(|_| {
                    invalid(
                        JWT_ALGORITHMS_KEY,
                        format!("unknown algorithm `{n}` (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384, EdDSA)"),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    if algorithms.is_empty() {
        return Err(invalid(JWT_ALGORITHMS_KEY, "name at least one algorithm"));
    }
    for alg in &algorithms {
        let fits = match kind {
            Some(k) => k.verifies(*alg),
            // A key set holds public keys only: HMAC never comes from one.
            None => !KeyKind::Hmac.verifies(*alg),
        };
        if !fits {
            let what = kind.map_or("a JWKS (public keys only)", KeyKind::name);
            return Err(invalid(
                JWT_ALGORITHMS_KEY,
                format!("{alg:?} cannot be verified with {what}"),
            ));
        }
    }
    let mut claims = crate::auth::ClaimMapping::default();
    for (key, name, target) in [
        (
            "auth.role_claim (GRIDCASE_JWT_ROLE_CLAIM)",
            a.role_claim,
            &mut claims.role_claim,
        ),
        (
            "auth.partner_claim (GRIDCASE_JWT_PARTNER_CLAIM)",
            a.partner_claim,
            &mut claims.partner_claim,
        ),
    ] {
        match name {
            Some(n) if n.trim().is_empty() => return Err(invalid(key, "must not be empty")),
            Some(n) => *target = n.trim().to_owned(),
            None => {}
        }
    }
    if let Some(map) = a.role_map {
        if map.is_empty() {
            return Err(invalid(
                ROLE_MAP_KEY,
                "map at least one claim value to a role",
            ));
        }
        claims.role_values = map
            .into_iter()
            .map(|(value, role)| {
                let role: Role = role
                    .parse()
                    .map_err(|m: String| invalid(ROLE_MAP_KEY, format!("`{value}`: {m}")))?;
                Ok((value, role))
            })
            .collect::<Result<_, ConfigError>>()?;
    }
    Ok(AuthConfig {
        keys,
        issuer: a.jwt_issuer,
        audience: a.jwt_audience,
        algorithms,
        claims,
    })
}

fn parse_flag(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" | "1" | "on" => Ok(true),
        "false" | "0" | "off" => Ok(false),
        other => Err(invalid(key, format!("`{other}` is not true or false"))),
    }
}

fn rate_limits(f: &RateLimitFile) -> Result<RateLimitConfig, ConfigError> {
    let d = RateLimitConfig::default();
    let bucket = |role: &str, default: Bucket, per_second: Option<u32>, burst: Option<u32>| {
        let b = Bucket {
            per_second: per_second.unwrap_or(default.per_second),
            burst: burst.unwrap_or(default.burst),
        };
        for (name, v) in [("per_second", b.per_second), ("burst", b.burst)] {
            if v == 0 {
                let env = format!(
                    "GRIDCASE_RATE_LIMIT_{}_{}",
                    role.to_uppercase(),
                    name.to_uppercase()
                );
                return Err(invalid(
                    &format!("rate_limit.{role}_{name} ({env})"),
                    "must be at least 1 (switch limiting off with GRIDCASE_RATE_LIMIT_ENABLED=false)",
                ));
            }
        }
        Ok(b)
    };
    Ok(RateLimitConfig {
        enabled: f.enabled.unwrap_or(d.enabled),
        partner: bucket("partner", d.partner, f.partner_per_second, f.partner_burst)?,
        agent: bucket("agent", d.agent, f.agent_per_second, f.agent_burst)?,
        admin: bucket("admin", d.admin, f.admin_per_second, f.admin_burst)?,
        webhook: bucket("webhook", d.webhook, f.webhook_per_second, f.webhook_burst)?,
    })
}

fn parse_url(key: &str, value: &str) -> Result<Url, ConfigError> {
    let url =
        Url::parse(value).map_err(|e| invalid(key, format!("`{value}` is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(key, "must be an http:// or https:// URL"));
    }
    Ok(url)
}

fn platform(
    section: &str,
    env: &str,
    token_path: &str,
    p: PlatformFile,
    shared: &UpstreamFile,
) -> Result<PlatformConfig, ConfigError> {
    let url_key = format!("{section}.url ({env}_URL)");
    let url = p
        .url
        .as_deref()
        .ok_or_else(|| {
            invalid(
                &url_key,
                "required unless both platform URLs are unset (sandbox mode)",
            )
        })
        .and_then(|u| parse_url(&url_key, u))?;
    let token_url = match p.token_url.as_deref() {
        Some(t) => parse_url(&format!("{section}.token_url ({env}_TOKEN_URL)"), t)?,
        None => {
            let mut t = url.clone();
            let base = t.path().trim_end_matches('/').to_owned();
            t.set_path(&format!("{base}{token_path}"));
            t
        }
    };
    let (client_id, client_secret) = match (p.client_id, p.client_secret) {
        (Some(id), Some(secret)) => (id, secret),
        (None, None) => {
            tracing::warn!(
                platform = section,
                "no client credentials configured; using the simulators' development credentials"
            );
            (DEV_CLIENT_ID.to_owned(), Secret::new(DEV_CLIENT_SECRET))
        }
        _ => {
            return Err(invalid(
                &format!("{section}.client_id/client_secret"),
                "set both or neither",
            ))
        }
    };
    let ms = |key: &str, own: Option<u64>, shared: Option<u64>, default: u64| match own
        .or(shared)
        .unwrap_or(default)
    {
        0 => Err(invalid(&format!("{section}.{key}"), "must be more than 0")),
        v => Ok(Duration::from_millis(v)),
    };
    let retries = p.retries.or(shared.retries).unwrap_or(2);
    if retries > 10 {
        return Err(invalid(
            &format!("{section}.retries (GRIDCASE_UPSTREAM_RETRIES)"),
            "at most 10",
        ));
    }
    Ok(PlatformConfig {
        url,
        token_url,
        client_id,
        client_secret,
        timeout: ms("timeout_ms", p.timeout_ms, shared.timeout_ms, 10_000)?,
        connect_timeout: ms(
            "connect_timeout_ms",
            p.connect_timeout_ms,
            shared.connect_timeout_ms,
            2_000,
        )?,
        retries,
        resilience: resilience(section, env, resilience_file!(p), resilience_file!(shared))?,
    })
}

fn resilience(
    section: &str,
    env: &str,
    own: ResilienceFile,
    shared: ResilienceFile,
) -> Result<ResilienceConfig, ConfigError> {
    let d = ResilienceConfig::default();
    // The platform's own value, else the shared one; `min..=max` enforced by name.
    let pick = |key: &str,
                env_suffix: &str,
                own: Option<u64>,
                shared: Option<u64>,
                default: u64,
                (min, max): (u64, u64)| {
        let v = own.or(shared).unwrap_or(default);
        if !(min..=max).contains(&v) {
            return Err(invalid(
                &format!("{section}.{key} ({env}_{env_suffix} or GRIDCASE_UPSTREAM_{env_suffix})"),
                format!("must be between {min} and {max}"),
            ));
        }
        Ok(v)
    };
    let ms = |d: Duration| d.as_millis() as u64;
    let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
    Ok(ResilienceConfig {
        max_retry_after: Duration::from_millis(pick(
            "max_retry_after_ms",
            "MAX_RETRY_AFTER_MS",
            own.max_retry_after_ms,
            shared.max_retry_after_ms,
            ms(d.max_retry_after),
            (0, 60_000),
        )?),
        retry_budget_percent: narrow(pick(
            "retry_budget_percent",
            "RETRY_BUDGET_PERCENT",
            own.retry_budget_percent,
            shared.retry_budget_percent,
            d.retry_budget_percent.into(),
            (0, 100),
        )?),
        retry_budget_min_per_second: narrow(pick(
            "retry_budget_min_per_second",
            "RETRY_BUDGET_MIN_PER_SECOND",
            own.retry_budget_min_per_second,
            shared.retry_budget_min_per_second,
            d.retry_budget_min_per_second.into(),
            (0, 10_000),
        )?),
        breaker_failures: narrow(pick(
            "breaker_failures",
            "BREAKER_FAILURES",
            own.breaker_failures,
            shared.breaker_failures,
            d.breaker_failures.into(),
            (1, 1_000_000),
        )?),
        breaker_open: Duration::from_millis(pick(
            "breaker_open_ms",
            "BREAKER_OPEN_MS",
            own.breaker_open_ms,
            shared.breaker_open_ms,
            ms(d.breaker_open),
            (1, 3_600_000),
        )?),
        max_concurrent: pick(
            "max_concurrent",
            "MAX_CONCURRENT",
            own.max_concurrent,
            shared.max_concurrent,
            d.max_concurrent as u64,
            (1, 100_000),
        )? as usize,
        queue_timeout: Duration::from_millis(pick(
            "queue_timeout_ms",
            "QUEUE_TIMEOUT_MS",
            own.queue_timeout_ms,
            shared.queue_timeout_ms,
            ms(d.queue_timeout),
            (0, 60_000),
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const SECRET: &str = "an-operator-chosen-secret-of-some-length";

    #[test]
    fn no_upstream_urls_means_sandbox() {
        let s = Settings::load(None, &env(&[])).unwrap();
        assert!(s.is_sandbox());
    }

    #[test]
    fn explicit_mode_refuses_the_sandbox_secret() {
        let s = Settings::load(
            None,
            &env(&[
                ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                ("GRIDCASE_JWT_SECRET", SANDBOX_JWT_SECRET),
            ]),
        )
        .unwrap();
        let err = s.resolve(false).unwrap_err().to_string();
        assert!(err.contains("GRIDCASE_JWT_SECRET"), "{err}");
    }

    #[test]
    fn only_one_upstream_url_is_an_error_naming_the_missing_one() {
        let s = Settings::load(
            None,
            &env(&[
                ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                ("GRIDCASE_JWT_SECRET", SECRET),
            ]),
        )
        .unwrap();
        let err = s.resolve(false).unwrap_err().to_string();
        assert!(err.contains("GRIDCASE_CORE_CASE_URL"), "{err}");
    }

    #[test]
    fn env_overrides_file_and_token_url_defaults_to_the_platform_path() {
        let dir = std::env::temp_dir().join(format!("gridcase-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gridcase.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:5000\"\n[trading_grid]\nurl = \"http://file.example/tg\"\n[core_case]\nurl = \"http://cc.example\"\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            &env(&[
                ("GRIDCASE_LISTEN", "127.0.0.1:6000"),
                ("GRIDCASE_JWT_SECRET", SECRET),
            ]),
        )
        .unwrap();
        let c = s.resolve(false).unwrap();
        assert_eq!(c.listen.port(), 6000);
        assert_eq!(
            c.trading_grid.token_url.as_str(),
            "http://file.example/tg/oauth2/token"
        );
        assert_eq!(
            c.core_case.token_url.as_str(),
            "http://cc.example/oauth/token"
        );
        assert_eq!(c.trading_grid.client_id, DEV_CLIENT_ID);
        assert!(!format!("{c:?}").contains(SECRET), "secret printed");
    }

    #[test]
    fn unknown_keys_in_the_file_are_rejected() {
        let dir = std::env::temp_dir().join(format!("gridcase-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gridcase.toml");
        std::fs::write(&path, "[trading_grid]\nurll = \"x\"\n").unwrap();
        let err = Settings::load(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("urll"), "{err}");
    }

    #[test]
    fn zero_timeouts_and_runaway_retries_are_refused() {
        for (k, v) in [
            ("GRIDCASE_UPSTREAM_TIMEOUT_MS", "0"),
            ("GRIDCASE_UPSTREAM_RETRIES", "99"),
        ] {
            let s = Settings::load(
                None,
                &env(&[
                    ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                    ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                    ("GRIDCASE_JWT_SECRET", SECRET),
                    (k, v),
                ]),
            )
            .unwrap();
            assert!(s.resolve(false).is_err(), "{k}={v} accepted");
        }
    }

    #[test]
    fn the_feed_poller_and_reconciler_run_by_default_and_zero_switches_them_off() {
        let load = |extra: &[(&str, &str)]| {
            let mut vars = vec![
                ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                ("GRIDCASE_JWT_SECRET", SECRET),
            ];
            vars.extend_from_slice(extra);
            Settings::load(None, &env(&vars)).unwrap().resolve(false)
        };
        let c = load(&[]).unwrap();
        assert_eq!(c.rules.poll_interval, Some(Duration::from_secs(5)));
        assert_eq!(c.rules.reconcile_interval, Some(Duration::from_secs(60)));
        assert_eq!(c.rules.reconcile_lookback, Duration::from_secs(24 * 3600));
        let c = load(&[
            ("GRIDCASE_POLL_INTERVAL_MS", "0"),
            ("GRIDCASE_RECONCILE_INTERVAL_MS", "0"),
            ("GRIDCASE_RECONCILE_LOOKBACK_MS", "60000"),
        ])
        .unwrap();
        assert_eq!(c.rules.poll_interval, None);
        assert_eq!(c.rules.reconcile_interval, None);
        assert_eq!(c.rules.reconcile_lookback, Duration::from_secs(60));
        let e = load(&[("GRIDCASE_RECONCILE_LOOKBACK_MS", "0")]).unwrap_err();
        assert!(e.to_string().contains("reconcile_lookback_ms"), "{e}");
    }

    #[test]
    fn rules_default_on_and_switch_off_in_the_file() {
        let dir = std::env::temp_dir().join(format!("gridcase-cfg3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gridcase.toml");
        std::fs::write(
            &path,
            "webhook_secret = \"a-webhook-secret-of-length\"\n[rules]\ndisputes = false\npoll_interval_ms = 500\n",
        )
        .unwrap();
        let s = Settings::load(
            Some(&path),
            &env(&[
                ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                ("GRIDCASE_JWT_SECRET", SECRET),
            ]),
        )
        .unwrap();
        let c = s.resolve(false).unwrap();
        assert!(!c.rules.disputes);
        assert!(c.rules.transaction_exceptions && c.rules.milestones);
        assert_eq!(c.rules.poll_interval, Some(Duration::from_millis(500)));
        assert!(c.webhook_secret.is_some());
        assert!(c.redis_url.is_none());
    }

    fn explicit(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut pairs = vec![
            ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
            ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
        ];
        pairs.extend_from_slice(extra);
        Settings::load(None, &env(&pairs))?.resolve(false)
    }

    const RSA_PUB: &str = include_str!("../tests/fixtures/jwt/rsa-a.pub.pem");

    #[test]
    fn exactly_one_token_key_source_is_required() {
        let none = explicit(&[]).unwrap_err().to_string();
        assert!(none.contains("GRIDCASE_JWKS_URL"), "{none}");
        let two = explicit(&[
            ("GRIDCASE_JWT_SECRET", SECRET),
            ("GRIDCASE_JWKS_URL", "https://idp.example/keys"),
        ])
        .unwrap_err()
        .to_string();
        assert!(two.contains("only one"), "{two}");
        let jwks = explicit(&[("GRIDCASE_JWKS_URL", "https://idp.example/keys")]).unwrap();
        assert!(
            matches!(jwks.auth.keys, KeySource::Jwks { refresh, .. } if refresh == DEFAULT_JWKS_REFRESH)
        );
        assert_eq!(
            jwks.auth.algorithms,
            vec![
                jsonwebtoken::Algorithm::RS256,
                jsonwebtoken::Algorithm::ES256
            ]
        );
    }

    #[test]
    fn a_public_key_is_read_from_pem_text_or_a_file_and_sets_the_default_algorithm() {
        let text = explicit(&[("GRIDCASE_JWT_PUBLIC_KEY", RSA_PUB)]).unwrap();
        assert_eq!(text.auth.algorithms, vec![jsonwebtoken::Algorithm::RS256]);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/jwt/ec-p256.pub.pem"
        );
        let file = explicit(&[("GRIDCASE_JWT_PUBLIC_KEY", path)]).unwrap();
        assert_eq!(file.auth.algorithms, vec![jsonwebtoken::Algorithm::ES256]);
        let missing = explicit(&[("GRIDCASE_JWT_PUBLIC_KEY", "/nonexistent/key.pem")])
            .unwrap_err()
            .to_string();
        assert!(missing.contains("GRIDCASE_JWT_PUBLIC_KEY"), "{missing}");
    }

    #[test]
    fn algorithms_that_do_not_fit_the_key_source_are_refused() {
        for extra in [
            [
                ("GRIDCASE_JWT_PUBLIC_KEY", RSA_PUB),
                ("GRIDCASE_JWT_ALGORITHMS", "RS256,HS256"),
            ],
            [
                ("GRIDCASE_JWT_PUBLIC_KEY", RSA_PUB),
                ("GRIDCASE_JWT_ALGORITHMS", "ES256"),
            ],
            [
                ("GRIDCASE_JWKS_URL", "https://idp.example/k"),
                ("GRIDCASE_JWT_ALGORITHMS", "HS256"),
            ],
            [
                ("GRIDCASE_JWT_SECRET", SECRET),
                ("GRIDCASE_JWT_ALGORITHMS", "RS256"),
            ],
            [
                ("GRIDCASE_JWT_SECRET", SECRET),
                ("GRIDCASE_JWT_ALGORITHMS", "none"),
            ],
        ] {
            let err = explicit(&extra).unwrap_err().to_string();
            assert!(err.contains("GRIDCASE_JWT_ALGORITHMS"), "{extra:?}: {err}");
        }
        let pinned = explicit(&[
            ("GRIDCASE_JWKS_URL", "https://idp.example/k"),
            ("GRIDCASE_JWT_ALGORITHMS", "PS256, ES384"),
        ])
        .unwrap();
        assert_eq!(
            pinned.auth.algorithms,
            vec![
                jsonwebtoken::Algorithm::PS256,
                jsonwebtoken::Algorithm::ES384
            ]
        );
    }

    #[test]
    fn a_jwks_url_must_be_https_unless_on_loopback() {
        let err = explicit(&[("GRIDCASE_JWKS_URL", "http://idp.example/keys")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GRIDCASE_JWKS_URL"), "{err}");
        assert!(explicit(&[("GRIDCASE_JWKS_URL", "http://127.0.0.1:8080/keys")]).is_ok());
        let fast = explicit(&[
            ("GRIDCASE_JWKS_URL", "https://idp.example/keys"),
            ("GRIDCASE_JWKS_REFRESH_MS", "10"),
        ])
        .unwrap_err()
        .to_string();
        assert!(fast.contains("GRIDCASE_JWKS_REFRESH_MS"), "{fast}");
    }

    #[test]
    fn the_claim_mapping_comes_from_settings_and_unknown_roles_are_refused() {
        let c = explicit(&[
            ("GRIDCASE_JWT_SECRET", SECRET),
            ("GRIDCASE_JWT_ROLE_CLAIM", "scp"),
            ("GRIDCASE_JWT_PARTNER_CLAIM", "ext.partner"),
            (
                "GRIDCASE_JWT_ROLE_MAP",
                "gridcase.agent=agent, gridcase.partner=partner",
            ),
        ])
        .unwrap();
        assert_eq!(c.auth.claims.role_claim, "scp");
        assert_eq!(c.auth.claims.partner_claim, "ext.partner");
        assert!(c
            .auth
            .claims
            .role_values
            .contains(&("gridcase.agent".into(), crate::auth::Role::Agent)));
        for map in ["gridcase.agent=root", "no-equals-sign"] {
            let err = explicit(&[
                ("GRIDCASE_JWT_SECRET", SECRET),
                ("GRIDCASE_JWT_ROLE_MAP", map),
            ])
            .unwrap_err()
            .to_string();
            assert!(err.contains("GRIDCASE_JWT_ROLE_MAP"), "{map}: {err}");
        }
    }

    #[test]
    fn the_token_settings_read_from_the_file_and_short_secrets_stay_refused() {
        let dir = std::env::temp_dir().join(format!("gridcase-cfg4-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gridcase.toml");
        std::fs::write(
            &path,
            "[auth]\njwks_url = \"https://idp.example/keys\"\njwks_refresh_ms = 60000\njwt_algorithms = [\"PS256\"]\nrole_claim = \"groups\"\nrole_map = { \"Gridcase Admins\" = \"admin\" }\n",
        )
        .unwrap();
        let c = Settings::load(
            Some(&path),
            &env(&[
                ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
            ]),
        )
        .unwrap()
        .resolve(false)
        .unwrap();
        assert!(
            matches!(c.auth.keys, KeySource::Jwks { refresh, .. } if refresh == Duration::from_secs(60))
        );
        assert_eq!(c.auth.algorithms, vec![jsonwebtoken::Algorithm::PS256]);
        assert_eq!(
            c.auth.claims.role_values,
            vec![("Gridcase Admins".to_owned(), crate::auth::Role::Admin)]
        );
        let short = explicit(&[("GRIDCASE_JWT_SECRET", "too-short")])
            .unwrap_err()
            .to_string();
        assert!(short.contains("GRIDCASE_JWT_SECRET"), "{short}");
    }

    #[test]
    fn sandbox_mode_verifies_with_the_sandbox_secret_whatever_else_is_set() {
        let s = Settings::load(
            None,
            &env(&[
                ("GRIDCASE_JWKS_URL", "https://idp.example/keys"),
                ("GRIDCASE_JWT_ISSUER", "https://idp.example"),
            ]),
        )
        .unwrap();
        let c = s
            .into_sandbox("http://127.0.0.1:1", "http://127.0.0.1:2")
            .resolve(true)
            .unwrap();
        assert!(matches!(&c.auth.keys, KeySource::Secret(s) if s.expose() == SANDBOX_JWT_SECRET));
        assert_eq!(c.auth.issuer, None);
    }

    #[test]
    fn rate_limits_come_from_env_and_a_zero_rate_is_refused_by_name() {
        let base = [
            ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
            ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
            ("GRIDCASE_JWT_SECRET", SECRET),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let pairs: Vec<_> = base.iter().chain(extra).copied().collect();
            Settings::load(None, &env(&pairs)).and_then(|s| s.resolve(false))
        };
        let c = with(&[
            ("GRIDCASE_RATE_LIMIT_PARTNER_PER_SECOND", "3"),
            ("GRIDCASE_RATE_LIMIT_ENABLED", "false"),
        ])
        .unwrap();
        assert_eq!(c.rate_limit.partner.per_second, 3);
        assert_eq!(c.rate_limit.partner.burst, 40);
        assert!(!c.rate_limit.enabled);
        let err = with(&[("GRIDCASE_RATE_LIMIT_AGENT_BURST", "0")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GRIDCASE_RATE_LIMIT_AGENT_BURST"), "{err}");
        let err = with(&[("GRIDCASE_RATE_LIMIT_ENABLED", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("GRIDCASE_RATE_LIMIT_ENABLED"), "{err}");
    }

    #[test]
    fn a_platform_setting_overrides_the_shared_upstream_one_and_bounds_are_checked_by_name() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![
                ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                ("GRIDCASE_JWT_SECRET", SECRET),
            ];
            pairs.extend_from_slice(extra);
            Settings::load(None, &env(&pairs)).and_then(|s| s.resolve(false))
        };
        let c = with(&[
            ("GRIDCASE_UPSTREAM_BREAKER_FAILURES", "3"),
            ("GRIDCASE_CORE_CASE_BREAKER_FAILURES", "7"),
            ("GRIDCASE_TRADING_GRID_MAX_CONCURRENT", "5"),
        ])
        .unwrap();
        assert_eq!(c.trading_grid.resilience.breaker_failures, 3);
        assert_eq!(c.core_case.resilience.breaker_failures, 7);
        assert_eq!(c.trading_grid.resilience.max_concurrent, 5);
        assert_eq!(c.core_case.resilience.max_concurrent, 64);
        assert_eq!(c.core_case.resilience.retry_budget_percent, 20);
        let err = with(&[("GRIDCASE_UPSTREAM_RETRY_BUDGET_PERCENT", "150")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("RETRY_BUDGET_PERCENT"), "{err}");
    }

    #[test]
    fn a_short_webhook_secret_or_a_non_redis_url_is_refused() {
        for (k, v) in [
            ("GRIDCASE_WEBHOOK_SECRET", "short"),
            ("GRIDCASE_REDIS_URL", "http://127.0.0.1:6379"),
        ] {
            let s = Settings::load(
                None,
                &env(&[
                    ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                    ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                    ("GRIDCASE_JWT_SECRET", SECRET),
                    (k, v),
                ]),
            )
            .unwrap();
            let err = s.resolve(false).unwrap_err().to_string();
            assert!(err.contains(k), "{k}: {err}");
        }
    }

    #[test]
    fn zero_stream_limits_are_refused_by_name() {
        for k in [
            "GRIDCASE_STREAM_KEEPALIVE_MS",
            "GRIDCASE_STREAM_MAX_LIFETIME_MS",
            "GRIDCASE_STREAM_BUFFER",
        ] {
            let s = Settings::load(
                None,
                &env(&[
                    ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
                    ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
                    ("GRIDCASE_JWT_SECRET", SECRET),
                    (k, "0"),
                ]),
            )
            .unwrap();
            let err = s.resolve(false).unwrap_err().to_string();
            assert!(err.contains(k), "{k}: {err}");
        }
    }
}
