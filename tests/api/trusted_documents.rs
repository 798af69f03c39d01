//! Trusted documents: with a manifest configured, partners run only the
//! portal's operations (by id or by exact text) and cannot register others;
//! internal tools keep sending any operation unless the manifest binds everyone.

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde_json::{json, Value};
use sha2::Digest;

use crate::helpers::*;

const ISSUES: &str = "query Issues { partnerIssues(first: 5) { edges { node { id } } } }";
const OTHER: &str = "query Other { tradingPartners(first: 5) { edges { node { id } } } }";

fn sha256_hex(text: &str) -> String {
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

/// A gateway with an Apollo-format manifest holding the dashboard and `ISSUES`.
async fn gateway_with_manifest(applies_to: &str) -> (TestApp, std::path::PathBuf) {
    let manifest = json!({
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            { "id": sha256_hex(DASHBOARD), "name": "Dashboard", "type": "query", "body": DASHBOARD },
            { "id": "issues-v1", "name": "Issues", "type": "query", "body": ISSUES },
        ],
    });
    let path = std::env::temp_dir().join(format!(
        "gridcase-trusted-{}-{applies_to}-{}.json",
        std::process::id(),
        sha256_hex(&format!("{:?}", std::time::SystemTime::now()))
    ));
    std::fs::write(&path, manifest.to_string()).unwrap();
    let app = spawn_app_with(&[
        ("GRIDCASE_TRUSTED_DOCUMENTS", path.display().to_string()),
        ("GRIDCASE_TRUSTED_DOCUMENTS_FOR", applies_to.to_owned()),
    ])
    .await;
    (app, path)
}

async fn post(app: &TestApp, token: &str, body: Value) -> Value {
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

fn by_id(id: &str) -> Value {
    json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": id } } })
}

async fn upstream_total(app: &TestApp) -> u64 {
    app.upstream_calls(gridcase::sim::Platform::TradingGrid)
        .await
        .0
        + app
            .upstream_calls(gridcase::sim::Platform::CoreCase)
            .await
            .0
}

#[tokio::test]
async fn partners_run_the_manifests_operations_by_id_or_exact_text() {
    let (app, path) = gateway_with_manifest("partners").await;
    let token = partner("TP-0001");

    let by_hash = post(&app, &token, by_id(&sha256_hex(DASHBOARD))).await;
    assert!(by_hash.get("errors").is_none(), "{by_hash:#}");
    assert!(!nodes(&by_hash["data"]["partnerIssues"]).is_empty());

    let by_name = post(&app, &token, by_id("issues-v1")).await;
    assert!(by_name.get("errors").is_none(), "{by_name:#}");
    let as_text = post(&app, &token, json!({ "query": ISSUES })).await;
    assert_eq!(as_text["data"], by_name["data"]);
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn partners_cannot_run_or_register_anything_else() {
    let (app, path) = gateway_with_manifest("partners").await;
    let token = partner("TP-0001");
    app.reset_upstream_calls().await;

    let free_text = post(&app, &token, json!({ "query": OTHER })).await;
    assert_eq!(error_codes(&free_text), ["QUERY_NOT_IN_SAFELIST"]);
    // Not byte for byte a manifest document: refused too.
    let reformatted = post(&app, &token, json!({ "query": format!("{ISSUES}\n") })).await;
    assert_eq!(error_codes(&reformatted), ["QUERY_NOT_IN_SAFELIST"]);

    // Registering by the automatic persisted queries protocol is refused, and
    // leaves nothing behind.
    let mut register = by_id(&sha256_hex(OTHER));
    register["query"] = json!(OTHER);
    let registered = post(&app, &token, register).await;
    assert_eq!(error_codes(&registered), ["PERSISTED_QUERY_NOT_IN_LIST"]);
    let again = post(&app, &token, by_id(&sha256_hex(OTHER))).await;
    assert_eq!(error_codes(&again), ["PERSISTED_QUERY_NOT_IN_LIST"]);

    // An id of the manifest with some other text.
    let mut mismatched = by_id("issues-v1");
    mismatched["query"] = json!(OTHER);
    let mismatched = post(&app, &token, mismatched).await;
    assert_eq!(error_codes(&mismatched), ["BAD_USER_INPUT"]);

    // Subscriptions go through the same gate.
    let resp = app
        .http
        .post(format!("{}/graphql/stream", app.url))
        .header("accept", "text/event-stream")
        .bearer_auth(&token)
        .json(&json!({ "query": "subscription { caseMilestones { caseId } }" }))
        .send()
        .await
        .unwrap();
    let first = resp
        .bytes_stream()
        .eventsource()
        .next()
        .await
        .unwrap()
        .unwrap();
    let body: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(error_codes(&body), ["QUERY_NOT_IN_SAFELIST"], "{body:#}");

    assert_eq!(
        upstream_total(&app).await,
        0,
        "nothing refused reached a platform"
    );
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn internal_tools_are_bound_only_when_the_manifest_says_everyone() {
    let (app, path) = gateway_with_manifest("partners").await;
    let free = post(&app, &agent(), json!({ "query": OTHER })).await;
    assert!(free.get("errors").is_none(), "{free:#}");
    std::fs::remove_file(path).unwrap();

    let (app, path) = gateway_with_manifest("everyone").await;
    let free = post(&app, &agent(), json!({ "query": OTHER })).await;
    assert_eq!(error_codes(&free), ["QUERY_NOT_IN_SAFELIST"]);
    let listed = post(&app, &agent(), by_id("issues-v1")).await;
    assert!(listed.get("errors").is_none(), "{listed:#}");
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn a_manifest_it_cannot_trust_stops_the_gateway_at_start() {
    let app = spawn_app().await;
    let path = std::env::temp_dir().join(format!(
        "gridcase-untrusted-{}-{}.json",
        std::process::id(),
        sha256_hex(&format!("{:?}", std::time::SystemTime::now()))
    ));
    std::fs::write(&path, r#"{"broken": "query {"}"#).unwrap();
    let refused = build_gateway(
        &app.tg.base_url(),
        &app.cc.base_url(),
        &[("GRIDCASE_TRUSTED_DOCUMENTS", path.display().to_string())],
    )
    .await
    .err()
    .expect("refused at start");
    let message = format!("{refused:#}");
    assert!(message.contains("GRIDCASE_TRUSTED_DOCUMENTS"), "{message}");
    assert!(
        message.contains("operation `broken` is not a GraphQL document"),
        "{message}"
    );
    std::fs::remove_file(path).unwrap();
}
