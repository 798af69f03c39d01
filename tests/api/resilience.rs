//! Upstream resilience against the simulators' fault knobs: the circuit breaker,
//! the retry budget, and partial answers while one platform is down.

use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;

/// Reads both platforms: Trading Grid's issues and Core Case's cases.
const BOTH: &str = r#"{ partnerIssues(first: 3) { edges { node { id } } } cases(first: 3) { edges { node { id } } } }"#;

/// The value of one series in `/metrics`, 0 when absent.
async fn metric(app: &TestApp, series: &str) -> f64 {
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

const TG_OPENED: &str =
    r#"gridcase_upstream_breaker_transitions_total{platform="trading-grid",state="open"}"#;
const TG_CLOSED: &str =
    r#"gridcase_upstream_breaker_transitions_total{platform="trading-grid",state="closed"}"#;

async fn readyz(app: &TestApp) -> Value {
    app.http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Ask until Trading Grid's circuit has opened (bounded).
async fn trip_trading_grid(app: &TestApp) {
    for _ in 0..40 {
        app.graphql(&agent(), BOTH, json!({})).await;
        if metric(app, TG_OPENED).await >= 1.0 {
            return;
        }
    }
    panic!("the circuit never opened");
}

fn codes_and_platforms(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
                e["extensions"]["platform"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_platform_failing_every_call_is_not_called_while_its_circuit_is_open() {
    let app = spawn_app_with(&[
        ("GRIDCASE_TRADING_GRID_BREAKER_OPEN_MS", "600000".to_owned()),
        ("GRIDCASE_CACHE", "off".to_owned()),
    ])
    .await;
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 1.0 }))
        .await;
    trip_trading_grid(&app).await;

    let (seen_before, _) = app.upstream_calls(Platform::TradingGrid).await;
    for _ in 0..5 {
        let body = app.graphql(&agent(), BOTH, json!({})).await;
        // Core Case's part still arrives; Trading Grid's is reported missing.
        assert_eq!(
            nodes(&body["data"]["cases"]).len(),
            3,
            "Core Case answers: {body:#}"
        );
        assert_eq!(
            codes_and_platforms(&body),
            vec![("UPSTREAM_UNAVAILABLE".to_owned(), "trading-grid".to_owned())]
        );
    }
    // Readiness says so, without calling the platform either.
    let ready = readyz(&app).await;
    assert_eq!(ready["breakers"]["trading_grid"], "open", "{ready:#}");
    assert_eq!(ready["breakers"]["core_case"], "closed");
    assert_eq!(ready["trading_grid"], "unavailable");
    let (seen_after, routes) = app.upstream_calls(Platform::TradingGrid).await;
    assert_eq!(
        seen_after, seen_before,
        "no call reached Trading Grid while open: {routes}"
    );
    let refused = metric(
        &app,
        r#"gridcase_upstream_refused_total{platform="trading-grid",reason="circuit_open"}"#,
    )
    .await;
    assert!(refused >= 5.0, "{refused}");
}

#[tokio::test]
async fn a_recovered_platform_closes_its_circuit_after_a_probe() {
    let app = spawn_app_with(&[
        ("GRIDCASE_UPSTREAM_BREAKER_OPEN_MS", "200".to_owned()),
        ("GRIDCASE_CACHE", "off".to_owned()),
    ])
    .await;
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 1.0 }))
        .await;
    trip_trading_grid(&app).await;

    let ready = readyz(&app).await;
    assert_ne!(ready["breakers"]["trading_grid"], "closed", "{ready:#}");

    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 0.0 }))
        .await;
    // Once the open period is over, the next call (here readiness's own check) is
    // the probe; it succeeds and closes the circuit.
    eventually("the circuit closes after recovery", || async {
        let ready = readyz(&app).await;
        (ready["breakers"]["trading_grid"] == "closed").then_some(())
    })
    .await;
    let data = app.data(&agent(), BOTH, json!({})).await;
    assert_eq!(nodes(&data["partnerIssues"]).len(), 3);
    assert_eq!(metric(&app, TG_CLOSED).await, 1.0);
}

#[tokio::test]
async fn with_30_percent_upstream_errors_the_dashboard_answers_fully_and_retries_stay_within_budget(
) {
    let app = spawn_app_with(&[
        ("GRIDCASE_UPSTREAM_RETRIES", "10".to_owned()),
        ("GRIDCASE_CACHE", "off".to_owned()),
    ])
    .await;
    for p in [Platform::TradingGrid, Platform::CoreCase] {
        app.set_faults(p, json!({ "error_rate": 0.3 })).await;
    }

    for _ in 0..20 {
        let data = app.data(&agent(), DASHBOARD, json!({})).await;
        assert!(!nodes(&data["partnerIssues"]).is_empty());
    }

    let mut retried = 0.0;
    for p in ["trading-grid", "core-case"] {
        let calls = metric(
            &app,
            &format!(r#"gridcase_upstream_calls_total{{platform="{p}"}}"#),
        )
        .await;
        let retries = metric(
            &app,
            &format!(r#"gridcase_upstream_retries_total{{platform="{p}"}}"#),
        )
        .await;
        // The budget: a fifth of the calls, plus a reserve of 10 per second over 10 s.
        assert!(
            retries <= calls * 0.2 + 100.0,
            "{p}: {retries} retries for {calls} calls"
        );
        retried += retries;
    }
    assert!(retried > 0.0, "the platforms did fail now and then");
    let (tg_seen, _) = app.upstream_calls(Platform::TradingGrid).await;
    assert!(
        tg_seen > 80,
        "20 dashboards reached Trading Grid: {tg_seen}"
    );
}

#[tokio::test]
async fn a_slow_platform_holds_no_more_than_its_share_of_calls() {
    let app = spawn_app_with(&[
        ("GRIDCASE_TRADING_GRID_MAX_CONCURRENT", "1".to_owned()),
        ("GRIDCASE_CACHE", "off".to_owned()),
        ("GRIDCASE_TRADING_GRID_QUEUE_TIMEOUT_MS", "10".to_owned()),
    ])
    .await;
    // Fetch the platform token first, so the slow call below is the only one.
    app.data(&agent(), BOTH, json!({})).await;
    app.set_faults(Platform::TradingGrid, json!({ "latency_ms": 3000 }))
        .await;
    app.reset_upstream_calls().await;

    let slow = {
        let (http, url, token) = (app.http.clone(), app.url.clone(), agent());
        tokio::spawn(async move {
            http.post(format!("{url}/graphql"))
                .bearer_auth(token)
                .json(&json!({ "query": BOTH }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    // The slow call holds Trading Grid's only slot once the platform has it.
    eventually("the slow call reached Trading Grid", || async {
        let (seen, _) = app.upstream_calls(Platform::TradingGrid).await;
        (seen >= 1).then_some(())
    })
    .await;

    let body = app.graphql(&agent(), BOTH, json!({})).await;
    assert_eq!(nodes(&body["data"]["cases"]).len(), 3, "{body:#}");
    assert_eq!(
        codes_and_platforms(&body),
        vec![("UPSTREAM_UNAVAILABLE".to_owned(), "trading-grid".to_owned())]
    );
    let refused = metric(
        &app,
        r#"gridcase_upstream_refused_total{platform="trading-grid",reason="bulkhead_full"}"#,
    )
    .await;
    assert_eq!(refused, 1.0);
    // The slow one still completes.
    let slow = slow.await.unwrap();
    assert!(slow.get("errors").is_none(), "{slow:#}");
}

#[tokio::test]
async fn readiness_answers_at_once_when_a_platform_hangs() {
    let app = spawn_app_with(&[
        ("GRIDCASE_UPSTREAM_TIMEOUT_MS", "120000".to_owned()),
        ("GRIDCASE_CACHE", "off".to_owned()),
    ])
    .await;
    app.set_faults(Platform::TradingGrid, json!({ "latency_ms": 120000 }))
        .await;
    // A generous deadline: far above the probes' bound, far below the hang.
    let resp = app
        .http
        .get(format!("{}/readyz", app.url))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .expect("readiness answered while Trading Grid hangs");
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["trading_grid"], "unavailable");
    assert_eq!(body["core_case"], "ok");
    assert_eq!(body["redis"], "not configured");
}

#[tokio::test]
async fn readiness_reports_redis_when_it_is_configured() {
    let redis = test_redis();
    let app = spawn_app_with(&[("GRIDCASE_REDIS_URL", redis.url.clone())]).await;
    let body = readyz(&app).await;
    assert_eq!(body["redis"], "ok", "{body:#}");
    assert_eq!(body["status"], "ready");
    if std::env::var("GRIDCASE_TEST_REDIS_URL").is_ok() {
        return; // a shared Redis is not ours to stop
    }
    drop(redis);
    let resp = app
        .http
        .get(format!("{}/readyz", app.url))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .expect("readiness answered while Redis is gone");
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["redis"], "unavailable", "{body:#}");
    assert_eq!(body["trading_grid"], "ok");
}

#[tokio::test]
async fn metrics_on_their_own_listener_are_not_on_the_public_one() {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let opts = gridcase::sim::SimOptions::default();
    let tg = gridcase::sim::start(Platform::TradingGrid, loopback, opts.clone())
        .await
        .unwrap();
    let cc = gridcase::sim::start(Platform::CoreCase, loopback, opts)
        .await
        .unwrap();
    let metrics_listen = [("GRIDCASE_METRICS_LISTEN", "127.0.0.1:0".to_owned())];
    let app = build_gateway(&tg.base_url(), &cc.base_url(), &metrics_listen)
        .await
        .unwrap();
    let (public, internal) = (app.addr(), app.metrics_addr().expect("a metrics listener"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();

    let ready = http
        .get(format!("http://{public}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let hidden = http
        .get(format!("http://{public}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    let text = http
        .get(format!("http://{internal}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(
            r#"gridcase_http_requests_total{method="GET",route="/readyz",status="200"} 1"#
        ),
        "{text}"
    );

    // Both listeners stop with the app.
    stop.send(()).unwrap();
    running.await.unwrap().unwrap();
    assert!(http
        .get(format!("http://{internal}/metrics"))
        .send()
        .await
        .is_err());
}
