//! Apollo Federation: `_service { sdl }` and `_entities` over HTTP, batched and
//! under the same partner isolation as every other path.

use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;

const ENTITIES: &str = r#"query($r: [_Any!]!) { _entities(representations: $r) {
  __typename
  ... on Case { id number milestone }
  ... on PartnerIssue { id title }
  ... on Document { id name }
  ... on Transaction { id status }
  ... on TradingPartner { id name }
} }"#;

/// One id of each entity type of `partner`, as representations.
async fn representations_of(app: &TestApp, partner: &str) -> Vec<Value> {
    let data = app
        .data(
            &agent(),
            r#"query($p: ID!) { partnerIssues(first: 50, filter: { partnerId: $p }) { edges { node {
                 id documents { id } transactions { id } case { id } } } } }"#,
            json!({ "p": partner }),
        )
        .await;
    let issues = nodes(&data["partnerIssues"]);
    let first = |f: &dyn Fn(&Value) -> Option<Value>| issues.iter().find_map(f).expect("seeded");
    vec![
        json!({ "__typename": "TradingPartner", "id": partner }),
        json!({ "__typename": "PartnerIssue", "id": issues[0]["id"] }),
        json!({ "__typename": "Case", "id": first(&|i| i["case"]["id"].as_str().map(Value::from)) }),
        json!({ "__typename": "Document", "id": first(&|i| i["documents"][0]["id"].as_str().map(Value::from)) }),
        json!({ "__typename": "Transaction", "id": first(&|i| i["transactions"][0]["id"].as_str().map(Value::from)) }),
    ]
}

#[tokio::test]
async fn entities_resolve_by_key_and_another_partners_resolve_to_null() {
    let app = spawn_app().await;
    let own = representations_of(&app, "TP-0001").await;
    let other = representations_of(&app, "TP-0002").await;
    let all: Vec<Value> = own.iter().chain(&other).cloned().collect();

    let staff = app.data(&agent(), ENTITIES, json!({ "r": all })).await;
    let staff = staff["_entities"].as_array().unwrap();
    assert_eq!(staff.len(), 10);
    for (rep, entity) in all.iter().zip(staff) {
        assert_eq!(entity["__typename"], rep["__typename"], "{entity}");
        assert_eq!(entity["id"], rep["id"], "{entity}");
    }

    let body = app
        .graphql(&partner("TP-0001"), ENTITIES, json!({ "r": all }))
        .await;
    let seen = body["data"]["_entities"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"));
    for (rep, entity) in own.iter().zip(&seen[..5]) {
        assert_eq!(entity["id"], rep["id"], "own {rep} resolves: {entity}");
    }
    for (rep, entity) in other.iter().zip(&seen[5..]) {
        assert!(
            entity.is_null(),
            "another partner's {rep} is null, got {entity}"
        );
    }
}

#[tokio::test]
async fn a_list_of_case_representations_is_one_batch_upstream() {
    let app = spawn_app().await;
    let data = app
        .data(
            &agent(),
            "{ cases(first: 20) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let reps: Vec<Value> = nodes(&data["cases"])
        .iter()
        .map(|c| json!({ "__typename": "Case", "id": c["id"] }))
        .collect();
    assert_eq!(reps.len(), 20);
    app.reset_upstream_calls().await;
    let data = app.data(&agent(), ENTITIES, json!({ "r": reps })).await;
    assert_eq!(data["_entities"].as_array().unwrap().len(), 20);
    let (calls, routes) = app.upstream_calls(Platform::CoreCase).await;
    assert!(calls <= 2, "20 cases in {calls} Core Case calls: {routes}");
}

#[tokio::test]
async fn the_service_sdl_declares_the_entity_keys() {
    let app = spawn_app().await;
    let data = app.data(&agent(), "{ _service { sdl } }", json!({})).await;
    let sdl = data["_service"]["sdl"].as_str().unwrap();
    for entity in [
        "PartnerIssue",
        "Case",
        "Document",
        "Transaction",
        "TradingPartner",
    ] {
        assert!(
            sdl.contains(&format!(
                "type {entity} implements Node @key(fields: \"id\")"
            )),
            "{entity}"
        );
    }
    assert!(sdl.contains("@link("), "a Federation v2 subgraph");
    assert!(
        !sdl.contains("_entities"),
        "the subgraph SDL leaves the federation fields to the router"
    );
}
