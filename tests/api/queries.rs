//! The portal's read paths: the dashboard, its upstream call budget, pagination, filters.

use serde_json::{json, Value};

use crate::helpers::*;

fn issues_of(data: &Value) -> Vec<Value> {
    nodes(&data["partnerIssues"])
}

#[tokio::test]
async fn the_dashboard_query_returns_issues_with_data_from_both_platforms() {
    let app = spawn_app().await;
    let data = app.data(&agent(), DASHBOARD, json!({})).await;
    let issues = issues_of(&data);
    assert_eq!(issues.len(), 50);
    assert!(issues.iter().all(|i| i["partner"]["name"].is_string()));
    let with_case: Vec<&Value> = issues.iter().filter(|i| !i["case"].is_null()).collect();
    assert!(!with_case.is_empty(), "some issues are tracked by a case");
    assert!(with_case.iter().all(|i| i["case"]["milestone"].is_string()));
    assert!(issues
        .iter()
        .any(|i| !i["documents"].as_array().unwrap().is_empty()));
    assert!(issues
        .iter()
        .any(|i| !i["transactions"].as_array().unwrap().is_empty()));
}

#[tokio::test]
async fn paging_with_end_cursor_continues_without_gaps_or_repeats() {
    let app = spawn_app().await;
    let q = r#"query($first: Int!, $after: String) {
        partnerIssues(first: $first, after: $after) {
          edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"#;
    let all = app.data(&agent(), q, json!({ "first": 30 })).await;
    let all_ids: Vec<Value> = issues_of(&all).iter().map(|n| n["id"].clone()).collect();

    let first = app.data(&agent(), q, json!({ "first": 10 })).await;
    assert_eq!(first["partnerIssues"]["pageInfo"]["hasNextPage"], true);
    let end = first["partnerIssues"]["pageInfo"]["endCursor"].clone();
    let second = app
        .data(&agent(), q, json!({ "first": 20, "after": end }))
        .await;
    let mut paged: Vec<Value> = issues_of(&first).iter().map(|n| n["id"].clone()).collect();
    paged.extend(issues_of(&second).iter().map(|n| n["id"].clone()));
    assert_eq!(paged, all_ids);

    // Resuming after an edge in the middle of a page works too.
    let mid = first["partnerIssues"]["edges"][4]["cursor"].clone();
    let resumed = app
        .data(&agent(), q, json!({ "first": 3, "after": mid }))
        .await;
    let resumed: Vec<Value> = issues_of(&resumed)
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(resumed, all_ids[5..8].to_vec());
}

#[tokio::test]
async fn filters_narrow_issues_cases_and_transactions() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            r#"{
              partnerIssues(first: 100, filter: { partnerId: "TP-0002", kinds: [INVOICE_DISCREPANCY] }) {
                edges { node { kind partner { id } } } }
              cases(first: 100, filter: { milestones: [AWAITING_DOCUMENTS] }) {
                edges { node { milestone status } } }
              transactions(first: 50, filter: { statuses: [FAILED, REJECTED] }) {
                edges { node { status errors { code message } } } }
            }"#,
            json!({}),
        )
        .await;
    let issues = nodes(&data["partnerIssues"]);
    assert!(!issues.is_empty());
    for i in issues {
        assert_eq!(i["kind"], "INVOICE_DISCREPANCY");
        assert_eq!(i["partner"]["id"], "TP-0002");
    }
    let cases = nodes(&data["cases"]);
    assert!(!cases.is_empty());
    for c in cases {
        assert_eq!(c["milestone"], "AWAITING_DOCUMENTS");
        assert_eq!(c["status"], "WAITING_ON_PARTNER");
    }
    let txs = nodes(&data["transactions"]);
    assert!(!txs.is_empty());
    for t in txs {
        assert!(t["status"] == "FAILED" || t["status"] == "REJECTED");
        assert!(
            !t["errors"].as_array().unwrap().is_empty(),
            "failed transactions say why"
        );
    }
}

#[tokio::test]
async fn resolutions_are_searchable() {
    let app = spawn_app().await;
    let some = app
        .data(
            &agent(),
            r#"{ cases(first: 100, filter: { milestones: [RESOLVED] }) { edges { node { resolution { rootCause } } } } }"#,
            json!({}),
        )
        .await;
    let word = nodes(&some["cases"])
        .iter()
        .find_map(|c| c["resolution"]["rootCause"].as_str().map(str::to_owned))
        .expect("a resolved case with a root cause")
        .split_whitespace()
        .find(|w| w.len() > 5)
        .unwrap()
        .to_owned();
    let found = app
        .data(
            &agent(),
            r#"query($q: String!) { resolutions(search: $q, first: 20) { edges { node { rootCause summary correctiveActions case { id } } } } }"#,
            json!({ "q": word }),
        )
        .await;
    let hits = nodes(&found["resolutions"]);
    assert!(!hits.is_empty());
    let needle = word.to_lowercase();
    for r in hits {
        let text = format!(
            "{} {} {}",
            r["summary"], r["rootCause"], r["correctiveActions"]
        )
        .to_lowercase();
        assert!(text.contains(&needle), "{needle} not in {text}");
        assert!(r["case"]["id"].is_string());
    }
}
