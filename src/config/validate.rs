//! Validating the raw [`Settings`] into a [`Config`]: every value checked, every
//! refusal naming the key to fix.

use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

use super::*;

impl Settings {
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
            sandbox,
        )?;
        let core_case = platform(
            "core_case",
            "GRIDCASE_CORE_CASE",
            "/oauth/token",
            f.core_case,
            &f.upstream,
            sandbox,
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
        let d = Rules::default();
        // An interval of 0 switches that intake off.
        let interval = |ms: Option<u64>, default: Option<Duration>| match ms {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
            None => default,
        };
        let rules = Rules {
            transaction_exceptions: r.transaction_exceptions.unwrap_or(d.transaction_exceptions),
            disputes: r.disputes.unwrap_or(d.disputes),
            compliance_reviews: r.compliance_reviews.unwrap_or(d.compliance_reviews),
            escalation_tag: r.escalation_tag.unwrap_or(d.escalation_tag),
            milestones: r.milestones.unwrap_or(d.milestones),
            resolutions: r.resolutions.unwrap_or(d.resolutions),
            auto_link_documents: r.auto_link_documents.unwrap_or(d.auto_link_documents),
            poll_interval: interval(r.poll_interval_ms, d.poll_interval),
            reconcile_interval: interval(r.reconcile_interval_ms, d.reconcile_interval),
            reconcile_lookback: match r.reconcile_lookback_ms {
                Some(0) => {
                    return Err(invalid(
                        "rules.reconcile_lookback_ms (GRIDCASE_RECONCILE_LOOKBACK_MS)",
                        "must be more than 0",
                    ))
                }
                Some(ms) => Duration::from_millis(ms),
                None => d.reconcile_lookback,
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
                buffer: match f.stream.buffer {
                    None => d.buffer,
                    Some(b @ 1..=10_000) => b as usize,
                    Some(_) => {
                        return Err(invalid(
                            "stream.buffer (GRIDCASE_STREAM_BUFFER)",
                            "must be between 1 and 10000",
                        ))
                    }
                },
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
    sandbox: bool,
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
        (Some(id), Some(secret)) => {
            if !sandbox && id == DEV_CLIENT_ID && secret.expose() == DEV_CLIENT_SECRET {
                tracing::warn!(
                    platform = section,
                    "the simulators' development credentials are configured for a platform URL"
                );
            }
            (id, secret)
        }
        // A real platform never accepts the simulators' credentials: falling back to
        // them would only fail later, at the first call, far from the cause.
        (id, secret) => {
            let mut missing = Vec::new();
            if id.is_none() {
                missing.push(format!("{section}.client_id ({env}_CLIENT_ID)"));
            }
            if secret.is_none() {
                missing.push(format!("{section}.client_secret ({env}_CLIENT_SECRET)"));
            }
            return Err(invalid(
                &missing.join(", "),
                "required when the platform URL is set (sandbox mode supplies its own)",
            ));
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
