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
    // Every partner id anywhere in the answer is the caller's own. A record of
    // another partner would show its partner as null (not visible), so null counts too.
    fn walk(v: &Value, seen: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                match m.get("partner") {
                    Some(Value::Object(p)) => {
                        seen.push(p["id"].as_str().unwrap_or("<no id>").to_owned())
                    }
                    Some(other) => seen.push(format!("<{other}>")),
                    None => {}
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

/// A resolved case whose resolution was not shared, and its partner.
async fn unshared_resolution(app: &TestApp) -> (String, String) {
    let data = app
        .data(
            &agent(),
            r#"{ cases(first: 100, filter: { milestones: [RESOLVED] }) { edges { node {
                 id partner { id } resolution { sharedWithPartner } } } } }"#,
            json!({}),
        )
        .await;
    nodes(&data["cases"])
        .into_iter()
        .find(|c| c["resolution"]["sharedWithPartner"] == false)
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["partner"]["id"].as_str().unwrap().to_owned(),
            )
        })
        .expect("the seeded world has an unshared resolution")
}

#[tokio::test]
async fn a_resolution_not_shared_with_the_partner_stays_hidden_from_it() {
    let app = spawn_app().await;
    let (case, owner) = unshared_resolution(&app).await;
    let q = r#"query($id: ID!) { case(id: $id) { id milestone resolution { summary } } }"#;
    let staff = app.data(&agent(), q, json!({ "id": case })).await;
    assert!(staff["case"]["resolution"]["summary"].is_string());
    let seen = app.data(&partner(&owner), q, json!({ "id": case })).await;
    assert_eq!(
        seen["case"]["id"],
        case.as_str(),
        "the partner sees its case"
    );
    assert_eq!(seen["case"]["milestone"], "RESOLVED");
    assert!(seen["case"]["resolution"].is_null(), "{seen:#}");
}

#[tokio::test]
async fn a_partners_resolution_search_finds_only_its_own_shared_resolutions() {
    let app = spawn_app().await;
    let (_, owner) = unshared_resolution(&app).await;
    let q = r#"query($q: String!) { resolutions(search: $q, first: 100) { edges { node {
                 id case { id partner { id } } } } pageInfo { hasNextPage } } }"#;
    // "issued" / "certificate" / "restored" cover the seeded resolution texts broadly.
    let mut found = 0;
    for word in ["issued", "certificate", "restored", "corrected", "not"] {
        let all = nodes(&app.data(&agent(), q, json!({ "q": word })).await["resolutions"]);
        let own = app.data(&partner(&owner), q, json!({ "q": word })).await;
        assert_eq!(own["resolutions"]["pageInfo"]["hasNextPage"], false);
        let own = nodes(&own["resolutions"]);
        for r in &own {
            assert_eq!(r["case"]["partner"]["id"], owner.as_str());
        }
        let expected = all
            .iter()
            .filter(|r| r["case"]["partner"]["id"] == owner.as_str())
            .count();
        // Everything of its own, minus what was not shared.
        assert!(own.len() <= expected);
        found += own.len();
    }
    assert!(found > 0, "the partner finds some of its resolutions");
}

#[tokio::test]
async fn uploaded_case_evidence_is_invisible_to_partners_on_every_path() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            r#"{ cases(first: 100, filter: { partnerId: "TP-0001" }) { edges { node { evidence { id source downloadUrl } } } } }"#,
            json!({}),
        )
        .await;
    let uploaded = nodes(&data["cases"])
        .into_iter()
        .flat_map(|c| c["evidence"].as_array().unwrap().clone())
        .find(|d| d["source"] == "CORE_CASE")
        .expect("TP-0001 has uploaded evidence");
    let id = uploaded["id"].clone();
    let q = r#"query($id: ID!) { document(id: $id) { id } node(id: $id) { id } }"#;
    let staff = app.data(&agent(), q, json!({ "id": id })).await;
    assert_eq!(staff["document"]["id"], id);
    assert_eq!(staff["node"]["id"], id);
    let seen = app.data(&partner("TP-0001"), q, json!({ "id": id })).await;
    assert!(
        seen["document"].is_null() && seen["node"].is_null(),
        "{seen:#}"
    );
    let url = format!("{}{}", app.url, uploaded["downloadUrl"].as_str().unwrap());
    let resp = app
        .http
        .get(&url)
        .bearer_auth(partner("TP-0001"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = app
        .http
        .get(&url)
        .bearer_auth(agent())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
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
