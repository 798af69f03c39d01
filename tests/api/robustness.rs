//! Idempotency, the outbox, webhook authenticity, and who may act.

use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;

async fn open_dispute(app: &TestApp, partner: &str) -> Value {
    let data = app
        .data(
            &agent(),
            r#"query($p: ID!) { partnerIssues(first: 100, filter: { partnerId: $p, kinds: [SHIPMENT_DISCREPANCY, INVOICE_DISCREPANCY, ORDER_DISCREPANCY] }) { edges { node { id case { id } } } } }"#,
            json!({ "p": partner }),
        )
        .await;
    nodes(&data["partnerIssues"])
        .into_iter()
        .find(|i| i["case"].is_null())
        .expect("an open dispute")
}

const ESCALATE: &str = r#"mutation($input: EscalateInput!) { escalate(input: $input) { created case { id } pendingSteps { id } } }"#;

#[tokio::test]
async fn fifty_concurrent_escalations_of_one_issue_yield_one_case() {
    let app = spawn_app().await;
    let issue = open_dispute(&app, "TP-0005").await;
    let token = agent();
    let calls = (0..50).map(|_| {
        app.graphql(
            &token,
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
    });
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<String> = answers
        .iter()
        .map(|a| {
            assert!(a.get("errors").is_none(), "{a:#}");
            a["data"]["escalate"]["case"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let created = answers
        .iter()
        .filter(|a| a["data"]["escalate"]["created"] == true)
        .count();
    ids.dedup();
    assert_eq!(ids.len(), 1, "one case for everyone");
    assert_eq!(created, 1);
    let cases = app
        .upstream(Platform::CoreCase, &format!("/api/v2/cases?external_system=trading-grid&external_kind=discussion&external_id={}", issue["id"].as_str().unwrap()))
        .await;
    assert_eq!(cases["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_gateways_without_a_shared_store_still_open_one_case() {
    let app = spawn_app().await;
    // A second replica on the same platforms, with its own (memory) store.
    let (other, _stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &[]).await;
    let issue = open_dispute(&app, "TP-0006").await;
    let body = json!({ "query": ESCALATE, "variables": { "input": { "issueId": issue["id"] } } });
    let calls = [app.url.clone(), other.clone(), app.url.clone(), other]
        .into_iter()
        .map(|url| {
            let http = app.http.clone();
            let body = body.clone();
            async move {
                let v: Value = http
                    .post(format!("{url}/graphql"))
                    .bearer_auth(agent())
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                v
            }
        });
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<&str> = answers
        .iter()
        .map(|a| {
            a["data"]["escalate"]["case"]["id"]
                .as_str()
                .expect("a case")
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{answers:#?}");
}

#[tokio::test]
async fn an_idempotency_key_reused_with_different_input_is_a_conflict() {
    let app = spawn_app().await;
    let a = open_dispute(&app, "TP-0007").await;
    let first = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": a["id"], "idempotencyKey": "k-1" } }),
        )
        .await;
    let again = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": a["id"], "idempotencyKey": "k-1" } }),
        )
        .await;
    assert_eq!(
        first["escalate"]["case"]["id"],
        again["escalate"]["case"]["id"]
    );
    let other = app
        .graphql(&agent(), ESCALATE, json!({ "input": { "issueId": a["id"], "priority": "CRITICAL", "idempotencyKey": "k-1" } }))
        .await;
    assert_eq!(error_codes(&other), vec!["IDEMPOTENCY_CONFLICT"]);
}

#[tokio::test]
async fn a_failing_community_post_is_retried_from_the_outbox_until_it_lands() {
    let app = spawn_app().await;
    let issue = open_dispute(&app, "TP-0008").await;
    let case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
        .await["escalate"]["case"]["id"]
        .clone();
    let discussion = issue["id"].as_str().unwrap();

    // Trading Grid goes down; the status is recorded but the post must wait.
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 1.0 }))
        .await;
    let retried = r#"outcome="retried""#;
    let retries_before = app.metric("gridcase_workflow_steps_total", retried).await;
    let data = app
        .data(
            &agent(),
            r#"mutation($id: ID!) { publishStatus(input: { caseId: $id, message: "Looking into it." }) { pendingSteps { id description attempts lastError } } }"#,
            json!({ "id": case }),
        )
        .await;
    let pending = data["publishStatus"]["pendingSteps"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        pending.iter().any(|s| s["description"]
            .as_str()
            .unwrap()
            .contains("community message")),
        "{pending:#?}"
    );
    // While it is down, the outbox retries it and the retry fails too.
    eventually("a failed retry of the deferred post", || async {
        (app.metric("gridcase_workflow_steps_total", retried).await > retries_before).then_some(())
    })
    .await;
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 0.0 }))
        .await;

    // Back up: the outbox delivers it, exactly once.
    let messages = eventually("the deferred post lands", || async {
        let m = app.community_messages(discussion).await;
        m.iter()
            .any(|m| m["body"].as_str().unwrap().contains("Looking into it."))
            .then_some(m)
    })
    .await;
    // Once nothing is left to run, due or arriving, it is still there once.
    app.quiet().await;
    let messages_later = app.community_messages(discussion).await;
    assert_eq!(messages.len(), messages_later.len());
    assert_eq!(
        messages_later
            .iter()
            .filter(|m| m["body"].as_str().unwrap().contains("Looking into it."))
            .count(),
        1
    );
    let left = app
        .data(
            &agent(),
            r#"query($id: ID!) { case(id: $id) { activity { action } } }"#,
            json!({ "id": case }),
        )
        .await;
    let actions: Vec<&str> = left["case"]["activity"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"step_deferred"));
}

fn sign(secret: &str, ts: i64, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.{body}").as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[tokio::test]
async fn forged_stale_and_replayed_webhooks_are_rejected() {
    let app = spawn_app().await;
    let tx = app
        .data(&agent(), r#"{ transactions(first: 30, filter: { partnerId: "TP-0009", statuses: [DELIVERED] }) { edges { node { id cases { id } } } } }"#, json!({}))
        .await;
    let tx = nodes(&tx["transactions"])
        .into_iter()
        .find(|t| t["cases"].as_array().unwrap().is_empty())
        .unwrap();
    // The transaction really fails on Trading Grid, which (webhooks off) does not tell us…
    let resp = app
        .http
        .put(format!("{}/__sim/webhook", app.tg.base_url()))
        .json(&json!({ "url": null }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    app.scenario(
        Platform::TradingGrid,
        "transaction-fails",
        json!({ "transaction_id": tx["id"], "status": "failed" }),
    )
    .await;
    // …so we deliver its event ourselves, exactly as the feed has it.
    let feed = app
        .upstream(Platform::TradingGrid, "/v1/events?limit=100")
        .await;
    let event = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "transaction.failed" && e["data"]["id"] == tx["id"])
        .expect("the failure is in the events feed")
        .clone();
    let event_id = event["id"].as_str().unwrap().to_owned();
    let body = event.to_string();
    let now = chrono::Utc::now().timestamp();
    let post = |sig: String, ts: i64, id: String, body: String| {
        let http = app.http.clone();
        let url = format!("{}/webhooks/trading-grid", app.url);
        async move {
            http.post(url)
                .header("webhook-id", id)
                .header("webhook-timestamp", ts.to_string())
                .header("webhook-signature", sig)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
        }
    };
    let cases_of_tx = || async {
        app.upstream(
            Platform::CoreCase,
            &format!(
                "/api/v2/cases?transaction_ids={}",
                tx["id"].as_str().unwrap()
            ),
        )
        .await["data"]
            .as_array()
            .unwrap()
            .len()
    };

    let forged = post(
        sign("not-the-secret-at-all", now, &body),
        now,
        event_id.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(forged.status(), 401);
    let stale = post(
        sign(WEBHOOK_SECRET, now - 3600, &body),
        now - 3600,
        event_id.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(stale.status(), 401);
    let tampered = post(
        sign(WEBHOOK_SECRET, now, &body),
        now,
        event_id.clone(),
        body.replace("failed", "rejected"),
    )
    .await;
    assert_eq!(tampered.status(), 401);
    assert_eq!(cases_of_tx().await, 0, "nothing happened");

    let malformed = post(
        sign(WEBHOOK_SECRET, now, "{not json"),
        now,
        event_id.clone(),
        "{not json".into(),
    )
    .await;
    assert_eq!(malformed.status(), 400);

    let mismatched = post(
        sign(WEBHOOK_SECRET, now, &body),
        now,
        "EVT-some-other-id".to_owned(),
        body.clone(),
    )
    .await;
    assert_eq!(mismatched.status(), 400);

    let good = post(
        sign(WEBHOOK_SECRET, now, &body),
        now,
        event_id.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(good.status(), 200);
    assert_eq!(cases_of_tx().await, 1);
    let replay = post(
        sign(WEBHOOK_SECRET, now, &body),
        now,
        event_id.clone(),
        body.clone(),
    )
    .await;
    assert_eq!(replay.status(), 200);
    let answer: Value = replay.json().await.unwrap();
    assert_eq!(answer["status"], "duplicate");
    assert_eq!(cases_of_tx().await, 1);
}

#[tokio::test]
async fn a_simulator_redelivery_is_acknowledged_and_not_processed_twice() {
    let app = spawn_app().await;
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": "TP-0010", "kind": "shipment_discrepancy", "title": "2 pallets short", "body": "ASN said 22, we got 20." }),
        )
        .await;
    let discussion = opened["id"].as_str().unwrap().to_owned();
    eventually("escalated", || async {
        app.upstream(
            Platform::TradingGrid,
            &format!("/v1/discussions/{discussion}"),
        )
        .await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let events = app
        .upstream(Platform::TradingGrid, "/v1/events?limit=100")
        .await;
    let event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "discussion.created" && e["data"]["id"] == discussion.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resp = app
        .http
        .post(format!(
            "{}/__sim/webhook/redeliver/{event}",
            app.tg.base_url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    // The redelivery answered and whatever it set off done: still one message.
    app.quiet().await;
    let messages = app.community_messages(&discussion).await;
    assert_eq!(
        messages
            .iter()
            .filter(|m| m["body"].as_str().unwrap().contains("We have opened case"))
            .count(),
        1
    );
}

#[tokio::test]
async fn partners_are_forbidden_every_mutation() {
    let app = spawn_app().await;
    for m in [
        r#"mutation { escalate(input: { issueId: "DSC-000003" }) { created } }"#,
        r#"mutation { linkEvidence(input: { caseId: "CASE-000001", documentIds: ["DOC-000001"] }) { created } }"#,
        r#"mutation { requestDocuments(input: { caseId: "CASE-000001", kinds: [INVOICE], message: "x" }) { created } }"#,
        r#"mutation { publishStatus(input: { caseId: "CASE-000001" }) { created } }"#,
        r#"mutation { publishResolution(input: { caseId: "CASE-000001", summary: "s", rootCause: "r", correctiveActions: [] }) { created } }"#,
    ] {
        let body = app.graphql(&partner("TP-0001"), m, json!({})).await;
        assert_eq!(error_codes(&body), vec!["FORBIDDEN"], "{m}: {body:#}");
    }
    // And nothing was written.
    let case = app
        .upstream(Platform::CoreCase, "/api/v2/cases/CASE-000001")
        .await;
    assert_ne!(case["status"], "waiting_on_partner");
}

#[tokio::test]
async fn bad_mutation_input_is_refused_before_anything_is_written() {
    let app = spawn_app().await;
    for (m, code) in [
        (
            r#"mutation { escalate(input: {}) { created } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { escalate(input: { issueId: "DSC-000003", transactionIds: ["TX-0000001"] }) { created } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { escalate(input: { issueId: "CASE-1" }) { created } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { linkEvidence(input: { caseId: "CASE-000001", documentIds: [] }) { created } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { publishResolution(input: { caseId: "CASE-000001", summary: " ", rootCause: "r", correctiveActions: [] }) { created } }"#,
            "BAD_USER_INPUT",
        ),
        (
            r#"mutation { requestDocuments(input: { caseId: "CASE-000001", kinds: [], message: "x" }) { created } }"#,
            "BAD_USER_INPUT",
        ),
    ] {
        let body = app.graphql(&agent(), m, json!({})).await;
        assert_eq!(error_codes(&body), vec![code], "{m}: {body:#}");
    }
}

#[tokio::test]
async fn a_restarted_gateway_resumes_the_redis_outbox() {
    let redis = test_redis();
    let namespace = format!(
        "test-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
    );
    let with_redis = [
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        ("GRIDCASE_REDIS_NAMESPACE", namespace.clone()),
    ];
    let app = spawn_app_with(&with_redis).await;
    let issue = open_dispute(&app, "TP-0011").await;
    let case = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "issueId": issue["id"] } }),
        )
        .await["escalate"]["case"]["id"]
        .clone();
    let discussion = issue["id"].as_str().unwrap();

    // Trading Grid is down when the status is published: the post waits in Redis.
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 1.0 }))
        .await;
    let data = app
        .data(&agent(), r#"mutation($id: ID!) { publishStatus(input: { caseId: $id, message: "Resumed after restart." }) { pendingSteps { id } } }"#, json!({ "id": case }))
        .await;
    assert!(!data["publishStatus"]["pendingSteps"]
        .as_array()
        .unwrap()
        .is_empty());

    // The gateway stops before Trading Grid recovers…
    let mut app = app;
    app.stop_gateway().await;
    let (url, _stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &with_redis).await;
    app.route_webhooks_to(&url).await;
    app.set_faults(Platform::TradingGrid, json!({ "error_rate": 0.0 }))
        .await;

    // …and the new one delivers what the old one could not.
    eventually(
        "the restarted gateway posts the deferred message",
        || async {
            app.community_messages(discussion)
                .await
                .iter()
                .any(|m| {
                    m["body"]
                        .as_str()
                        .unwrap()
                        .contains("Resumed after restart.")
                })
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn a_delivered_transaction_is_not_an_exception() {
    let app = spawn_app().await;
    let tx = app
        .data(&agent(), r#"{ transactions(first: 1, filter: { statuses: [DELIVERED] }) { edges { node { id } } } }"#, json!({}))
        .await;
    let id = nodes(&tx["transactions"])[0]["id"].clone();
    let body = app
        .graphql(
            &agent(),
            ESCALATE,
            json!({ "input": { "transactionIds": [id] } }),
        )
        .await;
    assert_eq!(error_codes(&body), vec!["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn without_webhooks_the_events_feed_poller_drives_the_same_rules() {
    let app = spawn_app_with(&[("GRIDCASE_POLL_INTERVAL_MS", "100".to_owned())]).await;
    // These platforms send no webhooks.
    for p in [Platform::TradingGrid, Platform::CoreCase] {
        let resp = app
            .http
            .put(format!("{}/__sim/webhook", app.sim(p).base_url()))
            .json(&json!({ "url": null, "secret": null }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": "TP-0012", "kind": "order_discrepancy", "title": "PO 7781 duplicated", "body": "We received the same 850 twice." }),
        )
        .await;
    let discussion = opened["id"].as_str().unwrap().to_owned();
    eventually("the poller escalates the new dispute", || async {
        app.upstream(
            Platform::TradingGrid,
            &format!("/v1/discussions/{discussion}"),
        )
        .await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    let webhook: Value = app
        .http
        .get(format!("{}/__sim/webhook", app.tg.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        webhook["url"].is_null(),
        "no webhook was configured: {webhook}"
    );
}

#[tokio::test]
async fn escalating_the_same_failed_transactions_twice_or_concurrently_yields_one_case() {
    let app = spawn_app().await;
    let mut tx = None;
    for p in ["TP-0013", "TP-0014", "TP-0015", "TP-0016"] {
        let data = app
            .data(&agent(), r#"query($p: ID!) { transactions(first: 100, filter: { partnerId: $p, statuses: [FAILED, REJECTED] }) { edges { node { id cases { id } } } } }"#, json!({ "p": p }))
            .await;
        tx = nodes(&data["transactions"])
            .into_iter()
            .find(|t| t["cases"].as_array().unwrap().is_empty())
            .map(|t| t["id"].clone());
        if tx.is_some() {
            break;
        }
    }
    let tx = tx.expect("a failed transaction without a case");
    let token = agent();
    let calls = (0..10).map(|_| {
        app.graphql(
            &token,
            ESCALATE,
            json!({ "input": { "transactionIds": [tx] } }),
        )
    });
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<String> = answers
        .iter()
        .map(|a| {
            a["data"]["escalate"]["case"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{a:#}"))
                .to_owned()
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1);
    let later = app
        .data(
            &agent(),
            ESCALATE,
            json!({ "input": { "transactionIds": [tx] } }),
        )
        .await;
    assert_eq!(later["escalate"]["case"]["id"], ids[0].as_str());
    assert_eq!(later["escalate"]["created"], false);
    let cases = app
        .upstream(
            Platform::CoreCase,
            &format!("/api/v2/cases?transaction_ids={}", tx.as_str().unwrap()),
        )
        .await;
    assert_eq!(cases["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_disputed_transaction_that_fails_gets_no_second_case_and_no_second_notice() {
    let app = spawn_app().await;
    let data = app
        .data(&agent(), r#"{ transactions(first: 50, filter: { partnerId: "TP-0017", statuses: [DELIVERED] }) { edges { node { id cases { id } issues { id } } } } }"#, json!({}))
        .await;
    let tx = nodes(&data["transactions"])
        .into_iter()
        .find(|t| {
            t["cases"].as_array().unwrap().is_empty() && t["issues"].as_array().unwrap().is_empty()
        })
        .expect("a transaction nobody talks about yet")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The partner disputes it; the gateway opens the dispute case.
    let opened = app
        .scenario(
            Platform::TradingGrid,
            "partner-opens-discussion",
            json!({ "partner_id": "TP-0017", "kind": "invoice_discrepancy", "title": "Invoice for this order is wrong",
                    "body": "The 810 does not match our PO.", "transaction_ids": [tx] }),
        )
        .await;
    let discussion = opened["id"].as_str().unwrap().to_owned();
    let case = eventually("the dispute case", || async {
        app.upstream(
            Platform::TradingGrid,
            &format!("/v1/discussions/{discussion}"),
        )
        .await["linked_case_id"]
            .as_str()
            .map(str::to_owned)
    })
    .await;
    app.webhooks_settled().await;
    let notices = |messages: Vec<Value>| {
        messages
            .iter()
            .filter(|m| m["body"].as_str().unwrap().contains("We have opened case"))
            .count()
    };
    assert_eq!(notices(app.community_messages(&discussion).await), 1);

    // Then the transaction itself is rejected: the dispute case already covers it.
    app.scenario(
        Platform::TradingGrid,
        "transaction-fails",
        json!({ "transaction_id": tx, "status": "rejected" }),
    )
    .await;
    app.webhooks_settled().await;
    let cases = app
        .upstream(
            Platform::CoreCase,
            &format!("/api/v2/cases?transaction_ids={tx}"),
        )
        .await;
    let ids: Vec<&str> = cases["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![case.as_str()]);
    assert_eq!(
        notices(app.community_messages(&discussion).await),
        1,
        "no second notice"
    );
    // And no discussion was opened for it either.
    let opened_for_tx = app
        .upstream(
            Platform::TradingGrid,
            &format!("/v1/discussions?transaction_ids={tx}"),
        )
        .await;
    assert_eq!(opened_for_tx["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_replicas_sharing_redis_open_one_case() {
    let redis = test_redis();
    let namespace = format!("replicas-{}", std::process::id());
    let shared = [
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        ("GRIDCASE_REDIS_NAMESPACE", namespace),
    ];
    let app = spawn_app_with(&shared).await;
    let (other, _stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &shared).await;
    let issue = open_dispute(&app, "TP-0018").await;
    let body = json!({ "query": ESCALATE, "variables": { "input": { "issueId": issue["id"] } } });
    let calls = (0..20).map(|i| {
        let url = if i % 2 == 0 {
            app.url.clone()
        } else {
            other.clone()
        };
        let (http, body) = (app.http.clone(), body.clone());
        async move {
            let v: Value = http
                .post(format!("{url}/graphql"))
                .bearer_auth(agent())
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v
        }
    });
    let answers = futures::future::join_all(calls).await;
    let mut ids: Vec<&str> = answers
        .iter()
        .map(|a| {
            a["data"]["escalate"]["case"]["id"]
                .as_str()
                .expect("a case")
        })
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 1, "{answers:#?}");
    assert_eq!(
        answers
            .iter()
            .filter(|a| a["data"]["escalate"]["created"] == true)
            .count(),
        1
    );
}
