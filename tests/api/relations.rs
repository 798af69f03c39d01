//! Relations crossing the two platforms, in both directions.

use serde_json::{json, Value};

use crate::helpers::*;

/// An issue with a case, documents, transactions, and evidence on the case.
async fn rich_issue(app: &TestApp) -> Value {
    let data = app
        .data(
            &agent(),
            r#"{ partnerIssues(first: 100) { edges { node {
                 id documents { id } transactions { id }
                 case { id evidence { id } resolution { summary } } } } } }"#,
            json!({}),
        )
        .await;
    nodes(&data["partnerIssues"])
        .into_iter()
        .find(|i| {
            !i["case"].is_null()
                && !i["documents"].as_array().unwrap().is_empty()
                && !i["transactions"].as_array().unwrap().is_empty()
                && !i["case"]["evidence"].as_array().unwrap().is_empty()
        })
        .expect("the seeded world has an issue with case, documents, transactions and evidence")
}

#[tokio::test]
async fn issue_and_case_point_at_each_other() {
    let app = spawn_app().await;
    let issue = rich_issue(&app).await;
    let data = app
        .data(
            &agent(),
            r#"query($id: ID!) { case(id: $id) { issue { id case { id } } partner { id } } }"#,
            json!({ "id": issue["case"]["id"] }),
        )
        .await;
    assert_eq!(data["case"]["issue"]["id"], issue["id"]);
    assert_eq!(data["case"]["issue"]["case"]["id"], issue["case"]["id"]);
}

#[tokio::test]
async fn case_evidence_documents_lead_back_to_the_case_and_the_issue() {
    let app = spawn_app().await;
    let issue = rich_issue(&app).await;
    let doc = issue["case"]["evidence"][0]["id"].clone();
    let data = app
        .data(
            &agent(),
            r#"query($id: ID!) { document(id: $id) { id sha256 source downloadUrl cases { id } issue { id } partner { id } } }"#,
            json!({ "id": doc }),
        )
        .await;
    let d = &data["document"];
    assert!(d["cases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == issue["case"]["id"]));
    assert!(d["issue"]["id"].is_string());
    assert_eq!(
        d["downloadUrl"],
        format!("/documents/{}/content", doc.as_str().unwrap())
    );
}

#[tokio::test]
async fn transactions_lead_to_their_issues_and_cases() {
    let app = spawn_app().await;
    let issue = rich_issue(&app).await;
    let tx = issue["transactions"][0]["id"].clone();
    let data = app
        .data(
            &agent(),
            r#"query($id: ID!) { transaction(id: $id) { id issues { id } cases { id } partner { id } } }"#,
            json!({ "id": tx }),
        )
        .await;
    let t = &data["transaction"];
    assert!(t["issues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["id"] == issue["id"]));
    assert!(t["cases"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == issue["case"]["id"]));
    // And the case lists the transaction.
    let case = app
        .data(
            &agent(),
            r#"query($id: ID!) { case(id: $id) { transactions { id } } }"#,
            json!({ "id": issue["case"]["id"] }),
        )
        .await;
    assert!(case["case"]["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == tx));
}

#[tokio::test]
async fn exception_cases_reach_their_failed_transaction() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            r#"{ cases(first: 100, filter: { types: [TRANSACTION_EXCEPTION] }) { edges { node {
                 id issue { id } transactions { id status errors { code } } } } } }"#,
            json!({}),
        )
        .await;
    let cases = nodes(&data["cases"]);
    assert!(!cases.is_empty());
    for c in &cases {
        assert!(c["issue"].is_null());
        let txs = c["transactions"].as_array().unwrap();
        assert_eq!(txs.len(), 1);
        assert_ne!(txs[0]["status"], "DELIVERED");
    }
}

#[tokio::test]
async fn node_resolves_every_kind_of_id() {
    let app = spawn_app().await;
    let issue = rich_issue(&app).await;
    let ids = [
        ("TP-0001", "TradingPartner"),
        (issue["id"].as_str().unwrap(), "PartnerIssue"),
        (issue["documents"][0]["id"].as_str().unwrap(), "Document"),
        (
            issue["transactions"][0]["id"].as_str().unwrap(),
            "Transaction",
        ),
        (issue["case"]["id"].as_str().unwrap(), "Case"),
    ];
    for (id, typename) in ids {
        let data = app
            .data(
                &agent(),
                r#"query($id: ID!) { node(id: $id) { __typename id } }"#,
                json!({ "id": id }),
            )
            .await;
        assert_eq!(data["node"]["__typename"], typename);
        assert_eq!(data["node"]["id"], id);
    }
}

#[tokio::test]
async fn agents_see_internal_case_detail() {
    let app = spawn_app().await;
    let issue = rich_issue(&app).await;
    let data = app
        .data(
            &agent(),
            r#"query($id: ID!) { case(id: $id) { status priority team title description tasks { title team state } notes { body } history { action } } }"#,
            json!({ "id": issue["case"]["id"] }),
        )
        .await;
    let c = &data["case"];
    assert!(c["status"].is_string());
    assert!(!c["tasks"].as_array().unwrap().is_empty());
    assert!(!c["history"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn an_issue_carries_its_conversation_and_attachments() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            r#"{ partnerIssues(first: 40) { edges { node {
                 id messageCount documents { id }
                 messages { author { name role } body createdAt documents { id issue { id } } } } } } }"#,
            json!({}),
        )
        .await;
    let issues = nodes(&data["partnerIssues"]);
    for i in &issues {
        let messages = i["messages"].as_array().unwrap();
        assert_eq!(messages.len() as u64, i["messageCount"].as_u64().unwrap());
        let times: Vec<&str> = messages
            .iter()
            .map(|m| m["createdAt"].as_str().unwrap())
            .collect();
        let mut sorted = times.clone();
        sorted.sort();
        assert_eq!(times, sorted, "oldest message first");
    }
    let attached: Vec<&Value> = issues
        .iter()
        .flat_map(|i| i["messages"].as_array().unwrap())
        .flat_map(|m| m["documents"].as_array().unwrap())
        .collect();
    assert!(!attached.is_empty(), "some messages carry documents");
    assert!(issues
        .iter()
        .flat_map(|i| i["messages"].as_array().unwrap())
        .any(|m| m["author"]["role"] == "PARTNER"));
}

#[tokio::test]
async fn a_partner_lists_its_own_issues_cases_and_transactions() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            r#"{ tradingPartner(id: "TP-0003") { name tier
                 issues(first: 100) { edges { node { partner { id } } } }
                 cases(first: 100) { edges { node { partner { id } } } }
                 transactions(first: 10) { edges { node { partner { id } } } pageInfo { hasNextPage } } } }"#,
            json!({}),
        )
        .await;
    let p = &data["tradingPartner"];
    for list in ["issues", "cases", "transactions"] {
        let items = nodes(&p[list]);
        assert!(!items.is_empty(), "{list}");
        assert!(
            items.iter().all(|n| n["partner"]["id"] == "TP-0003"),
            "{list}"
        );
    }
    assert_eq!(p["transactions"]["pageInfo"]["hasNextPage"], true);
}
