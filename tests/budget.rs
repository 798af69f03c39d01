//! Upstream call budgets. A binary of its own: batching is time-windowed, and on a
//! small machine the rest of the suite running in parallel could starve a request
//! long enough to split a batch, which would measure the machine, not the gateway.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use gridcase::sim::Platform;
use serde_json::{json, Value};

use helpers::*;

fn issues_of(data: &Value) -> Vec<Value> {
    nodes(&data["partnerIssues"])
}

#[tokio::test]
async fn the_dashboard_query_makes_at_most_eight_upstream_calls() {
    let app = spawn_app().await;
    // The first query also fetches one OAuth2 token per platform, cached afterwards.
    app.data(&agent(), DASHBOARD, json!({})).await;
    app.reset_upstream_calls().await;

    let data = app.data(&agent(), DASHBOARD, json!({})).await;

    let (tg, tg_routes) = app.upstream_calls(Platform::TradingGrid).await;
    let (cc, cc_routes) = app.upstream_calls(Platform::CoreCase).await;
    assert!(
        tg + cc <= 8,
        "{tg} Trading Grid + {cc} Core Case calls: {tg_routes:#} {cc_routes:#}"
    );
    // The budget is met with the data actually there, not by leaving it out.
    let issues = issues_of(&data);
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

#[tokio::test]
async fn the_partner_dashboard_stays_within_the_same_budget() {
    let app = spawn_app().await;
    let token = partner("TP-0001");
    app.data(&token, DASHBOARD, json!({})).await;
    app.reset_upstream_calls().await;
    let data = app.data(&token, DASHBOARD, json!({})).await;
    let (tg, _) = app.upstream_calls(Platform::TradingGrid).await;
    let (cc, _) = app.upstream_calls(Platform::CoreCase).await;
    assert!(tg + cc <= 8, "{tg} + {cc} calls");
    assert!(!issues_of(&data).is_empty());
}
