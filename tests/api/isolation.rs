//! A partner token sees its own partner's data on every path, and never internal case detail.

use serde_json::{json, Value};

use crate::helpers::*;

const OWN: &str = "TP-0001";

/// Ids of another partner's issue, case, transaction and document.
async fn someone_elses(app: &TestApp) -> Value {
    let data = app
        .data(
            &agent(),
            r#"{ partnerIssues(first: 50, filter: { partnerId: "TP-0002" }) { edges { node {
                 id documents { id } transactions { id } case { id } } } } }"#,
            json!({}),
        )
        .await;
    let issues = nodes(&data["partnerIssues"]);
    let pick = |f: &dyn Fn(&Value) -> Option<Value>| issues.iter().find_map(f).expect("seeded");
    json!({
        "issue": issues[0]["id"],
        "case": pick(&|i| i["case"]["id"].as_str().map(|s| json!(s))),
        "transaction": pick(&|i| i["transactions"][0]["id"].as_str().map(|s| json!(s))),
        "document": pick(&|i| i["documents"][0]["id"].as_str().map(|s| json!(s))),
    })
}

#[tokio::test]
async fn a_partner_dashboard_holds_only_that_partners_records() {
    let app = spawn_app().await;
    let data = app
        .data(
            &partner(OWN),
            r#"{ partnerIssues(first: 100) { edges { node {
                 partner { id }
                 documents { partner { id } }
                 transactions { partner { id } issues { partner { id } } cases { partner { id } } }
                 case { partner { id } evidence { partner { id } cases { partner { id } } } resolution { case { partner { id } } } }
               } } }
               cases(first: 100) { edges { node { partner { id } } } }
               transactions(first: 100) { edges { node { partner { id } } } }
               tradingPartners(first: 100) { edges { node { id } } } }"#,
            json!({}),
        )
        .await;
    assert!(!nodes(&data["partnerIssues"]).is_empty());
    // Every partner id anywhere in the answer is the caller's own.
    fn walk(v: &Value, seen: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(p)) = m.get("partner") {
                    if let Some(id) = p.get("id").and_then(Value::as_str) {
                        seen.push(id.to_owned());
                    }
                }
                m.values().for_each(|x| walk(x, seen));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, seen)),
            _ => {}
        }
    }
    let mut seen = Vec::new();
    walk(&data, &mut seen);
    assert!(seen.len() > 20, "the answer is not trivially empty");
    assert!(seen.iter().all(|p| p == OWN), "foreign partner in {seen:?}");
    let partners = nodes(&data["tradingPartners"]);
    assert_eq!(partners.len(), 1);
    assert_eq!(partners[0]["id"], OWN);
}

#[tokio::test]
async fn another_partners_records_are_null_by_id_and_by_node() {
    let app = spawn_app().await;
    let other = someone_elses(&app).await;
    let data = app
        .graphql(
            &partner(OWN),
            r#"query($i: ID!, $c: ID!, $t: ID!, $d: ID!) {
                 partnerIssue(id: $i) { id } case(id: $c) { id } transaction(id: $t) { id }
                 document(id: $d) { id } tradingPartner(id: "TP-0002") { id }
                 n1: node(id: $i) { id } n2: node(id: $c) { id } n3: node(id: $d) { id } }"#,
            json!({ "i": other["issue"], "c": other["case"], "t": other["transaction"], "d": other["document"] }),
        )
        .await;
    assert!(data.get("errors").is_none(), "{data:#}");
    for (_, v) in data["data"].as_object().unwrap() {
        assert!(v.is_null(), "leaked: {data:#}");
    }
}

#[tokio::test]
async fn a_partner_cannot_list_another_partners_records() {
    let app = spawn_app().await;
    for q in [
        r#"{ partnerIssues(filter: { partnerId: "TP-0002" }) { edges { node { id } } } }"#,
        r#"{ cases(filter: { partnerId: "TP-0002" }) { edges { node { id } } } }"#,
        r#"{ transactions(filter: { partnerId: "TP-0002" }) { edges { node { id } } } }"#,
    ] {
        let body = app.graphql(&partner(OWN), q, json!({})).await;
        assert_eq!(error_codes(&body), vec!["FORBIDDEN"], "{q}: {body:#}");
    }
}

#[tokio::test]
async fn internal_case_fields_are_forbidden_to_partners() {
    let app = spawn_app().await;
    let data = app
        .data(
            &partner(OWN),
            r#"{ cases(first: 1) { edges { node { id } } } }"#,
            json!({}),
        )
        .await;
    let case = nodes(&data["cases"])[0]["id"].clone();
    for field in [
        "status",
        "priority",
        "title",
        "description",
        "assignee",
        "team",
        "slaDueAt",
        "tasks { id }",
        "notes { body }",
        "history { action }",
    ] {
        let body = app
            .graphql(
                &partner(OWN),
                &format!("query($id: ID!) {{ case(id: $id) {{ id milestone {field} }} }}"),
                json!({ "id": case }),
            )
            .await;
        assert_eq!(error_codes(&body), vec!["FORBIDDEN"], "{field}: {body:#}");
        assert_eq!(
            body["data"]["case"]["id"], case,
            "partner-safe fields still answer"
        );
        let text = body.to_string();
        assert!(!text.contains("[internal]"), "internal text leaked: {text}");
    }
    let body = app
        .graphql(
            &partner(OWN),
            r#"{ cases(filter: { statuses: [ON_HOLD] }) { edges { node { id } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_codes(&body), vec!["FORBIDDEN"]);
}

#[tokio::test]
async fn partners_see_only_resolutions_shared_with_them_and_no_uploaded_evidence() {
    let app = spawn_app().await;
    // What an agent sees of TP-0001's cases...
    let q = r#"{ cases(first: 100, filter: { partnerId: "TP-0001" }) { edges { node {
                 id evidence { id source } resolution { id } } } } }"#;
    let staff = nodes(&app.data(&agent(), q, json!({})).await["cases"]);
    let seen = nodes(&app.data(&partner(OWN), q, json!({})).await["cases"]);
    assert_eq!(staff.len(), seen.len());
    for (s, p) in staff.iter().zip(&seen) {
        assert_eq!(s["id"], p["id"]);
        // ...the partner sees the community documents only.
        let community: Vec<&Value> = s["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["source"] == "TRADING_GRID")
            .collect();
        assert_eq!(p["evidence"].as_array().unwrap().len(), community.len());
    }
    let shared = app
        .data(
            &agent(),
            r#"{ cases(first: 100, filter: { partnerId: "TP-0001", milestones: [RESOLVED] }) { edges { node { id resolution { sharedWithPartner } } } } }"#,
            json!({}),
        )
        .await;
    for c in nodes(&shared["cases"]) {
        let visible = seen.iter().find(|p| p["id"] == c["id"]).unwrap();
        let shared = c["resolution"]["sharedWithPartner"] == true;
        assert_eq!(!visible["resolution"].is_null(), shared, "case {}", c["id"]);
    }
}
