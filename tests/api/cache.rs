//! The entity cache: warm queries make no upstream calls, changes seen by
//! webhook are fresh on the next read (on every replica), authorization still
//! runs on every read, and a lost Redis costs no answer.

use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;

async fn upstream_total(app: &TestApp) -> (u64, Value) {
    let (tg, tg_routes) = app.upstream_calls(Platform::TradingGrid).await;
    let (cc, cc_routes) = app.upstream_calls(Platform::CoreCase).await;
    (
        tg + cc,
        json!({ "trading_grid": tg_routes, "core_case": cc_routes }),
    )
}

/// Run the dashboard once to fill the cache, then once more counting calls.
async fn warm_dashboard_calls(app: &TestApp, token: &str) -> (u64, Value, Value) {
    let cold = app.data(token, DASHBOARD, json!({})).await;
    app.reset_upstream_calls().await;
    let warm = app.data(token, DASHBOARD, json!({})).await;
    let (calls, routes) = upstream_total(app).await;
    assert_eq!(cold, warm, "the cache answers what the platforms answered");
    (calls, routes, warm)
}

fn redis_settings(redis: &TestRedis, name: &str) -> [(&'static str, String); 2] {
    [
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        (
            "GRIDCASE_REDIS_NAMESPACE",
            format!("cache-{name}-{}", std::process::id()),
        ),
    ]
}

/// Replicas caching in memory, sharing `redis` (for their evictions, among the rest).
fn memory_cache_sharing(redis: &TestRedis, name: &str) -> [(&'static str, String); 3] {
    let [url, namespace] = redis_settings(redis, name);
    [url, namespace, ("GRIDCASE_CACHE", "memory".to_owned())]
}

#[tokio::test]
async fn a_warm_dashboard_makes_no_upstream_call_with_the_memory_cache() {
    let app = spawn_app().await;
    let (calls, routes, data) = warm_dashboard_calls(&app, &agent()).await;
    assert_eq!(calls, 0, "{routes:#}");
    assert!(!nodes(&data["partnerIssues"]).is_empty());
}

#[tokio::test]
async fn a_warm_dashboard_makes_no_upstream_call_with_the_redis_cache() {
    let redis = test_redis();
    let app = spawn_app_with(&redis_settings(&redis, "warm")).await;
    let (calls, routes, _) = warm_dashboard_calls(&app, &partner("TP-0001")).await;
    assert_eq!(calls, 0, "{routes:#}");
}

#[tokio::test]
async fn with_the_cache_off_every_dashboard_asks_the_platforms() {
    let app = spawn_app_with(&[("GRIDCASE_CACHE", "off".to_owned())]).await;
    let (calls, _, _) = warm_dashboard_calls(&app, &agent()).await;
    assert_eq!(calls, 7);
}

#[tokio::test]
async fn a_partner_never_gets_another_partners_cached_records() {
    let app = spawn_app().await;
    // The agent's dashboard puts every partner's issues and cases in the cache.
    let all = app.data(&agent(), DASHBOARD, json!({})).await;
    let theirs = nodes(&all["partnerIssues"])
        .into_iter()
        .find(|i| i["case"]["id"].is_string())
        .expect("an issue with a case");
    let owner = theirs["partner"]["id"].as_str().unwrap().to_owned();
    let stranger = if owner == "TP-0002" {
        "TP-0003"
    } else {
        "TP-0002"
    };
    let by_id = r#"query($issue: ID!, $case: ID!) {
        partnerIssue(id: $issue) { id } case(id: $case) { id milestone } node(id: $case) { id } }"#;
    let vars = json!({ "issue": theirs["id"], "case": theirs["case"]["id"] });
    // Their partner reads them (from the cache) …
    let own = app.data(&partner(&owner), by_id, vars.clone()).await;
    assert_eq!(own["case"]["id"], theirs["case"]["id"]);
    // … another partner reading the same cached records gets nothing.
    let other = app.data(&partner(stranger), by_id, vars).await;
    assert_eq!(
        other,
        json!({ "partnerIssue": null, "case": null, "node": null })
    );
    let dashboard = app.data(&partner(stranger), DASHBOARD, json!({})).await;
    for issue in nodes(&dashboard["partnerIssues"]) {
        assert_eq!(issue["partner"]["id"], stranger);
    }
}

#[tokio::test]
async fn concurrent_cold_requests_for_one_case_make_one_upstream_call() {
    let app = spawn_app().await;
    // Tokens fetched, nothing about this case cached yet.
    app.data(&agent(), "{ me { role } }", json!({})).await;
    app.data(&agent(), r#"{ case(id: "CASE-000001") { id } }"#, json!({}))
        .await;
    app.reset_upstream_calls().await;
    let query = r#"{ case(id: "CASE-000003") { id number } }"#;
    let token = agent();
    let answers =
        futures::future::join_all((0..16).map(|_| app.data(&token, query, json!({})))).await;
    assert!(answers.iter().all(|a| a["case"]["id"] == "CASE-000003"));
    let (calls, routes) = upstream_total(&app).await;
    assert_eq!(calls, 1, "{routes:#}");
}

/// A case on the dashboard that is not resolved, and a status that moves its milestone.
async fn a_case_to_move(app: &TestApp, gateway: &str) -> (String, &'static str, &'static str) {
    let q = r#"{ cases(first: 1, filter: { milestones: [RECEIVED, UNDER_REVIEW] }) {
        edges { node { id milestone } } } }"#;
    let body: Value = app
        .http
        .post(format!("{gateway}/graphql"))
        .bearer_auth(agent())
        .json(&json!({ "query": q }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = nodes(&body["data"]["cases"]).remove(0);
    let id = case["id"].as_str().unwrap().to_owned();
    if case["milestone"] == "UNDER_REVIEW" {
        (id, "waiting_on_partner", "AWAITING_DOCUMENTS")
    } else {
        (id, "in_progress", "UNDER_REVIEW")
    }
}

async fn milestone_at(app: &TestApp, gateway: &str, case: &str) -> Value {
    let body: Value = app
        .http
        .post(format!("{gateway}/graphql"))
        .bearer_auth(agent())
        .json(&json!({ "query": "query($id: ID!) { case(id: $id) { milestone } }", "variables": { "id": case } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["data"]["case"]["milestone"].clone()
}

#[tokio::test]
async fn a_case_status_webhook_makes_the_next_read_fresh_on_every_replica() {
    let redis = test_redis();
    let shared = redis_settings(&redis, "replicas");
    // Webhooks go to `app`; `other` shares its Redis.
    let app = spawn_app_with(&shared).await;
    let (other, _stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &shared).await;
    let (case, status, moved_to) = a_case_to_move(&app, &app.url).await;
    let before = milestone_at(&app, &other, &case).await;
    assert_ne!(before, moved_to);
    // Cached now: a read makes no call.
    app.reset_upstream_calls().await;
    assert_eq!(milestone_at(&app, &other, &case).await, before);
    assert_eq!(upstream_total(&app).await.0, 0);

    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case, "status": status }),
    )
    .await;
    app.webhooks_settled().await;

    assert_eq!(milestone_at(&app, &other, &case).await, moved_to);
    assert_eq!(milestone_at(&app, &app.url, &case).await, moved_to);
}

#[tokio::test]
async fn a_case_status_webhook_makes_the_next_read_fresh_with_the_memory_cache() {
    let app = spawn_app().await;
    let (case, status, moved_to) = a_case_to_move(&app, &app.url).await;
    let before = milestone_at(&app, &app.url, &case).await;
    assert_ne!(before, moved_to);
    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case, "status": status }),
    )
    .await;
    app.webhooks_settled().await;
    assert_eq!(milestone_at(&app, &app.url, &case).await, moved_to);
}

#[tokio::test]
async fn memory_caches_of_replicas_sharing_redis_evict_together() {
    let redis = test_redis();
    let shared = memory_cache_sharing(&redis, "fanout");
    // Webhooks go to `app`; `other` caches in its own memory.
    let app = spawn_app_with(&shared).await;
    let (other, _stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &shared).await;
    let (case, status, moved_to) = a_case_to_move(&app, &app.url).await;
    let before = milestone_at(&app, &other, &case).await;
    assert_ne!(before, moved_to);
    app.reset_upstream_calls().await;
    assert_eq!(milestone_at(&app, &other, &case).await, before);
    assert_eq!(
        upstream_total(&app).await.0,
        0,
        "cached in the other replica's memory"
    );
    let evictions = "gridcase_cache_remote_evictions_total";
    let received = metric(&app.http, &other, evictions, "").await;

    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case, "status": status }),
    )
    .await;
    app.webhooks_settled().await;

    // Pub/sub delivery follows the acknowledgement; the entry's TTL (minutes)
    // is far beyond this wait, so only the shared eviction can make it fresh.
    eventually("the other replica's memory cache is fresh", || async {
        (milestone_at(&app, &other, &case).await == moved_to).then_some(())
    })
    .await;
    assert!(metric(&app.http, &other, evictions, "").await > received);
    assert_eq!(milestone_at(&app, &app.url, &case).await, moved_to);
}

#[tokio::test]
async fn a_replica_that_lost_the_eviction_channel_empties_its_memory_cache() {
    let redis = test_redis();
    let shared = memory_cache_sharing(&redis, "resubscribe");
    let app = spawn_app_with(&shared).await;
    let (case, _, _) = a_case_to_move(&app, &app.url).await;
    milestone_at(&app, &app.url, &case).await;
    app.reset_upstream_calls().await;
    milestone_at(&app, &app.url, &case).await;
    assert_eq!(upstream_total(&app).await.0, 0, "cached");

    // Evictions published while it was not subscribed are lost to it.
    let resubscribed = "gridcase_cache_fanout_resubscribed_total";
    let mut kill = redis::cmd("CLIENT");
    kill.arg("KILL").arg("TYPE").arg("pubsub");
    let killed: i64 = redis_query(&redis.url, &kill).await;
    assert!(killed >= 1);
    eventually("the eviction channel is subscribed again", || async {
        (app.metric(resubscribed, "").await >= 1.0).then_some(())
    })
    .await;

    milestone_at(&app, &app.url, &case).await;
    assert!(upstream_total(&app).await.0 > 0, "asked the platform again");
}

#[tokio::test]
async fn losing_redis_mid_run_costs_no_answer() {
    let redis = test_redis();
    let app = spawn_app_with(&redis_settings(&redis, "outage")).await;
    let token = partner("TP-0001");
    let cached = app.data(&token, DASHBOARD, json!({})).await;
    drop(redis); // stops the redis-server
    for _ in 0..3 {
        let body = app.graphql(&token, DASHBOARD, json!({})).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(body["data"], cached);
    }
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

async fn post(app: &TestApp, body: Value) -> Value {
    app.http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(agent())
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_persisted_query_round_trips_by_its_hash() {
    let app = spawn_app().await;
    let query = r#"{ case(id: "CASE-000001") { id number } }"#;
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(query) } });

    // Unknown hash: the client is told to send the query.
    let first = post(&app, json!({ "extensions": ext })).await;
    assert_eq!(error_codes(&first), ["PERSISTED_QUERY_NOT_FOUND"]);
    assert_eq!(first["errors"][0]["message"], "PersistedQueryNotFound");
    // Hash and query together: answered and stored.
    let full = post(&app, json!({ "query": query, "extensions": ext })).await;
    assert_eq!(full["data"]["case"]["id"], "CASE-000001");
    // From now on the hash alone is enough, by POST or GET.
    let by_hash = post(&app, json!({ "extensions": ext })).await;
    assert_eq!(by_hash["data"], full["data"]);
    let by_get: Value = app
        .http
        .get(format!("{}/graphql", app.url))
        .header("apollo-require-preflight", "true")
        .query(&[("extensions", ext.to_string())])
        .bearer_auth(agent())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(by_get["data"], full["data"]);
}

#[tokio::test]
async fn a_persisted_query_whose_hash_does_not_match_is_refused() {
    let app = spawn_app().await;
    let ext =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex("{ me { role } }") } });
    let body = post(
        &app,
        json!({ "query": "{ me { subject } }", "extensions": ext }),
    )
    .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
    let bad = json!({ "persistedQuery": { "version": 1, "sha256Hash": "not-a-hash" } });
    let body = post(&app, json!({ "extensions": bad })).await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn a_stored_mutation_is_not_run_from_a_get() {
    let app = spawn_app().await;
    let mutation = r#"mutation { publishStatus(input: { caseId: "CASE-000001", message: "x" }) { case { id } } }"#;
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(mutation) } });
    post(&app, json!({ "query": mutation, "extensions": ext })).await;
    let by_get: Value = app
        .http
        .get(format!("{}/graphql", app.url))
        .header("apollo-require-preflight", "true")
        .query(&[("extensions", ext.to_string())])
        .bearer_auth(agent())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(error_codes(&by_get), ["BAD_USER_INPUT"], "{by_get:#}");
    assert_eq!(
        by_get["errors"][0]["message"],
        "mutations must be sent with POST"
    );
}
