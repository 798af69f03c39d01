//! Unit tests of loading and validating the configuration.

use super::*;
use std::collections::HashMap;

/// The environment `pairs` describe, nothing else.
fn bare_env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

/// The environment `pairs` describe, with the simulators' development credentials
/// for both platforms unless `pairs` sets them (a platform URL needs credentials).
fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut all = vec![
        ("GRIDCASE_TRADING_GRID_CLIENT_ID", DEV_CLIENT_ID),
        ("GRIDCASE_TRADING_GRID_CLIENT_SECRET", DEV_CLIENT_SECRET),
        ("GRIDCASE_CORE_CASE_CLIENT_ID", DEV_CLIENT_ID),
        ("GRIDCASE_CORE_CASE_CLIENT_SECRET", DEV_CLIENT_SECRET),
    ];
    all.extend_from_slice(pairs);
    bare_env(&all)
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

const RSA_PUB: &str = include_str!("../../tests/fixtures/jwt/rsa-a.pub.pem");

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

#[test]
fn a_platform_url_without_credentials_is_refused_naming_them() {
    let s = Settings::load(
        None,
        &bare_env(&[
            ("GRIDCASE_TRADING_GRID_URL", "https://tg.example"),
            ("GRIDCASE_CORE_CASE_URL", "https://cc.example"),
            ("GRIDCASE_JWT_SECRET", SECRET),
            ("GRIDCASE_TRADING_GRID_CLIENT_ID", "gateway"),
        ]),
    )
    .unwrap();
    let err = s.resolve(false).unwrap_err().to_string();
    assert!(err.contains("GRIDCASE_TRADING_GRID_CLIENT_SECRET"), "{err}");
    assert!(!err.contains("GRIDCASE_TRADING_GRID_CLIENT_ID"), "{err}");
}

#[test]
fn sandbox_mode_gives_the_simulators_their_development_credentials() {
    let s = Settings::load(None, &bare_env(&[]))
        .unwrap()
        .into_sandbox("http://127.0.0.1:1", "http://127.0.0.1:2");
    let c = s.resolve(true).unwrap();
    assert_eq!(c.core_case.client_id, DEV_CLIENT_ID);
    assert_eq!(c.core_case.client_secret.expose(), DEV_CLIENT_SECRET);
}

#[test]
fn a_stream_buffer_out_of_range_is_refused_not_clamped() {
    for bad in ["0", "10001"] {
        let s = Settings::load(None, &env(&[("GRIDCASE_STREAM_BUFFER", bad)]))
            .unwrap()
            .into_sandbox("http://127.0.0.1:1", "http://127.0.0.1:2");
        let err = s.resolve(true).unwrap_err().to_string();
        assert!(err.contains("GRIDCASE_STREAM_BUFFER"), "{bad}: {err}");
    }
}

#[test]
fn every_rule_is_reachable_from_the_environment() {
    let s = Settings::load(
        None,
        &env(&[
            ("GRIDCASE_RULES__DISPUTES", "false"),
            ("GRIDCASE_RULES__AUTO_LINK_DOCUMENTS", "off"),
            ("GRIDCASE_RULES__RECONCILE_LOOKBACK_MS", "60000"),
            ("GRIDCASE_RULES__POLL_INTERVAL_MS", "1000"),
            ("GRIDCASE_POLL_INTERVAL_MS", "2000"),
        ]),
    )
    .unwrap()
    .into_sandbox("http://127.0.0.1:1", "http://127.0.0.1:2");
    let rules = s.resolve(true).unwrap().rules;
    assert!(!rules.disputes && !rules.auto_link_documents && rules.milestones);
    assert_eq!(rules.reconcile_lookback, Duration::from_secs(60));
    // The short form wins over the nested one.
    assert_eq!(rules.poll_interval, Some(Duration::from_secs(2)));
    let err = Settings::load(None, &env(&[("GRIDCASE_RULES__DISPUTES", "maybe")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("GRIDCASE_RULES__DISPUTES"), "{err}");
}

#[test]
fn upstream_settings_are_reachable_as_section_and_key() {
    let s = Settings::load(
        None,
        &bare_env(&[
            ("GRIDCASE_TRADING_GRID__URL", "https://tg.example"),
            ("GRIDCASE_CORE_CASE__URL", "https://cc.example"),
            ("GRIDCASE_TRADING_GRID__CLIENT_ID", "gateway"),
            ("GRIDCASE_TRADING_GRID__CLIENT_SECRET", "tg-secret"),
            ("GRIDCASE_CORE_CASE__CLIENT_ID", "gateway"),
            ("GRIDCASE_CORE_CASE__CLIENT_SECRET", "cc-secret"),
            ("GRIDCASE_CORE_CASE__TIMEOUT_MS", "1500"),
            ("GRIDCASE_UPSTREAM__BREAKER_FAILURES", "3"),
            ("GRIDCASE_CORE_CASE__MAX_CONCURRENT", "8"),
            // The flat name wins over the nested one.
            ("GRIDCASE_UPSTREAM__RETRIES", "5"),
            ("GRIDCASE_UPSTREAM_RETRIES", "1"),
            ("GRIDCASE_JWT_SECRET", SECRET),
        ]),
    )
    .unwrap();
    assert!(!s.is_sandbox());
    let c = s.resolve(false).unwrap();
    assert_eq!(c.core_case.timeout, Duration::from_millis(1500));
    assert_eq!(c.trading_grid.resilience.breaker_failures, 3);
    assert_eq!(c.core_case.resilience.max_concurrent, 8);
    assert_eq!(c.trading_grid.resilience.max_concurrent, 64);
    assert_eq!(c.trading_grid.retries, 1);
    assert_eq!(c.core_case.client_secret.expose(), "cc-secret");
}

#[test]
fn flat_sections_are_reachable_in_the_nested_form_too() {
    let c = Settings::load(
        None,
        &env(&[
            ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
            ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
            ("GRIDCASE_AUTH__JWT_SECRET", SECRET),
            ("GRIDCASE_CACHE__BACKEND", "off"),
            ("GRIDCASE_CACHE__MAX_ENTRIES", "77"),
            ("GRIDCASE_STREAM__BUFFER", "9"),
            ("GRIDCASE_RATE_LIMIT__ENABLED", "false"),
            ("GRIDCASE_RATE_LIMIT__PARTNER_BURST", "5"),
        ]),
    )
    .unwrap()
    .resolve(false)
    .unwrap();
    assert_eq!(c.cache.backend, Some(crate::cache::Backend::Off));
    assert_eq!(c.cache.max_entries, 77);
    assert_eq!(c.stream.buffer, 9);
    assert!(!c.rate_limit.enabled);
    assert_eq!(c.rate_limit.partner.burst, 5);

    // The flat name wins; a bad nested value is refused under the flat name.
    let c = Settings::load(
        None,
        &env(&[
            ("GRIDCASE_TRADING_GRID_URL", "http://tg.example"),
            ("GRIDCASE_CORE_CASE_URL", "http://cc.example"),
            ("GRIDCASE_JWT_SECRET", SECRET),
            ("GRIDCASE_CACHE_MAX_ENTRIES", "12"),
            ("GRIDCASE_CACHE__MAX_ENTRIES", "77"),
        ]),
    )
    .unwrap()
    .resolve(false)
    .unwrap();
    assert_eq!(c.cache.max_entries, 12);
    let e = Settings::load(None, &env(&[("GRIDCASE_STREAM__BUFFER", "lots")])).unwrap_err();
    assert!(e.to_string().contains("GRIDCASE_STREAM_BUFFER"), "{e}");
}
