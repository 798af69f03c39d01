//! The connectors against less friendly platforms: rate limits and expiring tokens.

use std::time::Duration;

use gridcase::sim::{self, Platform, SimOptions};
use serde_json::{json, Value};

use crate::helpers::*;

async fn stats(http: &reqwest::Client, base: &str) -> Value {
    http.get(format!("{base}/__sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn ask(http: &reqwest::Client, gateway: &str, query: &str) -> Value {
    http.post(format!("{gateway}/graphql"))
        .bearer_auth(agent())
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

const QUERY: &str = r#"{ partnerIssues(first: 5) { edges { node { id partner { id } documents { id } transactions { id } } } } }"#;

#[tokio::test]
async fn a_rate_limited_platform_is_waited_out_as_it_asks() {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let limited = SimOptions {
        rate_limit: Some(2),
        ..SimOptions::default()
    };
    let tg = sim::start(Platform::TradingGrid, loopback, limited)
        .await
        .unwrap();
    let cc = sim::start(Platform::CoreCase, loopback, SimOptions::default())
        .await
        .unwrap();
    let (gateway, _stop) = start_gateway(
        &tg.base_url(),
        &cc.base_url(),
        &[("GRIDCASE_UPSTREAM_RETRIES", "4".to_owned())],
    )
    .await;
    let http = reqwest::Client::new();

    let answer = ask(&http, &gateway, QUERY).await;

    assert!(answer.get("errors").is_none(), "{answer:#}");
    assert_eq!(
        answer["data"]["partnerIssues"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    // The platform did refuse some calls (2 per second for 5 calls): the answer is
    // whole because the gateway waited for `Retry-After` and asked again.
    let seen = stats(&http, &tg.base_url()).await;
    let calls: u64 = [
        "GET /v1/discussions",
        "GET /v1/partners",
        "GET /v1/documents",
        "GET /v1/transactions",
    ]
    .iter()
    .map(|r| seen["routes"][r].as_u64().unwrap_or(0))
    .sum();
    assert!(calls > 4, "some calls were refused and retried: {seen}");
}

#[tokio::test]
async fn expiring_platform_tokens_are_renewed() {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let short = SimOptions {
        token_ttl: Duration::from_secs(1),
        ..SimOptions::default()
    };
    let tg = sim::start(Platform::TradingGrid, loopback, short.clone())
        .await
        .unwrap();
    let cc = sim::start(Platform::CoreCase, loopback, short)
        .await
        .unwrap();
    // Uncached, so every query reaches the platform with the current token.
    let uncached = [("GRIDCASE_CACHE", "off".to_owned())];
    let (gateway, _stop) = start_gateway(&tg.base_url(), &cc.base_url(), &uncached).await;
    let http = reqwest::Client::new();

    let tokens = |seen: &Value| seen["routes"]["POST /oauth2/token"].as_u64().unwrap_or(0);
    let answer = ask(&http, &gateway, QUERY).await;
    assert!(answer.get("errors").is_none(), "{answer:#}");
    let first = tokens(&stats(&http, &tg.base_url()).await);
    // Keep asking until the token (valid for a second) has run out and another
    // was fetched; every answer along the way must be whole.
    let asked = std::cell::Cell::new(1u64);
    let seen = within(Duration::from_secs(15), || async {
        let answer = ask(&http, &gateway, QUERY).await;
        assert!(answer.get("errors").is_none(), "{answer:#}");
        asked.set(asked.get() + 1);
        let seen = stats(&http, &tg.base_url()).await;
        (tokens(&seen) > first).then_some(seen)
    })
    .await
    .expect("a new token was fetched");
    assert_eq!(
        seen["routes"]["GET /v1/discussions"].as_u64(),
        Some(asked.get()),
        "no call was refused and repeated: {seen}"
    );
}
