//! Reading the sources: the TOML file, then the `GRIDCASE_*` environment on top,
//! into the raw [`Settings`].

use std::path::Path;

use super::*;

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
        // A flat name, or else its nested form (see `NESTED`).
        let get = |k: &str| {
            let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
            set(k).or_else(|| {
                NESTED
                    .iter()
                    .find(|(flat, _)| *flat == k)
                    .and_then(|(_, nested)| set(nested))
            })
        };
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
        load_upstream_env(&mut file, &get)?;
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
        load_rules_env(&mut file.rules, &get)?;
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
}

/// The sections whose settings were first named flat (`GRIDCASE_CACHE_TTL`) are
/// reachable in the nested form too (`GRIDCASE_CACHE__TTL`), like every other
/// section: flat name, then the nested one it stands for. The flat name wins
/// when both are set.
const NESTED: &[(&str, &str)] = &[
    ("GRIDCASE_JWT_SECRET", "GRIDCASE_AUTH__JWT_SECRET"),
    ("GRIDCASE_JWT_PUBLIC_KEY", "GRIDCASE_AUTH__JWT_PUBLIC_KEY"),
    ("GRIDCASE_JWKS_URL", "GRIDCASE_AUTH__JWKS_URL"),
    ("GRIDCASE_JWKS_REFRESH_MS", "GRIDCASE_AUTH__JWKS_REFRESH_MS"),
    ("GRIDCASE_JWT_ALGORITHMS", "GRIDCASE_AUTH__JWT_ALGORITHMS"),
    ("GRIDCASE_JWT_ROLE_CLAIM", "GRIDCASE_AUTH__ROLE_CLAIM"),
    ("GRIDCASE_JWT_PARTNER_CLAIM", "GRIDCASE_AUTH__PARTNER_CLAIM"),
    ("GRIDCASE_JWT_ROLE_MAP", "GRIDCASE_AUTH__ROLE_MAP"),
    ("GRIDCASE_JWT_ISSUER", "GRIDCASE_AUTH__JWT_ISSUER"),
    ("GRIDCASE_JWT_AUDIENCE", "GRIDCASE_AUTH__JWT_AUDIENCE"),
    ("GRIDCASE_CACHE", "GRIDCASE_CACHE__BACKEND"),
    ("GRIDCASE_CACHE_TTL", "GRIDCASE_CACHE__TTL"),
    ("GRIDCASE_CACHE_MAX_ENTRIES", "GRIDCASE_CACHE__MAX_ENTRIES"),
    ("GRIDCASE_CACHE_TIMEOUT_MS", "GRIDCASE_CACHE__TIMEOUT_MS"),
    (
        "GRIDCASE_STREAM_KEEPALIVE_MS",
        "GRIDCASE_STREAM__KEEPALIVE_MS",
    ),
    (
        "GRIDCASE_STREAM_MAX_LIFETIME_MS",
        "GRIDCASE_STREAM__MAX_LIFETIME_MS",
    ),
    ("GRIDCASE_STREAM_BUFFER", "GRIDCASE_STREAM__BUFFER"),
    (
        "GRIDCASE_RATE_LIMIT_ENABLED",
        "GRIDCASE_RATE_LIMIT__ENABLED",
    ),
    (
        "GRIDCASE_RATE_LIMIT_PARTNER_PER_SECOND",
        "GRIDCASE_RATE_LIMIT__PARTNER_PER_SECOND",
    ),
    (
        "GRIDCASE_RATE_LIMIT_PARTNER_BURST",
        "GRIDCASE_RATE_LIMIT__PARTNER_BURST",
    ),
    (
        "GRIDCASE_RATE_LIMIT_AGENT_PER_SECOND",
        "GRIDCASE_RATE_LIMIT__AGENT_PER_SECOND",
    ),
    (
        "GRIDCASE_RATE_LIMIT_AGENT_BURST",
        "GRIDCASE_RATE_LIMIT__AGENT_BURST",
    ),
    (
        "GRIDCASE_RATE_LIMIT_ADMIN_PER_SECOND",
        "GRIDCASE_RATE_LIMIT__ADMIN_PER_SECOND",
    ),
    (
        "GRIDCASE_RATE_LIMIT_ADMIN_BURST",
        "GRIDCASE_RATE_LIMIT__ADMIN_BURST",
    ),
    (
        "GRIDCASE_RATE_LIMIT_WEBHOOK_PER_SECOND",
        "GRIDCASE_RATE_LIMIT__WEBHOOK_PER_SECOND",
    ),
    (
        "GRIDCASE_RATE_LIMIT_WEBHOOK_BURST",
        "GRIDCASE_RATE_LIMIT__WEBHOOK_BURST",
    ),
];

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

/// `GRIDCASE_UPSTREAM__<KEY>`, `GRIDCASE_TRADING_GRID__<KEY>` and
/// `GRIDCASE_CORE_CASE__<KEY>` for every key of those sections; read before the
/// flat names (`GRIDCASE_CORE_CASE_TIMEOUT_MS`, …), which win.
fn load_upstream_env(
    file: &mut FileConfig,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let whole = "a whole number";
    for (prefix, own) in [
        ("GRIDCASE_TRADING_GRID__", &mut file.trading_grid),
        ("GRIDCASE_CORE_CASE__", &mut file.core_case),
    ] {
        let key = |k: &str| format!("{prefix}{k}");
        for (k, slot) in [
            ("URL", &mut own.url),
            ("TOKEN_URL", &mut own.token_url),
            ("CLIENT_ID", &mut own.client_id),
        ] {
            if let Some(v) = get(&key(k)) {
                *slot = Some(v);
            }
        }
        if let Some(v) = get(&key("CLIENT_SECRET")) {
            own.client_secret = Some(Secret::new(v));
        }
        for (k, slot) in [
            ("TIMEOUT_MS", &mut own.timeout_ms),
            ("CONNECT_TIMEOUT_MS", &mut own.connect_timeout_ms),
        ] {
            if let Some(v) = env_parse::<u64>(get, &key(k), whole)? {
                *slot = Some(v);
            }
        }
        if let Some(v) = env_parse::<u32>(get, &key("RETRIES"), whole)? {
            own.retries = Some(v);
        }
    }
    let u = &mut file.upstream;
    for (k, slot) in [
        ("TIMEOUT_MS", &mut u.timeout_ms),
        ("CONNECT_TIMEOUT_MS", &mut u.connect_timeout_ms),
    ] {
        if let Some(v) = env_parse::<u64>(get, &format!("GRIDCASE_UPSTREAM__{k}"), whole)? {
            *slot = Some(v);
        }
    }
    if let Some(v) = env_parse::<u32>(get, "GRIDCASE_UPSTREAM__RETRIES", whole)? {
        u.retries = Some(v);
    }
    for (prefix, knobs) in [
        ("GRIDCASE_UPSTREAM__", resilience_knobs!(file.upstream)),
        (
            "GRIDCASE_TRADING_GRID__",
            resilience_knobs!(file.trading_grid),
        ),
        ("GRIDCASE_CORE_CASE__", resilience_knobs!(file.core_case)),
    ] {
        for (suffix, slot) in knobs {
            if let Some(v) = env_parse::<u64>(get, &format!("{prefix}{suffix}"), whole)? {
                *slot = Some(v);
            }
        }
    }
    Ok(())
}

/// `GRIDCASE_RULES__<KEY>` for every `[rules]` key (the intervals also keep their
/// short forms, e.g. `GRIDCASE_POLL_INTERVAL_MS`, which win).
fn load_rules_env(
    r: &mut RulesFile,
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    let key = |k: &str| format!("GRIDCASE_RULES__{k}");
    for (k, slot) in [
        ("TRANSACTION_EXCEPTIONS", &mut r.transaction_exceptions),
        ("DISPUTES", &mut r.disputes),
        ("COMPLIANCE_REVIEWS", &mut r.compliance_reviews),
        ("ESCALATION_TAG", &mut r.escalation_tag),
        ("MILESTONES", &mut r.milestones),
        ("RESOLUTIONS", &mut r.resolutions),
        ("AUTO_LINK_DOCUMENTS", &mut r.auto_link_documents),
    ] {
        if let Some(v) = get(&key(k)) {
            *slot = Some(parse_flag(&key(k), &v)?);
        }
    }
    for (k, slot) in [
        ("POLL_INTERVAL_MS", &mut r.poll_interval_ms),
        ("RECONCILE_INTERVAL_MS", &mut r.reconcile_interval_ms),
        ("RECONCILE_LOOKBACK_MS", &mut r.reconcile_lookback_ms),
    ] {
        if get(&format!("GRIDCASE_{k}")).is_some() {
            continue;
        }
        if let Some(v) = env_parse::<u64>(get, &key(k), "a whole number of milliseconds")? {
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

fn parse_flag(key: &str, value: &str) -> Result<bool, ConfigError> {
    match value.trim() {
        "true" | "1" | "on" => Ok(true),
        "false" | "0" | "off" => Ok(false),
        other => Err(invalid(key, format!("`{other}` is not true or false"))),
    }
}
