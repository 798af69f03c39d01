//! Bad input, missing auth and failing upstreams answer clearly.

use gridcase::sim::Platform;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn requests_without_a_valid_token_get_401() {
    let app = spawn_app().await;
    let url = format!("{}/graphql", app.url);
    let none = app
        .http
        .post(&url)
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.unwrap();
    assert_eq!(error_codes(&body), vec!["UNAUTHENTICATED"]);

    let forged = gridcase::auth::sign(
        &gridcase::config::Secret::new("some-other-secret-some-other-secret"),
        gridcase::auth::Role::Admin,
        None,
        "mallory",
        std::time::Duration::from_secs(60),
        None,
        None,
    )
    .unwrap();
    let resp = app
        .http
        .post(&url)
        .bearer_auth(forged)
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn malformed_ids_and_arguments_are_bad_user_input() {
    let app = spawn_app().await;
    for q in [
        r#"{ case(id: "DSC-000001") { id } }"#,
        r#"{ partnerIssue(id: "../../etc") { id } }"#,
        r#"{ node(id: "nonsense") { id } }"#,
        r#"{ partnerIssues(first: 1000) { edges { cursor } } }"#,
        r#"{ partnerIssues(after: "not-a-cursor") { edges { cursor } } }"#,
        r#"{ cases(filter: { openedAfter: "yesterday" }) { edges { cursor } } }"#,
        r#"{ nosuchfield }"#,
    ] {
        let body = app.graphql(&agent(), q, json!({})).await;
        assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"], "{q}: {body:#}");
    }
}

#[tokio::test]
async fn unknown_ids_are_null_without_errors() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            r#"{ case(id: "CASE-999999") { id } partnerIssue(id: "DSC-999999") { id } document(id: "DOC-999999") { id } node(id: "TX-9999999") { id } }"#,
            json!({}),
        )
        .await;
    for (_, v) in data.as_object().unwrap() {
        assert!(v.is_null());
    }
}

#[tokio::test]
async fn a_failing_platform_yields_partial_data_and_names_the_platform() {
    let app = spawn_app().await;
    app.set_faults(Platform::CoreCase, json!({ "error_rate": 1.0 }))
        .await;

    let body = app.graphql(&partner("TP-0001"), DASHBOARD, json!({})).await;

    let issues = nodes(&body["data"]["partnerIssues"]);
    assert!(
        !issues.is_empty(),
        "Trading Grid data still answers: {body:#}"
    );
    assert!(issues.iter().all(|i| i["partner"]["id"] == "TP-0001"));
    assert!(issues.iter().all(|i| i["case"].is_null()));
    let errors = body["errors"].as_array().expect("errors");
    assert!(!errors.is_empty());
    for e in errors {
        assert_eq!(e["extensions"]["code"], "UPSTREAM_UNAVAILABLE");
        assert_eq!(e["extensions"]["platform"], "core-case");
        // The gateway's own words only: nothing of the upstream's error body.
        assert_eq!(
            e["message"],
            "core-case is unavailable; this part of the answer is missing"
        );
    }

    // And back when the platform recovers.
    app.set_faults(Platform::CoreCase, json!({ "error_rate": 0.0 }))
        .await;
    let data = app.data(&partner("TP-0001"), DASHBOARD, json!({})).await;
    assert!(nodes(&data["partnerIssues"])
        .iter()
        .any(|i| !i["case"].is_null()));
}

#[tokio::test]
async fn mutations_over_get_and_graphiql_for_browsers() {
    let app = spawn_app_with(&[("GRIDCASE_GRAPHIQL", "true".into())]).await;
    let page = app
        .http
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));

    let get = app
        .http
        .get(format!("{}/graphql", app.url))
        .query(&[("query", "{ me { role partnerId } }")])
        .bearer_auth(partner("TP-0001"))
        .header("apollo-require-preflight", "true")
        .header("accept", "application/graphql-response+json")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    assert_eq!(
        get.headers()["content-type"],
        "application/graphql-response+json"
    );
    let body: serde_json::Value = get.json().await.unwrap();
    assert_eq!(body["data"]["me"]["role"], "PARTNER");
    assert_eq!(body["data"]["me"]["partnerId"], "TP-0001");

    let mutation = app
        .http
        .get(format!("{}/graphql", app.url))
        .query(&[("query", "mutation { __typename }")])
        .bearer_auth(agent())
        .header("apollo-require-preflight", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(mutation.status(), 405);
    let body: serde_json::Value = mutation.json().await.unwrap();
    assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn an_unreadable_body_is_bad_user_input() {
    let app = spawn_app().await;
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(agent())
        .header("content-type", "application/json")
        .body(r#"{"query": 42}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn an_outage_under_a_root_field_is_not_a_client_error() {
    let app = spawn_app().await;
    app.set_faults(Platform::CoreCase, json!({ "error_rate": 1.0 }))
        .await;
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(agent())
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ cases { edges { cursor } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_codes(&body), vec!["UPSTREAM_UNAVAILABLE"]);
}

#[tokio::test]
async fn health_and_readiness_follow_the_upstreams() {
    let app = spawn_app().await;
    let get = |p: &'static str| app.http.get(format!("{}{p}", app.url)).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    assert_eq!(get("/readyz").await.unwrap().status(), 200);
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 1.0 }))
        .await;
    let resp = get("/readyz").await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["trading_grid"], "unavailable");
    assert_eq!(body["core_case"], "ok");
}

#[tokio::test]
async fn metrics_count_requests_and_upstream_calls() {
    let app = spawn_app().await;
    app.data(&agent(), DASHBOARD, json!({})).await;
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"gridcase_upstream_requests_total{platform="trading-grid",operation="list_discussions",outcome="ok"} 1"#),
        "{text}"
    );
    assert!(text.contains(
        r#"gridcase_http_requests_total{method="POST",route="/graphql",status="200"} 1"#
    ));
    // Route templates, never ids.
    assert!(!text.contains("DSC-"));
}
