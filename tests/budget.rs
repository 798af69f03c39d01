//! Upstream call budgets: one call per resource per level of a query, however many
//! clients ask at once. Counts come from the simulators' `/__sim/stats`. A binary
//! of its own so the counts are read with no other test's calls mixed in.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use gridcase::sim::Platform;
use serde_json::{json, Value};

use helpers::*;

fn issues_of(data: &Value) -> Vec<Value> {
    nodes(&data["partnerIssues"])
}

/// A gateway with no entity cache, so every query reaches the upstreams.
async fn uncached() -> TestApp {
    spawn_app_with(&[("GRIDCASE_CACHE", "off".to_owned())]).await
}

/// Upstream calls made while `clients` concurrent clients each run `query` once
/// (after one warm-up run, which also fetches each platform's OAuth2 token).
async fn calls_for(app: &TestApp, token: &str, query: &str, clients: usize) -> (u64, Value) {
    app.data(token, query, json!({})).await;
    app.reset_upstream_calls().await;
    let answers =
        futures::future::join_all((0..clients).map(|_| app.data(token, query, json!({})))).await;
    let (tg, tg_routes) = app.upstream_calls(Platform::TradingGrid).await;
    let (cc, cc_routes) = app.upstream_calls(Platform::CoreCase).await;
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every client gets the same answer"
    );
    (
        tg + cc,
        json!({ "trading_grid": tg_routes, "core_case": cc_routes, "data": answers[0] }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_query_makes_seven_upstream_calls() {
    let app = uncached().await;
    let (calls, seen) = calls_for(&app, &agent(), DASHBOARD, 1).await;
    // Trading Grid: discussions, partners, documents, transactions; Core Case:
    // cases, case documents, resolutions.
    assert_eq!(calls, 7, "{seen:#}");
    // The budget is met with the data actually there, not by leaving it out.
    let issues = issues_of(&seen["data"]);
    let evidence: usize = issues
        .iter()
        .filter_map(|i| i["case"]["evidence"].as_array())
        .map(Vec::len)
        .sum();
    assert!(evidence > 0, "cases on the dashboard carry evidence");
    assert!(
        issues
            .iter()
            .any(|i| i["case"]["resolution"]["summary"].is_string()),
        "some cases on the dashboard are resolved"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_dashboards_make_seven_upstream_calls_each() {
    let app = uncached().await;
    let (calls, seen) = calls_for(&app, &agent(), DASHBOARD, 32).await;
    assert!(calls <= 7 * 32, "{calls} calls for 32 dashboards: {seen:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_concurrent_partner_dashboards_stay_within_the_same_budget() {
    let app = uncached().await;
    let (calls, seen) = calls_for(&app, &partner("TP-0001"), DASHBOARD, 32).await;
    assert!(calls <= 7 * 32, "{calls} calls for 32 dashboards: {seen:#}");
    assert!(!issues_of(&seen["data"]).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_list_with_every_relation_makes_one_call_per_resource_per_level() {
    let app = uncached().await;
    let query = r#"{ cases(first: 50) { edges { node {
      number milestone partner { name } issue { title } transactions { id status }
      evidence { name } resolution { summary } } } } }"#;
    let (calls, seen) = calls_for(&app, &agent(), query, 32).await;
    // cases; then partners, discussions, transactions, case documents,
    // resolutions; then the community documents the evidence links.
    assert!(calls <= 7 * 32, "{calls} calls: {seen:#}");
    assert!(nodes(&seen["data"]["cases"])
        .iter()
        .any(|c| !c["evidence"].as_array().unwrap().is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_list_with_its_issues_and_cases_makes_four_calls() {
    let app = uncached().await;
    let query = r#"{ transactions(first: 50) { edges { node {
      id status partner { name } issues { title } cases { number } } } } }"#;
    let (calls, seen) = calls_for(&app, &agent(), query, 32).await;
    // transactions; then partners, discussions by transaction, cases by transaction.
    assert!(calls <= 4 * 32, "{calls} calls: {seen:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolution_search_with_cases_and_partners_makes_three_calls() {
    let app = uncached().await;
    let query = r#"{ resolutions(search: "carrier", first: 50) { edges { node {
      summary case { number partner { name } } } } } }"#;
    let (calls, seen) = calls_for(&app, &agent(), query, 32).await;
    assert!(calls <= 3 * 32, "{calls} calls: {seen:#}");
    assert!(!nodes(&seen["data"]["resolutions"]).is_empty());
    // A partner's search loads the cases in the list resolver to check them; the
    // case fields below reuse those records.
    let (calls, seen) = calls_for(&app, &partner("TP-0001"), query, 32).await;
    assert!(calls <= 3 * 32, "{calls} calls: {seen:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_lists_make_one_list_call_per_parent_and_one_batch_per_level_below() {
    let app = uncached().await;
    let query = r#"{ tradingPartners(first: 10) { edges { node {
      name issues(first: 5) { edges { node { title partner { name } case { milestone evidence { name } } } } } } } } }"#;
    let (calls, seen) = calls_for(&app, &agent(), query, 32).await;
    let partners = nodes(&seen["data"]["tradingPartners"]).len() as u64;
    assert!(partners > 1);
    // partners; one issue page per partner; then partners and cases; then case
    // documents; then the community documents the evidence links.
    let per_query = 1 + partners + 2 + 1 + 1;
    assert!(calls <= per_query * 32, "{calls} calls: {seen:#}");
}
