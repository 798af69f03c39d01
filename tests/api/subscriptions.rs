//! `caseMilestones` over `/graphql/ws` (graphql-transport-ws).

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

pub(crate) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect and authenticate; `None` when the server refuses the connection.
pub(crate) async fn connect(app: &TestApp, token: &str) -> Option<Socket> {
    connect_to(&app.url, token).await
}

pub(crate) async fn connect_to(gateway: &str, token: &str) -> Option<Socket> {
    let url = format!("{}/graphql/ws", gateway.replace("http://", "ws://"));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }).to_string(),
    ))
    .await
    .unwrap();
    match next_json(&mut ws).await {
        Some(m) if m["type"] == "connection_ack" => Some(ws),
        _ => None,
    }
}

/// The next JSON message, or `None` on close / timeout.
pub(crate) async fn next_json(ws: &mut Socket) -> Option<Value> {
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(10), ws.next())
            .await
            .ok()??
            .ok()?;
        match msg {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).ok()?;
                if v["type"] == "ping" || v["type"] == "pong" {
                    continue;
                }
                return Some(v);
            }
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

pub(crate) async fn subscribe(ws: &mut Socket, query: &str, variables: Value) {
    ws.send(Message::text(
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }).to_string(),
    ))
    .await
    .unwrap();
}

/// A case of `partner` with a community discussion.
async fn case_of(app: &TestApp, partner: &str) -> String {
    let data = app
        .data(
            &agent(),
            r#"query($p: ID!) { cases(first: 50, filter: { partnerId: $p, milestones: [UNDER_REVIEW, RECEIVED] }) { edges { node { id issue { id } } } } }"#,
            json!({ "p": partner }),
        )
        .await;
    nodes(&data["cases"])
        .into_iter()
        .find(|c| !c["issue"].is_null())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .expect("an open case with a discussion")
}

async fn publish(app: &TestApp, case: &str, message: &str) {
    app.data(
        &agent(),
        r#"mutation($c: ID!, $m: String) { publishStatus(input: { caseId: $c, message: $m }) { pendingSteps { id } } }"#,
        json!({ "c": case, "m": message }),
    )
    .await;
}

const MILESTONES: &str = r#"subscription($after: String) { caseMilestones(after: $after) { cursor caseId partnerId milestone message } }"#;

#[tokio::test]
async fn a_partner_receives_its_own_case_milestones_and_nothing_else() {
    let app = spawn_app().await;
    let own = case_of(&app, "TP-0001").await;
    let other = case_of(&app, "TP-0002").await;
    let mut ws = connect(&app, &partner("TP-0001")).await.expect("accepted");
    subscribe(&mut ws, MILESTONES, json!({})).await;
    subscribed(&app.http, &app.url, 1).await;

    publish(&app, &other, "For the other partner").await;
    publish(&app, &own, "We are on it").await;

    let first = next_json(&mut ws).await.expect("an event");
    assert_eq!(first["type"], "next", "{first}");
    let event = &first["payload"]["data"]["caseMilestones"];
    assert_eq!(
        event["caseId"],
        own.as_str(),
        "the other partner's event was not sent"
    );
    assert_eq!(event["partnerId"], "TP-0001");
    assert_eq!(event["message"], "We are on it");
    assert!(event["cursor"].is_string());
}

#[tokio::test]
async fn a_subscriber_resumes_after_a_cursor() {
    let app = spawn_app().await;
    let case = case_of(&app, "TP-0003").await;
    let mut ws = connect(&app, &agent()).await.expect("accepted");
    subscribe(&mut ws, MILESTONES, json!({})).await;
    subscribed(&app.http, &app.url, 1).await;
    publish(&app, &case, "first").await;
    let first = next_json(&mut ws).await.expect("an event");
    let cursor = first["payload"]["data"]["caseMilestones"]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    drop(ws);

    // While disconnected, another milestone goes out; resuming replays it.
    publish(&app, &case, "while you were away").await;
    let mut again = connect(&app, &agent()).await.expect("accepted");
    subscribe(&mut again, MILESTONES, json!({ "after": cursor })).await;
    let replayed = next_json(&mut again).await.expect("the missed event");
    assert_eq!(
        replayed["payload"]["data"]["caseMilestones"]["message"],
        "while you were away"
    );
}

#[tokio::test]
async fn subscriptions_need_a_valid_token_and_partners_cannot_ask_for_others() {
    let app = spawn_app().await;
    assert!(
        connect(&app, "not-a-token").await.is_none(),
        "refused without a valid token"
    );

    let mut ws = connect(&app, &partner("TP-0001")).await.expect("accepted");
    subscribe(
        &mut ws,
        r#"subscription { caseMilestones(partnerId: "TP-0002") { caseId } }"#,
        json!({}),
    )
    .await;
    let answer = next_json(&mut ws).await.expect("an answer");
    // A field error: no data, the code says why.
    assert!(answer["payload"]["data"].is_null(), "{answer}");
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"],
        "FORBIDDEN"
    );
}

#[tokio::test]
async fn a_subscription_the_schema_refuses_gets_an_error_with_a_code_as_over_http() {
    let app = spawn_app().await;
    let mut ws = connect(&app, &partner("TP-0001")).await.expect("accepted");
    for query in [
        "subscription { caseMilestones { noSuchField } }",
        "subscription { caseMilestones(after: 7) { caseId } }",
        "subscription { caseMilestones { caseId }",
    ] {
        subscribe(&mut ws, query, json!({})).await;
        let answer = next_json(&mut ws).await.expect("an answer");
        assert_eq!(answer["type"], "error", "{query}: {answer}");
        assert_eq!(
            answer["payload"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{query}: {answer}"
        );
    }
}

#[tokio::test]
async fn with_redis_a_subscriber_on_one_replica_sees_milestones_published_on_another() {
    let redis = test_redis();
    let shared = [
        ("GRIDCASE_REDIS_URL", redis.url.clone()),
        (
            "GRIDCASE_REDIS_NAMESPACE",
            format!("bus-{}", std::process::id()),
        ),
    ];
    let app = spawn_app_with(&shared).await;
    let (other_url, _stop) = start_gateway(&app.tg.base_url(), &app.cc.base_url(), &shared).await;
    let case = case_of(&app, "TP-0001").await;
    // Subscribed on the second replica…
    let mut ws = connect_to(&other_url, &partner("TP-0001"))
        .await
        .expect("accepted");
    subscribe(&mut ws, MILESTONES, json!({})).await;
    subscribed(&app.http, &other_url, 1).await;
    // …published through the first.
    publish(&app, &case, "Across replicas").await;
    let event = next_json(&mut ws).await.expect("an event");
    assert_eq!(
        event["payload"]["data"]["caseMilestones"]["message"], "Across replicas",
        "{event}"
    );
}

#[tokio::test]
async fn sockets_asking_the_same_share_one_execution_and_partners_still_see_only_their_own() {
    let app = spawn_app().await;
    let first = case_of(&app, "TP-0001").await;
    let second = case_of(&app, "TP-0002").await;
    let mut own = Vec::new();
    for _ in 0..3 {
        let mut ws = connect(&app, &partner("TP-0001")).await.expect("accepted");
        subscribe(&mut ws, MILESTONES, json!({})).await;
        own.push(ws);
    }
    let mut other = connect(&app, &partner("TP-0002")).await.expect("accepted");
    subscribe(&mut other, MILESTONES, json!({})).await;
    // Four sockets listening, two executions: one per partner.
    eventually("every socket listens", || async {
        (app.metric("gridcase_subscription_listeners", "").await == 4.0).then_some(())
    })
    .await;
    subscribed(&app.http, &app.url, 2).await;
    assert_eq!(app.metric("gridcase_subscriptions_active", "").await, 2.0);

    publish(&app, &second, "For the second partner").await;
    publish(&app, &first, "For the first partner").await;
    for ws in &mut own {
        let event = next_json(ws).await.expect("an event");
        let event = &event["payload"]["data"]["caseMilestones"];
        assert_eq!(event["partnerId"], "TP-0001", "{event}");
        assert_eq!(event["message"], "For the first partner");
    }
    let event = next_json(&mut other).await.expect("an event");
    assert_eq!(
        event["payload"]["data"]["caseMilestones"]["message"],
        "For the second partner"
    );

    // The execution ends with its last socket.
    drop(own);
    drop(other);
    eventually("the executions end with their sockets", || async {
        (app.metric("gridcase_subscriptions_active", "").await == 0.0
            && app.metric("gridcase_subscription_listeners", "").await == 0.0)
            .then_some(())
    })
    .await;
}
