//! GraphQL over Server-Sent Events at `/graphql/stream` (distinct connections mode),
//! read with an SSE parser the way `graphql-sse` or `EventSource` would.

use eventsource_stream::{Event, Eventsource};
use futures::stream::BoxStream;
use futures::StreamExt;
use gridcase::sim::Platform;
use serde_json::{json, Value};

use crate::helpers::*;

const MILESTONES: &str = r#"subscription($partner: ID) { caseMilestones(partnerId: $partner) { cursor caseId partnerId milestone } }"#;

type Events = BoxStream<'static, Event>;

/// POST an operation to `/graphql/stream`; the HTTP response (not yet read).
async fn open(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
    last_event_id: Option<&str>,
) -> reqwest::Response {
    let mut req = app
        .http
        .post(format!("{}/graphql/stream", app.url))
        .header("accept", "text/event-stream")
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(id) = last_event_id {
        req = req.header("last-event-id", id);
    }
    req.send().await.unwrap()
}

/// Open a stream that must be accepted; its parsed events.
async fn events(
    app: &TestApp,
    token: &str,
    query: &str,
    variables: Value,
    last_event_id: Option<&str>,
) -> Events {
    let resp = open(app, Some(token), query, variables, last_event_id).await;
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    resp.bytes_stream()
        .eventsource()
        .map(|e| e.expect("a well-formed event stream"))
        .boxed()
}

/// The next event, or `None` when the server ended the stream (15 s at most).
async fn next(events: &mut Events) -> Option<Event> {
    tokio::time::timeout(std::time::Duration::from_secs(15), events.next())
        .await
        .expect("an event or the end of the stream in time")
}

fn payload(event: &Event) -> Value {
    assert_eq!(event.event, "next", "{event:?}");
    serde_json::from_str(&event.data).unwrap()
}

/// An open case of `partner` that is still at RECEIVED.
async fn received_case_of(app: &TestApp, partner: &str) -> String {
    let data = app
        .data(
            &agent(),
            r#"query($p: ID!) { cases(first: 50, filter: { partnerId: $p, milestones: [RECEIVED] }) { edges { node { id } } } }"#,
            json!({ "p": partner }),
        )
        .await;
    nodes(&data["cases"])
        .first()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .expect("a case at RECEIVED")
}

async fn move_case(app: &TestApp, case: &str, status: &str) {
    app.scenario(
        Platform::CoreCase,
        "case-worker-moves-case",
        json!({ "case_id": case, "status": status }),
    )
    .await;
}

#[tokio::test]
async fn a_partner_streams_its_own_milestones_over_sse_and_resumes_with_last_event_id() {
    let app = spawn_app().await;
    let own = received_case_of(&app, "TP-0001").await;
    let other = received_case_of(&app, "TP-0002").await;
    let token = partner("TP-0001");
    // The response starts once the subscription listens.
    let mut stream = events(&app, &token, MILESTONES, json!({}), None).await;

    move_case(&app, &other, "in_progress").await;
    move_case(&app, &own, "in_progress").await;

    let first = next(&mut stream).await.expect("a milestone");
    let event = &payload(&first)["data"]["caseMilestones"];
    assert_eq!(
        event["caseId"],
        own.as_str(),
        "the other partner's was not sent"
    );
    assert_eq!(event["milestone"], "UNDER_REVIEW");
    assert_eq!(
        first.id,
        event["cursor"].as_str().unwrap(),
        "the SSE id is the stream cursor"
    );
    drop(stream);

    // While disconnected the case worker asks for documents; reconnecting with
    // the last id replays it.
    move_case(&app, &own, "waiting_on_partner").await;
    let mut resumed = events(&app, &token, MILESTONES, json!({}), Some(&first.id)).await;
    let missed = next(&mut resumed).await.expect("the missed milestone");
    let event = &payload(&missed)["data"]["caseMilestones"];
    assert_eq!(event["caseId"], own.as_str());
    assert_eq!(event["milestone"], "AWAITING_DOCUMENTS");
    assert_ne!(missed.id, first.id);
}

#[tokio::test]
async fn sse_streams_need_a_token_and_apply_the_same_policy_as_websocket() {
    let app = spawn_app().await;
    let refused = open(&app, None, MILESTONES, json!({}), None).await;
    assert_eq!(refused.status(), 401);
    let refused = open(&app, Some("not-a-token"), MILESTONES, json!({}), None).await;
    assert_eq!(refused.status(), 401);

    // Refusals after authentication travel in the stream, as the protocol asks.
    let mut stream = events(
        &app,
        &partner("TP-0001"),
        MILESTONES,
        json!({ "partner": "TP-0002" }),
        None,
    )
    .await;
    let refused = payload(&next(&mut stream).await.expect("an answer"));
    assert_eq!(error_codes(&refused), vec!["FORBIDDEN"], "{refused}");
    // Then `complete`, whose empty data a standard parser does not dispatch.
    assert!(next(&mut stream).await.is_none(), "the stream ends");

    let mut stream = events(
        &app,
        &partner("TP-0001"),
        MILESTONES,
        json!({}),
        Some("not-a-cursor"),
    )
    .await;
    let refused = payload(&next(&mut stream).await.expect("an answer"));
    assert_eq!(error_codes(&refused), vec!["BAD_USER_INPUT"], "{refused}");
}

#[tokio::test]
async fn queries_over_sse_answer_once_then_complete() {
    let app = spawn_app().await;
    let resp = open(
        &app,
        Some(&partner("TP-0001")),
        "{ me { role partnerId } }",
        json!({}),
        None,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let raw = resp.text().await.unwrap();
    let (next_event, rest) = raw.split_once("\n\n").expect("one event, then more");
    let data = next_event
        .strip_prefix("event: next\ndata: ")
        .unwrap_or_else(|| panic!("a next event first: {raw}"));
    let answer: Value = serde_json::from_str(data).unwrap();
    assert_eq!(answer["data"]["me"]["partnerId"], "TP-0001");
    assert!(
        rest.starts_with("event: complete\n"),
        "then complete: {raw}"
    );

    // Mutations are not sent over GET.
    let resp = app
        .http
        .get(format!("{}/graphql/stream", app.url))
        .query(&[(
            "query",
            r#"mutation { publishStatus(input: { caseId: "CASE-000001" }) { pendingSteps { id } } }"#,
        )])
        .bearer_auth(agent())
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}

#[tokio::test]
async fn an_idle_stream_gets_keep_alive_comments_and_ends_at_its_lifetime() {
    let app = spawn_app_with(&[
        ("GRIDCASE_STREAM_KEEPALIVE_MS", "20".into()),
        ("GRIDCASE_STREAM_MAX_LIFETIME_MS", "300".into()),
    ])
    .await;
    let resp = open(&app, Some(&agent()), MILESTONES, json!({}), None).await;
    assert_eq!(resp.status(), 200);
    // Read the raw bytes: comments are not events, so parsers hide them.
    let mut body = resp.bytes_stream();
    let mut raw = String::new();
    while let Some(chunk) = tokio::time::timeout(std::time::Duration::from_secs(15), body.next())
        .await
        .expect("the stream ends in time")
    {
        raw.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(raw.contains(": keep-alive\n"), "{raw}");
    assert!(
        !raw.contains("event: complete"),
        "a stream closed for its lifetime is not complete, so clients reconnect: {raw}"
    );
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"gridcase_sse_streams_closed_total{reason="lifetime"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn fresh_streams_asking_the_same_share_one_execution_and_a_resumed_one_runs_alone() {
    let app = spawn_app().await;
    let own = received_case_of(&app, "TP-0001").await;
    let token = partner("TP-0001");
    let mut a = events(&app, &token, MILESTONES, json!({}), None).await;
    let mut b = events(&app, &token, MILESTONES, json!({}), None).await;
    // Both listen once their responses have started, on one execution.
    assert_eq!(app.metric("gridcase_subscriptions_active", "").await, 1.0);
    assert_eq!(app.metric("gridcase_subscription_listeners", "").await, 2.0);
    // A WebSocket asking the same of the same audience joins it too.
    let mut ws = crate::subscriptions::connect(&app, &token)
        .await
        .expect("accepted");
    crate::subscriptions::subscribe(&mut ws, MILESTONES, json!({})).await;
    eventually("the socket listens", || async {
        (app.metric("gridcase_subscription_listeners", "").await == 3.0).then_some(())
    })
    .await;
    assert_eq!(app.metric("gridcase_subscriptions_active", "").await, 1.0);

    move_case(&app, &own, "in_progress").await;
    let (first_a, first_b) = (next(&mut a).await.unwrap(), next(&mut b).await.unwrap());
    assert_eq!(payload(&first_a)["data"]["caseMilestones"]["caseId"], own);
    assert_eq!(first_a.data, first_b.data);
    assert_eq!(first_a.id, first_b.id, "each carries its cursor as its id");
    let on_ws = crate::subscriptions::next_json(&mut ws)
        .await
        .expect("an event");
    assert_eq!(on_ws["payload"], payload(&first_a), "the same response");

    // A stream that resumes replays its own history: an execution of its own.
    let mut resumed = events(&app, &token, MILESTONES, json!({}), Some(&first_a.id)).await;
    assert_eq!(app.metric("gridcase_subscriptions_active", "").await, 2.0);
    move_case(&app, &own, "waiting_on_partner").await;
    for stream in [&mut a, &mut b, &mut resumed] {
        let event = next(stream).await.expect("the next milestone");
        assert_eq!(
            payload(&event)["data"]["caseMilestones"]["milestone"],
            "AWAITING_DOCUMENTS"
        );
    }

    drop((a, b, resumed, ws));
    eventually("the executions end with their streams", || async {
        (app.metric("gridcase_subscriptions_active", "").await == 0.0
            && app.metric("gridcase_subscription_listeners", "").await == 0.0)
            .then_some(())
    })
    .await;
}
