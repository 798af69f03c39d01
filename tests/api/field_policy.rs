//! The served schema against the field table (`gridcase::auth::fields`): every
//! field of every object type has a policy, and each role gets what the table
//! says — a field added without a policy fails here.

use gridcase::auth::fields::{field_access, FieldAccess};
use gridcase::auth::Role;
use serde_json::{json, Value};

use crate::helpers::*;

const SCHEMA: &str = "{ __schema { types { name kind fields {
  name args { name type { kind } }
  type { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

/// The named type under any NON_NULL / LIST wrappers.
fn kind_of(mut ty: &Value) -> &str {
    while ty["name"].is_null() {
        ty = &ty["ofType"];
    }
    ty["kind"].as_str().unwrap_or("")
}

/// `field` or `field { __typename }`, as its type needs.
fn selection(field: &Value) -> String {
    let name = field["name"].as_str().unwrap();
    match kind_of(&field["type"]) {
        "OBJECT" | "INTERFACE" | "UNION" => format!("{name} {{ __typename }}"),
        _ => name.to_owned(),
    }
}

#[tokio::test]
async fn every_field_has_a_policy_and_every_role_gets_what_the_table_says() {
    let app = spawn_app_with(&[("GRIDCASE_INTROSPECTION", "true".into())]).await;
    let schema = app.data(&agent(), SCHEMA, json!({})).await;
    let types = schema["__schema"]["types"].as_array().unwrap();
    let mut missing = Vec::new();
    for t in types.iter().filter(|t| t["kind"] == "OBJECT") {
        let name = t["name"].as_str().unwrap();
        for f in t["fields"].as_array().into_iter().flatten() {
            if field_access(name, f["name"].as_str().unwrap()).is_none() {
                missing.push(format!("{name}.{}", f["name"].as_str().unwrap()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields without a policy (add them to src/auth/fields.rs): {missing:?}"
    );

    // One record of the demo partner per type reachable by id.
    let own = "TP-0001";
    let ids = app
        .data(
            &partner(own),
            "{ cases(first: 1) { edges { node { id } } } partnerIssues(first: 1) { edges { node { id } } }
               transactions(first: 1) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let first = |list: &str| nodes(&ids[list])[0]["id"].as_str().unwrap().to_owned();
    let records = [
        ("Case", "case", first("cases")),
        ("PartnerIssue", "partnerIssue", first("partnerIssues")),
        ("Transaction", "transaction", first("transactions")),
        ("TradingPartner", "tradingPartner", own.to_owned()),
    ];
    let roles = [
        (Role::Partner, partner(own)),
        (Role::Agent, agent()),
        (Role::Admin, token_for(Role::Admin, None)),
    ];
    for (type_name, root, id) in records {
        let ty = types.iter().find(|t| t["name"] == type_name).unwrap();
        for field in ty["fields"].as_array().unwrap() {
            let name = field["name"].as_str().unwrap();
            let access = field_access(type_name, name).unwrap();
            let query = format!(
                "query($id: ID!) {{ {root}(id: $id) {{ id {} }} }}",
                selection(field)
            );
            for (role, token) in &roles {
                let body = app.graphql(token, &query, json!({ "id": id })).await;
                let codes = error_codes(&body);
                let refused = codes.iter().any(|c| c == "FORBIDDEN");
                let expect_refused = access == FieldAccess::Staff && *role == Role::Partner;
                assert_eq!(
                    refused, expect_refused,
                    "{type_name}.{name} as {role:?}: {body}"
                );
                if !expect_refused {
                    assert!(codes.is_empty(), "{type_name}.{name} as {role:?}: {body}");
                    assert_eq!(
                        body["data"][root]["id"],
                        id.as_str(),
                        "{type_name}.{name} as {role:?}"
                    );
                }
            }
        }
    }
}
