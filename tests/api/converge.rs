//! Convergence under faults: every milestone change announced once and in
//! order, overlapping escalations, a store that is down or wiped, and the
//! reconciler repairing what lost events left behind.

use std::time::Duration;

use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::subscriptions::{connect, connect_to, next_json, subscribe};

const ESCALATE: &str = r#"mutation($input: EscalateInput!) { escalate(input: $input) {
  created case { id } cases { id } pendingSteps { id } } }"#;

const MILESTONES: &str =
    r#"subscription($c: ID!) { caseMilestones(caseId: $c) { milestone message } }"#;

/// A new dispute discussion of `partner` (the rules escalate it when webhooks flow).
async fn open_dispute(app: &TestApp, partner: &str, title: &str) -> String {
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": partner, "kind": "shipment_discrepancy",
                    "title": title, "body": "Two cartons short on the last delivery." }),
        )
        .await;
    opened["id"].as_str().unwrap().to_owned()
}

async fn linked_case(app: &TestApp, discussion: &str) -> String {
    eventually("the discussion is linked to its case", || async {
        app.upstream(
            Platform::TradingGrid,
            &format!("/v1/discussions/{discussion}"),
        )
        .await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await
}

async fn move_case(app: &TestApp, case: &str, status: &str) {
    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case, "status": status }),
    )
    .await;
}

/// The gateway's messages in a discussion that contain `text`.
async fn messages_with(app: &TestApp, discussion: &str, text: &str) -> Vec<String> {
    app.community_messages(discussion)
        .await
        .into_iter()
        .filter_map(|m| m["body"].as_str().map(str::to_owned))
        .filter(|b| b.contains(text))
        .collect()
}

/// Milestones a subscriber receives until (and without) the sentinel message,
/// which `publishStatus` sends last: everything published before it has arrived.
async fn milestones_until_sentinel(
    app: &TestApp,
    ws: &mut crate::subscriptions::Socket,
    case: &str,
) -> Vec<String> {
    app.data(
        &agent(),
        r#"mutation($id: ID!) { publishStatus(input: { caseId: $id, message: "sentinel" }) { pendingSteps { id } } }"#,
        json!({ "id": case }),
    )
    .await;
    let mut seen = vec![];
    loop {
        let m = next_json(ws).await.expect("a milestone event");
        let e = &m["payload"]["data"]["caseMilestones"];
        if e["message"] == "sentinel" {
            return seen;
        }
        seen.push(e["milestone"].as_str().unwrap().to_owned());
    }
}

/// Two replicas sharing one Redis: the test app (which the platforms' webhooks
/// reach) and a second gateway on the same simulators; returns the second's URL
/// and its stop switch.
async fn two_replicas(
    redis: &TestRedis,
    name: &str,
) -> (TestApp, String, tokio::sync::oneshot::Sender<()>) {
    let shared = [
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        (
            "GRIDCASE_REDIS_NAMESPACE",
            format!("{name}-{}", std::process::id()),
        ),
    ];
    let app = spawn_app_with(&shared).await;
    let (other, stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &shared).await;
    (app, other, stop)
}

#[tokio::test]
async fn a_case_moved_back_and_forth_within_a_second_is_announced_every_time() {
    let redis = test_redis();
    let (app, other, _stop) = two_replicas(&redis, "back-and-forth").await;
    let discussion = open_dispute(&app, "TP-0001", "Pallet count differs").await;
    let case = linked_case(&app, &discussion).await;
    app.webhooks_settled().await;
    // The subscriber is on the replica the webhooks do not reach.
    let mut ws = connect_to(&other, &agent()).await.expect("subscribed");
    subscribe(&mut ws, MILESTONES, json!({ "c": case })).await;

    for status in ["in_progress", "waiting_on_partner", "in_progress"] {
        move_case(&app, &case, status).await;
    }
    app.webhooks_settled().await;

    assert_eq!(
        milestones_until_sentinel(&app, &mut ws, &case).await,
        ["UNDER_REVIEW", "AWAITING_DOCUMENTS", "UNDER_REVIEW"]
    );
    let told = messages_with(&app, &discussion, "status:").await;
    // Three changes, plus the sentinel's own message.
    assert_eq!(told.len(), 4, "{told:#?}");
    assert!(told[0].contains("Under review") && told[2].contains("Under review"));
    assert!(told[1].contains("Awaiting documents"), "{told:#?}");
}

#[tokio::test]
async fn an_older_event_delivered_after_a_newer_one_never_moves_the_milestone_back() {
    let app = spawn_app().await;
    let discussion = open_dispute(&app, "TP-0002", "Invoice short-shipped").await;
    let case = linked_case(&app, &discussion).await;
    app.webhooks_settled().await;
    // The case moves twice while the platform's deliveries are held back.
    app.stop_webhooks(Platform::CoreCase).await;
    move_case(&app, &case, "in_progress").await;
    move_case(&app, &case, "resolved").await;
    let feed = app
        .upstream(Platform::CoreCase, "/api/v2/events?page_size=100")
        .await;
    let moves: Vec<Value> = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["case_id"] == case.as_str() && e["type"] == "case.status_changed")
        .cloned()
        .collect();
    assert_eq!(moves.len(), 2);
    let (older, newer) = (&moves[0], &moves[1]);
    assert!(newer["data"]["case"]["version"].as_u64() > older["data"]["case"]["version"].as_u64());

    let mut ws = connect(&app, &agent()).await.expect("subscribed");
    subscribe(&mut ws, MILESTONES, json!({ "c": case })).await;
    // Newer first, then the older one arrives late.
    assert_eq!(app.deliver("core-case", newer).await, 200);
    assert_eq!(app.deliver("core-case", older).await, 200);

    assert_eq!(
        milestones_until_sentinel(&app, &mut ws, &case).await,
        ["RESOLVED"],
        "the late UNDER_REVIEW is not announced"
    );
    assert!(messages_with(&app, &discussion, "Under review")
        .await
        .is_empty());
    assert_eq!(app.metric("gridcase_case_events_late_total", "").await, 1.0);
}

#[tokio::test]
async fn concurrent_overlapping_escalations_leave_each_transaction_in_exactly_one_open_case() {
    let redis = test_redis();
    let (app, other, _stop) = two_replicas(&redis, "overlap").await;
    // Failed transactions nobody has escalated yet (the rules are kept out of it).
    app.stop_webhooks(Platform::TradingGrid).await;
    let found = app
        .data(&agent(), r#"{ transactions(first: 50, filter: { partnerId: "TP-0005", statuses: [DELIVERED] }) { edges { node { id cases { id } } } } }"#, json!({}))
        .await;
    let txs: Vec<String> = nodes(&found["transactions"])
        .into_iter()
        .filter(|t| t["cases"].as_array().unwrap().is_empty())
        .take(4)
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(txs.len(), 4);
    for t in &txs {
        app.scenario(
            Platform::TradingGrid,
            "transaction-fails",
            json!({ "transaction_id": t, "status": "failed" }),
        )
        .await;
    }
    let (a, b, c, d) = (&txs[0], &txs[1], &txs[2], &txs[3]);
    let sets: Vec<Vec<&String>> = vec![
        vec![a, b, c],
        vec![a],
        vec![b, c],
        vec![c, d],
        vec![a, b, c],
        vec![d],
    ];
    // Each set three times, through either replica, all at once.
    let (http, replicas) = (&app.http, [app.url.clone(), other.clone()]);
    let replicas = &replicas;
    let calls = sets.iter().flat_map(|set| {
        (0..3).map(move |i| async move {
            let body: Value = http
                .post(format!("{}/graphql", replicas[i % 2]))
                .bearer_auth(agent())
                .json(&json!({ "query": ESCALATE, "variables": { "input": { "transactionIds": set } } }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (set.clone(), body)
        })
    });
    let answers = futures::future::join_all(calls).await;

    for (set, body) in &answers {
        assert!(body.get("errors").is_none(), "{set:?}: {body:#}");
        // Every transaction asked for is covered by a case in the answer.
        let answered: Vec<String> = body["data"]["escalate"]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect();
        for t in set {
            let covering = app
                .upstream(
                    Platform::CoreCase,
                    &format!("/api/v2/cases?transaction_ids={t}&status=new"),
                )
                .await;
            let open: Vec<&str> = covering["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap())
                .collect();
            assert_eq!(open.len(), 1, "{t}: exactly one open case, got {open:?}");
            assert!(
                answered.iter().any(|c| c == open[0]),
                "{t}: its case {} is in the answer {answered:?}",
                open[0]
            );
        }
    }
}

#[tokio::test]
async fn a_note_on_an_already_escalated_issue_is_appended_not_dropped() {
    let app = spawn_app().await;
    let discussion = open_dispute(&app, "TP-0003", "Seal number mismatch").await;
    let case = linked_case(&app, &discussion).await;
    let again = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": discussion, "note": "Carrier confirms the seal was replaced." } }),
        )
        .await;
    assert_eq!(again["escalate"]["created"], false);
    assert_eq!(again["escalate"]["case"]["id"], case.as_str());
    let notes = app
        .upstream(Platform::CoreCase, &format!("/api/v2/cases/{case}/notes"))
        .await;
    assert!(notes["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["body"] == "Carrier confirms the seal was replaced."));
}

#[tokio::test]
async fn with_redis_down_a_mutation_answers_retry_later_at_once() {
    let mut redis = test_redis();
    let app = spawn_app_with(&[
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        (
            "GRIDCASE_REDIS_NAMESPACE",
            format!("down-{}", std::process::id()),
        ),
    ])
    .await;
    if redis.stop().is_none() {
        eprintln!("skipped: a shared GRIDCASE_TEST_REDIS_URL cannot be stopped");
        return;
    }
    let issue = open_dispute(&app, "TP-0004", "Damaged on arrival").await;
    let resp = tokio::time::timeout(
        Duration::from_secs(10),
        app.http
            .post(format!("{}/graphql", app.url))
            .bearer_auth(agent())
            .json(&json!({ "query": ESCALATE, "variables": { "input": { "issueId": issue } } }))
            .send(),
    )
    .await
    .expect("an answer, not a hang")
    .unwrap();
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(error_codes(&body), ["RETRY_LATER"], "{body:#}");
}

#[tokio::test]
async fn with_webhooks_lost_the_reconciler_alone_opens_the_case_and_announces_the_change() {
    let app = spawn_app_with(&[("GRIDCASE_RECONCILE_INTERVAL_MS", "200".to_owned())]).await;
    app.stop_webhooks(Platform::TradingGrid).await;
    app.stop_webhooks(Platform::CoreCase).await;

    let discussion = open_dispute(&app, "TP-0006", "Wrong item shipped").await;
    app.one_full_sweep().await;
    let case = linked_case(&app, &discussion).await;
    assert_eq!(
        messages_with(&app, &discussion, "We have opened case")
            .await
            .len(),
        1
    );

    move_case(&app, &case, "in_progress").await;
    app.one_full_sweep().await;
    assert_eq!(
        messages_with(&app, &discussion, "Under review").await.len(),
        1
    );
    app.one_full_sweep().await;
    assert_eq!(
        messages_with(&app, &discussion, "Under review").await.len(),
        1,
        "repaired once, not every sweep"
    );
    let activity = app
        .data(
            &agent(),
            r#"query($id: ID!) { case(id: $id) { activity { actor action } } }"#,
            json!({ "id": case }),
        )
        .await;
    assert!(activity["case"]["activity"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["actor"] == "reconciler" && a["action"] == "reconciled"));
    assert!(
        app.metric("gridcase_reconcile_repairs_total", "milestone_announced")
            .await
            >= 1.0
    );
}

#[tokio::test]
async fn after_redis_is_wiped_mid_escalation_the_reconciler_completes_it_exactly_once() {
    let redis = test_redis();
    let app = spawn_app_with(&[
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        (
            "GRIDCASE_REDIS_NAMESPACE",
            format!("wiped-{}", std::process::id()),
        ),
        ("GRIDCASE_RECONCILE_INTERVAL_MS", "200".to_owned()),
    ])
    .await;
    app.stop_webhooks(Platform::TradingGrid).await;
    app.stop_webhooks(Platform::CoreCase).await;
    let discussion = open_dispute(&app, "TP-0007", "Temperature log missing").await;
    // An escalation cut off right after its first write: the case exists on Core
    // Case (created as the gateway creates it), then Redis loses everything —
    // the outbox with the link, the partner message and the milestone.
    let token = app
        .http
        .post(format!("{}/oauth/token", app.cc.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", gridcase::sim::DEV_CLIENT_ID),
            ("client_secret", gridcase::sim::DEV_CLIENT_SECRET),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let created: Value = app
        .http
        .post(format!("{}/api/v2/cases", app.cc.base_url()))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .header("idempotency-key", format!("escalate:{discussion}/case"))
        .json(&json!({ "type": "dispute", "priority": "medium", "title": "Temperature log missing",
                       "description": "escalated", "team": "operations", "partner_id": "TP-0007",
                       "external_ref": { "system": "trading-grid", "kind": "discussion", "id": discussion },
                       "transaction_ids": [] }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case = created["id"].as_str().unwrap().to_owned();
    let flushed: String = redis_query(&redis.url, &redis::cmd("FLUSHALL")).await;
    assert_eq!(flushed, "OK");
    let mut ws = connect(&app, &agent()).await.expect("subscribed");
    subscribe(&mut ws, MILESTONES, json!({ "c": case })).await;

    app.one_full_sweep().await;
    assert_eq!(linked_case(&app, &discussion).await, case);
    // A client retrying the escalation now finds it complete, and repeats nothing.
    let retry = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": discussion } }),
        )
        .await;
    assert_eq!(retry["escalate"]["case"]["id"], case.as_str());
    app.one_full_sweep().await;

    assert_eq!(
        messages_with(&app, &discussion, "We have opened case")
            .await
            .len(),
        1
    );
    assert_eq!(
        milestones_until_sentinel(&app, &mut ws, &case).await,
        ["RECEIVED"]
    );
}

#[tokio::test]
async fn a_step_held_by_a_replica_that_died_is_run_by_another_within_seconds() {
    use gridcase::store::{OutboxEntry, RedisStore, StepState, Store};
    let redis = test_redis();
    let ns = format!("lease-{}", std::process::id());
    let app = spawn_app_with(&[
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        ("GRIDCASE_REDIS_NAMESPACE", ns.clone()),
    ])
    .await;
    app.stop_webhooks(Platform::TradingGrid).await;
    let discussion = open_dispute(&app, "TP-0008", "Labels unreadable").await;

    // Another replica claims a step, as its outbox worker does, and dies running it.
    let replica = RedisStore::connect(&redis.url, &ns).await.unwrap();
    let due = chrono::Utc::now() + chrono::Duration::seconds(1);
    replica
        .outbox_push(OutboxEntry {
            id: "status:dead-replica/message".into(),
            case_id: "CASE-DEAD".into(),
            step: json!({ "kind": "post_message", "discussion_id": discussion,
                          "body": "Picked up after a replica died." }),
            actor: "agent:test".into(),
            attempts: 0,
            next_at: due,
            last_error: None,
            workflow: "status:dead-replica".into(),
            order: 0,
            state: StepState::Pending,
        })
        .await
        .unwrap();
    let claimed = replica
        .outbox_claim_due(due, 1, Duration::from_secs(6))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "the dying replica holds the step");
    drop(replica);

    // This gateway takes it over once the short lease runs out (not minutes later).
    eventually("the step runs on the surviving replica", || async {
        let posted = messages_with(&app, &discussion, "Picked up after a replica died.").await;
        (posted.len() == 1).then_some(())
    })
    .await;
}

#[tokio::test]
async fn with_webhooks_lost_the_reconciler_opens_exception_cases_and_links_awaited_documents() {
    let app = spawn_app_with(&[("GRIDCASE_RECONCILE_INTERVAL_MS", "200".to_owned())]).await;
    app.stop_webhooks(Platform::TradingGrid).await;
    app.stop_webhooks(Platform::CoreCase).await;

    // A transaction fails; nobody hears of it.
    let found = app
        .data(&agent(), r#"{ transactions(first: 50, filter: { partnerId: "TP-0009", statuses: [DELIVERED] }) { edges { node { id cases { id } } } } }"#, json!({}))
        .await;
    let tx = nodes(&found["transactions"])
        .into_iter()
        .find(|t| t["cases"].as_array().unwrap().is_empty())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.scenario(
        Platform::TradingGrid,
        "transaction-fails",
        json!({ "transaction_id": tx, "status": "rejected" }),
    )
    .await;

    // A case worker asks for documents; the partner posts one; nobody hears of it.
    let discussion = open_dispute(&app, "TP-0010", "Cartons crushed").await;
    app.one_full_sweep().await;
    let case = linked_case(&app, &discussion).await;
    app.scenario(
        Platform::CoreCase,
        "case-worker-requests-documents",
        json!({ "case_id": case, "kinds": ["proof_of_delivery"], "message": "Please send the signed POD." }),
    )
    .await;
    let posted = app
        .scenario(
            Platform::TradingGrid,
            "partner-posts-document",
            json!({ "discussion_id": discussion, "name": "pod-crushed.txt", "kind": "proof_of_delivery",
                    "content_type": "text/plain", "content": "Signed with remark: 3 cartons crushed." }),
        )
        .await;
    app.one_full_sweep().await;

    let covering = app
        .upstream(
            Platform::CoreCase,
            &format!("/api/v2/cases?transaction_ids={tx}"),
        )
        .await;
    assert_eq!(
        covering["data"].as_array().unwrap().len(),
        1,
        "one exception case for the rejected transaction"
    );
    let evidence = app
        .upstream(
            Platform::CoreCase,
            &format!("/api/v2/cases/{case}/documents"),
        )
        .await;
    assert!(evidence["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["sha256"] == posted["document"]["sha256"]));
    assert_eq!(
        messages_with(&app, &discussion, "Awaiting documents")
            .await
            .len(),
        1,
        "the request for documents was announced once"
    );
}

#[tokio::test]
async fn an_old_event_redelivered_after_redis_is_wiped_does_not_announce_a_stale_milestone() {
    let redis = test_redis();
    let app = spawn_app_with(&[
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        (
            "GRIDCASE_REDIS_NAMESPACE",
            format!("stale-{}", std::process::id()),
        ),
    ])
    .await;
    let discussion = open_dispute(&app, "TP-0011", "Pallet wrapped wrongly").await;
    let case = linked_case(&app, &discussion).await;
    move_case(&app, &case, "in_progress").await;
    move_case(&app, &case, "waiting_on_partner").await;
    app.webhooks_settled().await;
    let feed = app
        .upstream(Platform::CoreCase, "/api/v2/events?page_size=100")
        .await;
    let old = feed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["case_id"] == case.as_str()
                && e["type"] == "case.status_changed"
                && e["data"]["to"] == "in_progress"
        })
        .cloned()
        .unwrap();
    let flushed: String = redis_query(&redis.url, &redis::cmd("FLUSHALL")).await;
    assert_eq!(flushed, "OK");
    let mut ws = connect(&app, &agent()).await.expect("subscribed");
    subscribe(&mut ws, MILESTONES, json!({ "c": case })).await;

    // The platform redelivers the old move; the dedupe that would have caught it is gone.
    assert_eq!(app.deliver("core-case", &old).await, 200);

    assert_eq!(
        milestones_until_sentinel(&app, &mut ws, &case).await,
        Vec::<String>::new(),
        "the case awaits documents: UNDER_REVIEW is not announced again"
    );
}
