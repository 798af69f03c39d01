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
    cache: CacheFile,
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
    /// Poll the platforms' events feeds every this many ms (0 or unset = rely on webhooks).
    poll_interval_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpstreamFile {
    timeout_ms: Option<u64>,
    connect_timeout_ms: Option<u64>,
    retries: Option<u32>,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    jwt_secret: Option<Secret>,
    jwt_issuer: Option<String>,
    jwt_audience: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsFile {
    max_depth: Option<usize>,
    max_complexity: Option<usize>,
    max_page_size: Option<usize>,
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
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Secret,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    /// Deepest selection a query may nest.
    pub max_depth: usize,
    /// Most fields (weighted by list sizes) one query may ask for.
    pub max_complexity: usize,
    /// Largest `first:` a connection accepts (also the platforms' page limit).
    pub max_page_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 50_000,
            max_page_size: 100,
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
}

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
            poll_interval: None,
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
    pub cache: crate::cache::CacheConfig,
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

    /// Point both platforms at simulators and use the sandbox JWT secret.
    pub fn into_sandbox(mut self, trading_grid: &str, core_case: &str) -> Self {
        self.file.trading_grid.url = Some(trading_grid.to_owned());
        self.file.core_case.url = Some(core_case.to_owned());
        self.file.auth.jwt_secret = Some(Secret::new(SANDBOX_JWT_SECRET));
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
        let jwt_secret = f.auth.jwt_secret.ok_or_else(|| {
            invalid(
                "auth.jwt_secret (GRIDCASE_JWT_SECRET)",
                "required when upstream URLs are configured",
            )
        })?;
        if !sandbox && jwt_secret.expose() == SANDBOX_JWT_SECRET {
            return Err(invalid(
                "auth.jwt_secret (GRIDCASE_JWT_SECRET)",
                "the sandbox development secret is refused with real upstreams; set your own",
            ));
        }
        if jwt_secret.expose().len() < 32 {
            return Err(invalid(
                "auth.jwt_secret (GRIDCASE_JWT_SECRET)",
                "must be at least 32 characters",
            ));
        }
        let defaults = Limits::default();
        let limits = Limits {
            max_depth: f.limits.max_depth.unwrap_or(defaults.max_depth),
            max_complexity: f.limits.max_complexity.unwrap_or(defaults.max_complexity),
            max_page_size: f
                .limits
                .max_page_size
                .unwrap_or(defaults.max_page_size)
                .clamp(1, 100),
        };
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
            poll_interval: r
                .poll_interval_ms
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis),
        };
        Ok(Config {
            listen,
            public_url,
            trading_grid,
            core_case,
            auth: AuthConfig {
                jwt_secret,
                issuer: f.auth.jwt_issuer,
                audience: f.auth.jwt_audience,
            },
            limits,
            redis_url: f.redis_url,
            redis_namespace: f.redis_namespace.unwrap_or_else(|| "gridcase".into()),
            webhook_secret: f.webhook_secret,
            rules,
            cache,
        })
    }
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
}
