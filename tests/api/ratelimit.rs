//! Per-principal rate limits: one partner flooding spends its own budget only.

use serde_json::{json, Value};

use crate::helpers::*;

const ME: &str = "{ me { role partnerId } }";

/// A small budget so a short loop exhausts it: 5 at once, then 1 per second.
fn small_partner_budget() -> Vec<(&'static str, String)> {
    vec![
        ("GRIDCASE_RATE_LIMIT_ENABLED", "true".to_owned()),
        ("GRIDCASE_RATE_LIMIT_PARTNER_PER_SECOND", "1".to_owned()),
        ("GRIDCASE_RATE_LIMIT_PARTNER_BURST", "5".to_owned()),
    ]
}

async fn post(app: &TestApp, token: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_flooding_partner_is_refused_with_429_while_another_partner_keeps_being_served() {
    let app = spawn_app_with(&small_partner_budget()).await;
    let (a, b) = (partner("TP-0001"), partner("TP-0002"));

    // Partner A floods until refused.
    let mut served = 0;
    let refused = loop {
        let resp = post(&app, &a).await;
        if resp.status() == 429 {
            break resp;
        }
        assert_eq!(resp.status(), 200);
        served += 1;
        assert!(served < 50, "partner A was never refused");
    };
    assert!(served >= 5, "the burst was served first: {served}");

    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1, "Retry-After: {retry_after}");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_codes(&body), vec!["RATE_LIMITED"]);

    // Partner B, meanwhile, is answered in full.
    for _ in 0..3 {
        let data = app.data(&b, ME, json!({})).await;
        assert_eq!(data["me"]["partnerId"], "TP-0002");
    }

    // A's refusal covers every way in: GET /graphql and document downloads too.
    let get = app
        .http
        .get(format!("{}/graphql", app.url))
        .query(&[("query", ME)])
        .bearer_auth(&a)
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 429);
    let download = app
        .http
        .get(format!("{}/documents/DOC-000001/content", app.url))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 429);
    assert!(download.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn all_users_of_one_partner_share_its_budget_but_staff_have_their_own() {
    let app = spawn_app_with(&small_partner_budget()).await;
    let alice = token_for(gridcase::auth::Role::Partner, Some("TP-0003"));
    for _ in 0..5 {
        assert_eq!(post(&app, &alice).await.status(), 200);
    }
    // Another token of the same partner draws from the same bucket.
    let bob = partner("TP-0003");
    assert_eq!(post(&app, &bob).await.status(), 429);
    // An agent is not affected.
    assert_eq!(post(&app, &agent()).await.status(), 200);
}

#[tokio::test]
async fn switching_rate_limits_off_serves_every_request() {
    let mut settings = small_partner_budget();
    settings.push(("GRIDCASE_RATE_LIMIT_ENABLED", "false".to_owned()));
    let app = spawn_app_with(&settings).await;
    let a = partner("TP-0001");
    for _ in 0..20 {
        assert_eq!(post(&app, &a).await.status(), 200);
    }
}

#[tokio::test]
async fn each_webhook_source_has_its_own_budget_checked_before_the_signature() {
    let app = spawn_app_with(&[
        ("GRIDCASE_RATE_LIMIT_ENABLED", "true".to_owned()),
        ("GRIDCASE_RATE_LIMIT_WEBHOOK_PER_SECOND", "1".to_owned()),
        ("GRIDCASE_RATE_LIMIT_WEBHOOK_BURST", "2".to_owned()),
    ])
    .await;
    let send = |platform: &'static str| {
        app.http
            .post(format!("{}/webhooks/{platform}", app.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
    };
    // Unsigned deliveries: refused for their signature until the budget is spent.
    let mut unsigned = 0;
    let refused = loop {
        let resp = send("trading-grid").await.unwrap();
        if resp.status() == 429 {
            break resp;
        }
        assert_eq!(resp.status(), 401);
        unsigned += 1;
        assert!(unsigned < 20, "the trading-grid source was never limited");
    };
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_codes(&body), vec!["RATE_LIMITED"]);
    // The other platform's deliveries are still looked at.
    assert_eq!(send("core-case").await.unwrap().status(), 401);
}
