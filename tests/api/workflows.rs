//! The seven jobs end to end: each scenario is driven through a simulator (acting
//! as a partner or case worker would) and/or a mutation, and its effect is checked
//! on both platforms through their own APIs.

use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;

const ESCALATE: &str = r#"mutation($input: EscalateInput!) { escalate(input: $input) {
    created pendingSteps { id description }
    case { id number type milestone status partner { id } issue { id } transactions { id } evidence { id sha256 } tasks { team } } } }"#;

/// An issue of `partner` not yet tracked by a case, of one of `kinds`.
async fn open_issue(app: &TestApp, partner: &str, kinds: &[&str]) -> Value {
    let data = app
        .data(
            &agent(),
            r#"query($p: ID!) { partnerIssues(first: 100, filter: { partnerId: $p }) { edges { node {
                 id kind case { id } documents { id sha256 } transactions { id } } } } }"#,
            json!({ "p": partner }),
        )
        .await;
    nodes(&data["partnerIssues"])
        .into_iter()
        .find(|i| i["case"].is_null() && kinds.contains(&i["kind"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("{partner} has an open issue of {kinds:?}"))
}

async fn case_upstream(app: &TestApp, id: &str) -> Value {
    app.upstream(Platform::CoreCase, &format!("/api/v2/cases/{id}"))
        .await
}

async fn discussion_upstream(app: &TestApp, id: &str) -> Value {
    app.upstream(Platform::TradingGrid, &format!("/v1/discussions/{id}"))
        .await
}

/// No community message anywhere in these discussions carries internal text.
async fn assert_nothing_internal(app: &TestApp, discussions: &[&str], secrets: &[&str]) {
    for d in discussions {
        for m in app.community_messages(d).await {
            let body = m["body"].as_str().unwrap();
            for s in secrets.iter().chain(&["[internal]"]) {
                assert!(!body.contains(s), "internal text {s:?} in {d}: {body}");
            }
        }
    }
}

#[tokio::test]
async fn job1_a_dispute_thread_becomes_a_case_with_its_conversation_documents_and_transactions() {
    let app = spawn_app().await;
    // A partner opens a dispute thread on Trading Grid…
    let tx = app
        .data(&agent(), r#"{ transactions(first: 1, filter: { partnerId: "TP-0001" }) { edges { node { id } } } }"#, json!({}))
        .await;
    let tx = nodes(&tx["transactions"])[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": "TP-0001", "kind": "invoice_discrepancy",
                    "title": "Invoice total does not match PO", "body": "Line 3 billed at 14.20 instead of 12.90.",
                    "transaction_ids": [tx] }),
        )
        .await;
    let discussion = opened["id"].as_str().unwrap().to_owned();

    // …and the webhook makes it a case, linked back to the thread.
    let case_id = eventually("the discussion is linked to a case", || async {
        discussion_upstream(&app, &discussion).await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let case = case_upstream(&app, &case_id).await;
    assert_eq!(case["type"], "dispute");
    assert_eq!(case["partner_id"], "TP-0001");
    assert_eq!(case["external_ref"]["id"], discussion.as_str());
    assert_eq!(case["transaction_ids"], json!([tx]));
    let description = case["description"].as_str().unwrap();
    assert!(
        description.contains("Line 3 billed at 14.20"),
        "the conversation is in the case"
    );
    assert!(description.contains(&tx));
    assert_eq!(
        discussion_upstream(&app, &discussion).await["status"],
        "escalated"
    );
    let messages = eventually("the partner is told the case was received", || async {
        let m = app.community_messages(&discussion).await;
        m.iter()
            .any(|m| {
                m["body"]
                    .as_str()
                    .unwrap()
                    .contains(case["number"].as_str().unwrap())
            })
            .then_some(m)
    })
    .await;
    assert!(messages
        .iter()
        .any(|m| m["body"].as_str().unwrap().contains("Received")));

    // Escalating it by hand now returns the same case.
    let again = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": discussion } }),
        )
        .await;
    assert_eq!(again["escalate"]["case"]["id"], case_id.as_str());
    assert_eq!(again["escalate"]["created"], false);
}

#[tokio::test]
async fn job1_escalating_an_issue_by_mutation_carries_its_documents_as_evidence() {
    let app = spawn_app().await;
    let issue = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let data = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"], "note": "Carrier claims full delivery" } }),
        )
        .await;
    let p = &data["escalate"];
    assert_eq!(p["created"], true);
    assert_eq!(p["pendingSteps"], json!([]));
    assert_eq!(p["case"]["type"], "DISPUTE");
    assert_eq!(p["case"]["issue"]["id"], issue["id"]);
    let docs: Vec<&Value> = issue["documents"].as_array().unwrap().iter().collect();
    let mut shas: Vec<&str> = docs.iter().map(|d| d["sha256"].as_str().unwrap()).collect();
    shas.sort();
    shas.dedup();
    let mut evidence: Vec<&str> = p["case"]["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["sha256"].as_str().unwrap())
        .collect();
    evidence.sort();
    assert_eq!(evidence, shas, "every document once, by content");
    let activity = app
        .data(
            &agent(),
            r#"query($id: ID!) { case(id: $id) { activity { actor action upstreamIds } } }"#,
            json!({ "id": p["case"]["id"] }),
        )
        .await;
    let actions: Vec<&str> = activity["case"]["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"case_created") && actions.contains(&"community_message_posted"),
        "{actions:?}"
    );
    assert!(activity["case"]["activity"][0]["actor"]
        .as_str()
        .unwrap()
        .starts_with("agent:"));
    assert_nothing_internal(
        &app,
        &[issue["id"].as_str().unwrap()],
        &["Carrier claims full delivery"],
    )
    .await;
}

#[tokio::test]
async fn job2_a_case_status_change_reaches_the_partner_as_a_milestone() {
    let app = spawn_app().await;
    let issue = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
        .await["escalate"]["case"]
        .clone();
    let discussion = issue["id"].as_str().unwrap();

    // A case worker moves the case on Core Case.
    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case["id"], "status": "in_progress" }),
    )
    .await;

    let posted = eventually("the milestone reaches the community", || async {
        app.community_messages(discussion)
            .await
            .into_iter()
            .find(|m| m["body"].as_str().unwrap().contains("Under review"))
    })
    .await;
    assert!(
        !posted["body"].as_str().unwrap().contains("in_progress"),
        "no internal status"
    );
    let seen = app
        .data(
            &partner("TP-0001"),
            r#"query($id: ID!) { case(id: $id) { milestone } }"#,
            json!({ "id": case["id"] }),
        )
        .await;
    assert_eq!(seen["case"]["milestone"], "UNDER_REVIEW");

    // And by hand, with a note for the partner.
    let data = app
        .data(
            &agent(),
            r#"mutation($id: ID!) { publishStatus(input: { caseId: $id, milestone: UNDER_REVIEW, message: "We are checking with the carrier." }) { case { milestone } pendingSteps { id } } }"#,
            json!({ "id": case["id"] }),
        )
        .await;
    assert_eq!(data["publishStatus"]["pendingSteps"], json!([]));
    let messages = app.community_messages(discussion).await;
    assert!(messages.iter().any(|m| m["body"]
        .as_str()
        .unwrap()
        .contains("checking with the carrier")));
    // A wrong expectation is refused, not published.
    let body = app
        .graphql(&agent(), r#"mutation($id: ID!) { publishStatus(input: { caseId: $id, milestone: RESOLVED }) { case { id } } }"#, json!({ "id": case["id"] }))
        .await;
    assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"]);
    assert_nothing_internal(&app, &[discussion], &[]).await;
}

#[tokio::test]
async fn job3_documents_link_once_and_partners_are_asked_for_more_through_the_community() {
    let app = spawn_app().await;
    let issue = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
        .await["escalate"]["case"]
        .clone();
    let discussion = issue["id"].as_str().unwrap();
    let before = case["evidence"].as_array().unwrap().len();

    // Linking what is already evidence adds nothing.
    let ids: Vec<Value> = issue["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].clone())
        .collect();
    let link = r#"mutation($c: ID!, $d: [ID!]!) { linkEvidence(input: { caseId: $c, documentIds: $d }) { case { evidence { id } } pendingSteps { id lastError } } }"#;
    let data = app
        .data(&agent(), link, json!({ "c": case["id"], "d": ids }))
        .await;
    assert_eq!(
        data["linkEvidence"]["case"]["evidence"]
            .as_array()
            .unwrap()
            .len(),
        before
    );
    assert_eq!(data["linkEvidence"]["pendingSteps"], json!([]));
    let entries = app
        .upstream(
            Platform::CoreCase,
            &format!("/api/v2/cases/{}/documents", case["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(entries["data"].as_array().unwrap().len(), before);

    // Ask the partner for a proof of delivery.
    let data = app
        .data(
            &agent(),
            r#"mutation($c: ID!) { requestDocuments(input: { caseId: $c, kinds: [PROOF_OF_DELIVERY], message: "For the delivery of 12 March." }) { case { milestone } pendingSteps { id } } }"#,
            json!({ "c": case["id"] }),
        )
        .await;
    assert_eq!(
        data["requestDocuments"]["case"]["milestone"],
        "AWAITING_DOCUMENTS"
    );
    let asked = app.community_messages(discussion).await;
    assert!(asked
        .iter()
        .any(|m| m["body"].as_str().unwrap().contains("proof of delivery")));

    // The partner posts it in the discussion; it becomes evidence by itself.
    let posted = app
        .scenario(
            Platform::TradingGrid,
            "partner-posts-document",
            json!({ "discussion_id": discussion, "name": "pod-0312.txt", "kind": "proof_of_delivery",
                    "content_type": "text/plain", "content": "Signed by R. Diaz, 12 March 14:02, 40 cartons." }),
        )
        .await;
    let sha = posted["document"]["sha256"].as_str().unwrap().to_owned();
    eventually("the partner's document is linked to the case", || async {
        let entries = app
            .upstream(
                Platform::CoreCase,
                &format!("/api/v2/cases/{}/documents", case["id"].as_str().unwrap()),
            )
            .await;
        entries["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["sha256"] == sha.as_str())
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn job4_a_failed_transaction_opens_an_exception_case_and_a_discussion() {
    let app = spawn_app().await;
    let data = app
        .data(&agent(), r#"{ transactions(first: 50, filter: { partnerId: "TP-0003", statuses: [DELIVERED] }) { edges { node { id cases { id } } } } }"#, json!({}))
        .await;
    let tx = nodes(&data["transactions"])
        .into_iter()
        .find(|t| t["cases"].as_array().unwrap().is_empty())
        .expect("a delivered transaction without a case");
    let tx = tx["id"].as_str().unwrap().to_owned();

    app.scenario(
        Platform::TradingGrid,
        "transaction-fails",
        json!({ "transaction_id": tx, "status": "rejected",
                "errors": [{ "code": "X12-810-IT1", "message": "Unit price differs from contract", "segment": "IT1*04" }] }),
    )
    .await;

    let case = eventually("an exception case exists", || async {
        let page = app
            .upstream(
                Platform::CoreCase,
                &format!("/api/v2/cases?transaction_ids={tx}"),
            )
            .await;
        page["data"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(case["type"], "transaction_exception");
    assert_eq!(case["partner_id"], "TP-0003");
    assert_eq!(case["external_ref"]["kind"], "transaction");
    assert!(case["description"]
        .as_str()
        .unwrap()
        .contains("Unit price differs from contract"));
    let linked = eventually("a discussion tells the partner", || async {
        let page = app
            .upstream(
                Platform::TradingGrid,
                &format!(
                    "/v1/discussions?linked_case_ids={}",
                    case["id"].as_str().unwrap()
                ),
            )
            .await;
        page["items"].as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!(linked["partner_id"], "TP-0003");
    assert!(linked["transaction_ids"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == tx.as_str()));
    assert!(linked["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t == "transaction-exception"));
}

#[tokio::test]
async fn job5_a_compliance_question_becomes_a_review_routed_to_legal_compliance_and_operations() {
    let app = spawn_app().await;
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": "TP-0002", "kind": "compliance_question",
                    "title": "REACH declaration for lot 7781", "body": "Does the new resin need an SVHC declaration?" }),
        )
        .await;
    let discussion = opened["id"].as_str().unwrap().to_owned();
    let case_id = eventually("a review case exists", || async {
        discussion_upstream(&app, &discussion).await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    assert_eq!(
        case_upstream(&app, &case_id).await["type"],
        "compliance_review"
    );
    let tasks = eventually("tasks are routed", || async {
        let t = app
            .upstream(
                Platform::CoreCase,
                &format!("/api/v2/cases/{case_id}/tasks"),
            )
            .await;
        let teams: Vec<String> = t["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["team"].as_str().unwrap().to_owned())
            .collect();
        (teams.len() >= 3).then_some(teams)
    })
    .await;
    for team in ["legal", "compliance", "operations"] {
        assert!(tasks.iter().any(|t| t == team), "{team} in {tasks:?}");
    }
}

#[tokio::test]
async fn job6_a_thread_tagged_for_escalation_is_escalated_and_the_conversation_goes_on() {
    let app = spawn_app().await;
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": "TP-0004", "kind": "support", "tags": ["escalate"],
                    "title": "Need approval to ship partial order", "body": "Can we ship 80% now and the rest next week?" }),
        )
        .await;
    let discussion = opened["id"].as_str().unwrap().to_owned();
    let case_id = eventually("an escalation case exists", || async {
        discussion_upstream(&app, &discussion).await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let case = case_upstream(&app, &case_id).await;
    assert_eq!(case["type"], "support_escalation");
    assert!(case["assignee"].is_null() || case["assignee"].is_object());
    // The partner keeps talking in the community; the case stays one.
    app.scenario(
        Platform::TradingGrid,
        "partner-posts-message",
        json!({ "discussion_id": discussion, "body": "Any update?" }),
    )
    .await;
    let messages = app.community_messages(&discussion).await;
    assert!(messages.iter().any(|m| m["body"] == "Any update?"));
    let cases = app
        .upstream(Platform::CoreCase, &format!("/api/v2/cases?external_system=trading-grid&external_kind=discussion&external_id={discussion}"))
        .await;
    assert_eq!(cases["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn job7_a_resolution_is_published_to_the_partner_and_becomes_searchable() {
    let app = spawn_app().await;
    let issue = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let case = app
        .data(&agent(), ESCALATE, json!({ "input": { "issueId": issue["id"], "note": "Warehouse lead suspects mislabeling" } }))
        .await["escalate"]["case"]
        .clone();
    let data = app
        .data(
            &agent(),
            r#"mutation($c: ID!) { publishResolution(input: { caseId: $c,
                  summary: "Credit note issued for 12 cartons of quince paste",
                  rootCause: "Pallet split at the cross-dock without updating the ASN",
                  correctiveActions: ["ASN reissued on pallet split", "Cross-dock scan audit weekly"] }) {
                case { milestone resolution { summary } } pendingSteps { id } } }"#,
            json!({ "c": case["id"] }),
        )
        .await;
    assert_eq!(data["publishResolution"]["case"]["milestone"], "RESOLVED");
    let upstream = case_upstream(&app, case["id"].as_str().unwrap()).await;
    assert_eq!(upstream["status"], "resolved");
    let discussion = issue["id"].as_str().unwrap();
    let messages = app.community_messages(discussion).await;
    let resolution_posts: Vec<&Value> = messages
        .iter()
        .filter(|m| m["body"].as_str().unwrap().contains("quince paste"))
        .collect();
    assert_eq!(
        resolution_posts.len(),
        1,
        "posted once, even though Core Case also reported it"
    );
    assert!(resolution_posts[0]["body"]
        .as_str()
        .unwrap()
        .contains("Cross-dock scan audit weekly"));
    assert_eq!(
        discussion_upstream(&app, discussion).await["status"],
        "resolved"
    );

    // Searchable knowledge, for the partner too.
    let found = app
        .data(&partner("TP-0001"), r#"{ resolutions(search: "quince cross-dock") { edges { node { summary case { id } } } } }"#, json!({}))
        .await;
    let hits = nodes(&found["resolutions"]);
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["case"]["id"], case["id"]);
    // Once the webhook of `case.resolved` and all it set off are done, still one.
    app.quiet().await;
    let posts = app.community_messages(discussion).await;
    assert_eq!(
        posts
            .iter()
            .filter(|m| m["body"].as_str().unwrap().contains("quince paste"))
            .count(),
        1
    );
    assert_nothing_internal(
        &app,
        &[discussion],
        &["Warehouse lead suspects mislabeling"],
    )
    .await;
}

#[tokio::test]
async fn job7_a_case_worker_resolving_on_core_case_reaches_the_partner_by_itself() {
    let app = spawn_app().await;
    let issue = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
        .await["escalate"]["case"]
        .clone();
    let discussion = issue["id"].as_str().unwrap();
    app.scenario(
        Platform::CoreCase,
        "case-worker-resolves-case",
        json!({ "case_id": case["id"], "summary": "Replacement shipped on 14 March",
                "root_cause": "Label printer skipped a carton", "corrective_actions": ["Printer firmware updated"],
                "shared_with_partner": true }),
    )
    .await;
    eventually("the resolution reaches the community", || async {
        app.community_messages(discussion)
            .await
            .iter()
            .any(|m| {
                m["body"]
                    .as_str()
                    .unwrap()
                    .contains("Replacement shipped on 14 March")
            })
            .then_some(())
    })
    .await;
    // An unshared resolution stays internal.
    let other = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let other_case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": other["id"] } }),
        )
        .await["escalate"]["case"]
        .clone();
    app.scenario(
        Platform::CoreCase,
        "case-worker-resolves-case",
        json!({ "case_id": other_case["id"], "summary": "Internal write-off, not for the partner",
                "root_cause": "x", "corrective_actions": [], "shared_with_partner": false }),
    )
    .await;
    // The partner learns the case is resolved, and nothing of the unshared text.
    let messages = eventually("the bare RESOLVED milestone is posted", || async {
        let m = app.community_messages(other["id"].as_str().unwrap()).await;
        m.iter()
            .any(|m| m["body"].as_str().unwrap().contains("status: Resolved"))
            .then_some(m)
    })
    .await;
    assert!(messages
        .iter()
        .all(|m| !m["body"].as_str().unwrap().contains("write-off")));
}

#[tokio::test]
async fn job3_asking_again_after_documents_arrived_asks_again() {
    let app = spawn_app().await;
    let issue = open_issue(
        &app,
        "TP-0001",
        &[
            "SHIPMENT_DISCREPANCY",
            "INVOICE_DISCREPANCY",
            "ORDER_DISCREPANCY",
        ],
    )
    .await;
    let case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
        .await["escalate"]["case"]
        .clone();
    let ask = r#"mutation($c: ID!) { requestDocuments(input: { caseId: $c, kinds: [INVOICE], message: "The corrected invoice, please." }) { case { milestone } pendingSteps { id } } }"#;
    app.data(&agent(), ask, json!({ "c": case["id"] })).await;
    // The case worker picks it up again, then needs another round.
    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case["id"], "status": "in_progress" }),
    )
    .await;
    let again = app.data(&agent(), ask, json!({ "c": case["id"] })).await;
    assert_eq!(
        again["requestDocuments"]["case"]["milestone"],
        "AWAITING_DOCUMENTS"
    );
    assert_eq!(again["requestDocuments"]["pendingSteps"], json!([]));
    let asks = app
        .community_messages(issue["id"].as_str().unwrap())
        .await
        .into_iter()
        .filter(|m| {
            m["body"]
                .as_str()
                .unwrap()
                .contains("The corrected invoice, please.")
        })
        .count();
    assert_eq!(asks, 2);
}
