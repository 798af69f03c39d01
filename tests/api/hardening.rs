//! What an untrusted caller can send, and what the gateway answers: nesting,
//! size, aliases, root fields, cost, CSRF, introspection, connection deadlines and
//! caps, WebSocket bounds, and shutdown with sockets open. Each bound is tried at
//! the bound (accepted) and one past it (refused), and the gateway stays up.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use gridcase::auth::Role;
use gridcase::sim::Platform;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::*;

async fn post_raw(app: &TestApp, token: &str, body: String) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn post_query(app: &TestApp, token: &str, query: &str) -> (u16, Value) {
    post_raw(app, token, json!({ "query": query }).to_string()).await
}

/// The gateway still answers an ordinary query.
async fn still_up(app: &TestApp) {
    let data = app
        .data(&partner("TP-0001"), "{ me { partnerId } }", json!({}))
        .await;
    assert_eq!(data["me"]["partnerId"], "TP-0001");
}

fn deep_list(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

fn deep_object(n: usize) -> String {
    format!("{}1{}", "{a:".repeat(n), "}".repeat(n))
}

#[tokio::test]
async fn a_hundred_thousand_nested_literals_are_refused_over_post_and_get_and_the_gateway_stays_up()
{
    let app = spawn_app().await;
    let token = partner("TP-0001");
    let query = |literal: String| {
        format!("{{ partnerIssues(first: 1, filter: {{ kinds: {literal} }}) {{ edges {{ node {{ id }} }} }} }}")
    };
    for literal in [deep_list(100_000), deep_object(100_000)] {
        let (status, body) = post_query(&app, &token, &query(literal)).await;
        assert_eq!(status, 400);
        assert_eq!(error_codes(&body), ["QUERY_TOO_DEEP"]);
    }
    // A URL carries less; 5,000 levels are still far past the bound.
    for literal in [deep_list(5_000), deep_object(5_000)] {
        let query = query(literal);

        let resp = app
            .http
            .get(format!("{}/graphql", app.url))
            .bearer_auth(&token)
            .header("apollo-require-preflight", "true")
            .query(&[("query", query.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_codes(&body), ["QUERY_TOO_DEEP"]);
    }
    // Selection sets nested as deep.
    let query = format!("{}{}", "{a".repeat(100_000), "}".repeat(100_000));
    let (status, body) = post_query(&app, &token, &query).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["QUERY_TOO_DEEP"]);
    still_up(&app).await;
}

#[tokio::test]
async fn a_hundred_thousand_nested_variables_are_refused_and_the_gateway_stays_up() {
    let app = spawn_app().await;
    let token = partner("TP-0001");
    for value in [
        deep_list(100_000),
        deep_object(100_000).replace("a:", "\"a\":"),
    ] {
        let body = format!(
            r#"{{"query":"query($k: [IssueKind!]) {{ partnerIssues(first: 1, filter: {{ kinds: $k }}) {{ edges {{ node {{ id }} }} }} }}","variables":{{"k":{value}}}}}"#
        );
        let (status, _) = post_raw(&app, &token, body).await;
        assert_eq!(status, 400);
    }
    still_up(&app).await;
}

#[tokio::test]
async fn nesting_at_the_bound_reaches_validation_and_one_past_is_refused() {
    let app = spawn_app_with(&[("GRIDCASE_LIMITS__MAX_NESTING", "10".into())]).await;
    let token = partner("TP-0001");
    // `{ partnerIssues( filter: { kinds: … } ) … }` opens 3 levels before the list.
    let query = |n: usize| {
        format!(
            "{{ partnerIssues(first: 1, filter: {{ kinds: {} }}) {{ edges {{ cursor }} }} }}",
            deep_list(n)
        )
    };
    let (_, body) = post_query(&app, &token, &query(7)).await;
    assert_ne!(error_codes(&body), ["QUERY_TOO_DEEP"], "{body}");
    let (status, body) = post_query(&app, &token, &query(8)).await;
    assert_eq!(
        (status, error_codes(&body)),
        (400, vec!["QUERY_TOO_DEEP".to_owned()])
    );
}

#[tokio::test]
async fn deep_literals_over_websocket_are_refused_and_the_socket_and_gateway_stay_up() {
    let app = spawn_app().await;
    let mut ws = ws_connect(&app, &partner("TP-0001")).await;
    // As deep as fits in one message (64 KiB by default).
    let query = format!(
        "subscription {{ caseMilestones(caseId: {}) {{ cursor }} }}",
        deep_list(30_000)
    );
    ws.send(Message::text(
        json!({ "id": "deep", "type": "subscribe", "payload": { "query": query } }).to_string(),
    ))
    .await
    .unwrap();
    let answer = next_json(&mut ws).await.expect("an answer on the socket");
    assert_eq!(answer["type"], "error");
    assert_eq!(answer["id"], "deep");
    assert_eq!(answer["payload"][0]["extensions"]["code"], "QUERY_TOO_DEEP");
    // The socket still works.
    ws.send(Message::text(json!({ "type": "ping" }).to_string()))
        .await
        .unwrap();
    assert_eq!(next_frame(&mut ws).await.unwrap()["type"], "pong");
    still_up(&app).await;
}

#[tokio::test]
async fn aliases_past_the_bound_are_refused_before_any_upstream_call() {
    let app = spawn_app().await;
    let token = partner("TP-0001");
    // 30 aliases (the default bound) pass, 31 are refused.
    let query = |n: usize| {
        let fields: String = (0..n).map(|i| format!("r{i}: role ")).collect();
        format!("{{ me {{ {fields} }} }}")
    };
    let (status, body) = post_query(&app, &token, &query(30)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    app.reset_upstream_calls().await;
    let (status, body) = post_query(&app, &token, &query(31)).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["TOO_MANY_ALIASES"]);
    let (calls, _) = app.upstream_calls(Platform::TradingGrid).await;
    assert_eq!(calls, 0, "a refused operation reached the platform");
}

#[tokio::test]
async fn root_fields_past_the_bound_are_refused() {
    let app = spawn_app().await;
    let token = partner("TP-0001");
    // Root fields without aliases: the same field repeated merges, so spread
    // them through inline fragments.
    let query = |n: usize| {
        let fields: String = (0..n).map(|_| "... on Query { me { role } } ").collect();
        format!("{{ {fields} }}")
    };
    let (status, body) = post_query(&app, &token, &query(20)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let (status, body) = post_query(&app, &token, &query(21)).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["TOO_MANY_ROOT_FIELDS"]);
}

#[tokio::test]
async fn list_cost_is_weighted_by_first() {
    let app = spawn_app_with(&[("GRIDCASE_LIMITS__MAX_COMPLEXITY", "100".into())]).await;
    let token = agent();
    // edges { node { id } } costs 3 per item.
    let query = |first: usize| {
        format!("{{ transactions(first: {first}) {{ edges {{ node {{ id }} }} }} }}")
    };
    let (status, body) = post_query(&app, &token, &query(33)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    app.reset_upstream_calls().await;
    let (status, body) = post_query(&app, &token, &query(34)).await;
    assert_eq!(status, 400);
    assert_eq!(error_codes(&body), ["QUERY_TOO_COMPLEX"]);
    assert_eq!(app.upstream_calls(Platform::TradingGrid).await.0, 0);
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_declared_or_chunked() {
    let app = spawn_app_with(&[("GRIDCASE_HTTP__MAX_BODY_BYTES", "4096".into())]).await;
    let token = partner("TP-0001");
    // Exactly at the bound: padded with JSON whitespace.
    let base = json!({ "query": "{ me { role } }" }).to_string();
    let at = format!("{}{}", base, " ".repeat(4096 - base.len()));
    assert_eq!(at.len(), 4096);
    let (status, body) = post_raw(&app, &token, at).await;
    assert_eq!(status, 200, "{body}");
    let past = format!("{}{}", base, " ".repeat(4097 - base.len()));
    let (status, body) = post_raw(&app, &token, past).await;
    assert_eq!(status, 413);
    assert_eq!(error_codes(&body), ["PAYLOAD_TOO_LARGE"]);
    // No Content-Length: the body is counted as it arrives.
    let chunks = futures::stream::iter(
        (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 1024]))),
    );
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    // Webhooks too, before any signature work.
    let resp = app
        .http
        .post(format!("{}/webhooks/core-case", app.url))
        .header("content-type", "application/json")
        .body(vec![b' '; 5000])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
}

#[tokio::test]
async fn requests_a_browser_could_send_cross_site_are_refused_and_run_nothing() {
    let app = spawn_app().await;
    let token = agent();
    let mutation = json!({ "query": r#"mutation { escalate(input: { issueId: "DSC-000001" }) { created } }"# }).to_string();
    app.reset_upstream_calls().await;
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut req = app
            .http
            .post(format!("{}/graphql", app.url))
            .bearer_auth(&token)
            .body(mutation.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 400, "{content_type:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(error_codes(&body), ["CSRF_REFUSED"], "{content_type:?}");
    }
    assert_eq!(app.upstream_calls(Platform::CoreCase).await.0, 0);
    assert_eq!(app.upstream_calls(Platform::TradingGrid).await.0, 0);
    // GET needs a header no cross-site page can add without a preflight.
    let get = |with: Option<(&'static str, &'static str)>| {
        let mut req = app
            .http
            .get(format!("{}/graphql", app.url))
            .bearer_auth(&token)
            .query(&[("query", "{ me { role } }")]);
        if let Some((k, v)) = with {
            req = req.header(k, v);
        }
        req.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 400);
    for header in [
        ("apollo-require-preflight", "true"),
        ("x-requested-with", "XMLHttpRequest"),
        ("content-type", "application/json"),
    ] {
        assert_eq!(get(Some(header)).await.unwrap().status(), 200, "{header:?}");
    }
}

#[tokio::test]
async fn batched_requests_are_refused() {
    let app = spawn_app().await;
    let (status, _) = post_raw(
        &app,
        &partner("TP-0001"),
        json!([{ "query": "{ me { role } }" }, { "query": "{ me { role } }" }]).to_string(),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn production_mode_hides_the_schema_unless_enabled() {
    let app = spawn_app().await;
    let token = partner("TP-0001");
    let (_, body) = post_query(&app, &token, "{ __schema { types { name } } }").await;
    assert!(body["data"]["__schema"].is_null(), "{body}");
    let (_, body) = post_query(&app, &token, "{ me { rol } }").await;
    assert!(!body.to_string().contains("Did you mean"), "{body}");
    let page = app
        .http
        .get(format!("{}/graphql", app.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), 200, "GraphiQL is off in production mode");

    // The federation SDL is the schema too: staff only.
    let (_, body) = post_query(&app, &token, "{ _service { sdl } }").await;
    assert_eq!(error_codes(&body), ["FORBIDDEN"], "{body}");
    let (_, body) = post_query(&app, &agent(), "{ _service { sdl } }").await;
    assert!(
        body["data"]["_service"]["sdl"]
            .as_str()
            .is_some_and(|s| s.contains("@key")),
        "{body}"
    );

    let open = spawn_app_with(&[
        ("GRIDCASE_INTROSPECTION", "true".into()),
        ("GRIDCASE_GRAPHIQL", "true".into()),
    ])
    .await;
    let (_, body) = post_query(&open, &token, "{ __schema { types { name } } }").await;
    assert!(body["data"]["__schema"]["types"]
        .as_array()
        .is_some_and(|t| !t.is_empty()));
    let page = open
        .http
        .get(format!("{}/graphql", open.url))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
}

/// Read from a raw socket until the server closes it (0 bytes or an error), and
/// return what it sent.
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => all.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn slow_headers_and_trickled_bodies_are_cut_off() {
    let app = spawn_app_with(&[
        ("GRIDCASE_HTTP__HEADER_TIMEOUT_MS", "300".into()),
        ("GRIDCASE_HTTP__BODY_TIMEOUT_MS", "300".into()),
    ])
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    // Headers that never finish.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    read_until_closed(&mut slow).await;
    // A body that never finishes.
    let mut trickle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\"",
        partner("TP-0001")
    );
    trickle.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut trickle).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    still_up(&app).await;
}

/// Open `n` connections that are each served one request (proof they were
/// accepted), then one more: whether that one was served.
async fn served_past(addr: &str, n: usize) -> (Vec<tokio::net::TcpStream>, String) {
    let mut held = Vec::new();
    for _ in 0..n {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 12];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"HTTP/1.1 200");
        held.push(s);
    }
    let mut extra = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = extra
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await;
    let answer = read_until_closed(&mut extra).await;
    (held, answer)
}

#[tokio::test]
async fn connections_per_client_address_are_capped() {
    let app = spawn_app_with(&[
        ("GRIDCASE_HTTP__MAX_CONNECTIONS_PER_IP", "3".into()),
        ("GRIDCASE_HTTP__HEADER_TIMEOUT_MS", "20000".into()),
    ])
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let (mut held, answer) = served_past(&addr, 3).await;
    assert!(
        answer.is_empty(),
        "a fourth connection was served: {answer}"
    );
    // A slot comes back when a connection closes.
    drop(held.pop());
    let resp = eventually("a freed connection slot", || async {
        app.http
            .get(format!("{}/healthz", app.url))
            .send()
            .await
            .ok()
            .filter(|r| r.status() == 200)
    })
    .await;
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn connections_in_total_are_capped() {
    let app = spawn_app_with(&[
        ("GRIDCASE_HTTP__MAX_CONNECTIONS", "2".into()),
        ("GRIDCASE_HTTP__HEADER_TIMEOUT_MS", "20000".into()),
    ])
    .await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let (_held, answer) = served_past(&addr, 2).await;
    assert!(answer.is_empty(), "a third connection was served: {answer}");
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_open(url: &str) -> Socket {
    let mut request = format!("{}/graphql/ws", url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn ws_init(ws: &mut Socket, token: &str) {
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })
            .to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(next_frame(ws).await.unwrap()["type"], "connection_ack");
}

async fn ws_connect(app: &TestApp, token: &str) -> Socket {
    let mut ws = ws_open(&app.url).await;
    ws_init(&mut ws, token).await;
    ws
}

/// The next text frame as JSON, or `None` on close.
async fn next_frame(ws: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next())
            .await
            .ok()??
        {
            Ok(Message::Text(t)) => return serde_json::from_str(&t).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

/// The next non-ping JSON message.
async fn next_json(ws: &mut Socket) -> Option<Value> {
    loop {
        let v = next_frame(ws).await?;
        if v["type"] != "ping" && v["type"] != "pong" {
            return Some(v);
        }
    }
}

/// Read until the server's close frame; its code.
async fn close_code(ws: &mut Socket) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return u16::from(frame.code),
            Ok(Some(Ok(Message::Close(None)))) => return u16::from(CloseCode::Status),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
}

fn subscribe_msg(id: &str) -> Message {
    Message::text(
        json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { caseMilestones { cursor } }" } })
            .to_string(),
    )
}

#[tokio::test]
async fn a_websocket_that_never_authenticates_is_closed_with_4408() {
    let app = spawn_app_with(&[("GRIDCASE_HTTP__WS_INIT_TIMEOUT_MS", "200".into())]).await;
    let mut ws = ws_open(&app.url).await;
    assert_eq!(close_code(&mut ws).await, 4408);
}

#[tokio::test]
async fn subscribing_before_authenticating_is_closed_with_4401_and_a_bad_token_with_4403() {
    let app = spawn_app().await;
    let mut ws = ws_open(&app.url).await;
    ws.send(subscribe_msg("1")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 4401);
    let mut ws = ws_open(&app.url).await;
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer nope" } })
            .to_string(),
    ))
    .await
    .unwrap();
    assert_eq!(close_code(&mut ws).await, 4403);
}

#[tokio::test]
async fn a_legacy_client_with_a_bad_token_is_told_why_before_the_4403() {
    let app = spawn_app().await;
    let mut request = format!("{}/graphql/ws", app.url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-ws".parse().unwrap());
    let mut ws = tokio_tungstenite::connect_async(request).await.unwrap().0;
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer nope" } })
            .to_string(),
    ))
    .await
    .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("an answer in time");
    let Some(Ok(Message::Text(text))) = first else {
        panic!("expected connection_error, got {first:?}");
    };
    let error: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(error["type"], "connection_error", "{error}");
    assert!(error["payload"]["message"].is_string(), "{error}");
    assert_eq!(close_code(&mut ws).await, 4403);
}

#[tokio::test]
async fn a_client_closing_its_socket_gets_the_close_reply_it_is_owed() {
    let app = spawn_app().await;
    let mut ws = ws_connect(&app, &partner("TP-0001")).await;
    ws.send(subscribe_msg("1")).await.unwrap();
    ws.send(Message::Close(None)).await.unwrap();
    // The handshake completes: a close frame back, then the end (not a reset).
    assert_eq!(close_code(&mut ws).await, u16::from(CloseCode::Status));
    let end = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("the end in time");
    assert!(end.is_none(), "{end:?}");
}

#[tokio::test]
async fn subscriptions_per_socket_are_capped_and_a_reused_id_closes_with_4409() {
    let app = spawn_app_with(&[("GRIDCASE_HTTP__WS_MAX_SUBSCRIPTIONS", "2".into())]).await;
    let mut ws = ws_connect(&app, &partner("TP-0001")).await;
    ws.send(subscribe_msg("a")).await.unwrap();
    ws.send(subscribe_msg("b")).await.unwrap();
    ws.send(subscribe_msg("c")).await.unwrap();
    let refused = next_json(&mut ws).await.unwrap();
    assert_eq!(refused["type"], "error");
    assert_eq!(refused["id"], "c");
    assert_eq!(
        refused["payload"][0]["extensions"]["code"],
        "TOO_MANY_SUBSCRIPTIONS"
    );
    // Completing one frees its place.
    ws.send(Message::text(
        json!({ "id": "a", "type": "complete" }).to_string(),
    ))
    .await
    .unwrap();
    ws.send(subscribe_msg("c")).await.unwrap();
    ws.send(Message::text(json!({ "type": "ping" }).to_string()))
        .await
        .unwrap();
    // The ping's pong arrives after `c` was taken: no error for it.
    let answer = next_frame(&mut ws).await.unwrap();
    assert_eq!(answer["type"], "pong", "{answer}");
    ws.send(subscribe_msg("b")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 4409);
}

#[tokio::test]
async fn a_websocket_is_closed_with_4403_when_its_token_expires() {
    let app = spawn_app().await;
    let short = gridcase::auth::sign(
        &gridcase::config::Secret::new(SECRET),
        Role::Partner,
        Some("TP-0001"),
        "short-lived",
        Duration::from_secs(2),
        None,
        None,
    )
    .unwrap();
    let mut ws = ws_connect(&app, &short).await;
    ws.send(subscribe_msg("1")).await.unwrap();
    assert_eq!(close_code(&mut ws).await, 4403);
}

#[tokio::test]
async fn shutdown_closes_websockets_with_1001_and_returns_with_sockets_open() {
    let tg = gridcase::sim::start(
        Platform::TradingGrid,
        "127.0.0.1:0".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let cc = gridcase::sim::start(
        Platform::CoreCase,
        "127.0.0.1:0".parse().unwrap(),
        Default::default(),
    )
    .await
    .unwrap();
    let gw = run_gateway(
        &tg.base_url(),
        &cc.base_url(),
        &[("GRIDCASE_HTTP__SHUTDOWN_TIMEOUT_MS", "3000".into())],
    )
    .await;
    let mut ws = ws_open(&gw.url).await;
    ws_init(&mut ws, &partner("TP-0001")).await;
    ws.send(subscribe_msg("1")).await.unwrap();
    // A connection that sent half a request and then nothing.
    let mut stuck = tokio::net::TcpStream::connect(gw.url.trim_start_matches("http://"))
        .await
        .unwrap();
    stuck
        .write_all(b"POST /graphql HTTP/1.1\r\n")
        .await
        .unwrap();
    // A mutation in flight on a slow platform is answered before the gateway stops.
    let client = reqwest::Client::new();
    client
        .put(format!("{}/__sim/faults", cc.base_url()))
        .json(&json!({ "latency_ms": 150 }))
        .send()
        .await
        .unwrap();
    let in_flight = tokio::spawn({
        let url = gw.url.clone();
        async move {
            reqwest::Client::new()
                .post(format!("{url}/graphql"))
                .bearer_auth(agent())
                .json(&json!({ "query": r#"mutation { publishStatus(input: { caseId: "CASE-000001", message: "Checking with the carrier." }) { case { number } } }"# }))
                .send()
                .await
                .ok()?
                .json::<Value>()
                .await
                .ok()
        }
    });
    // The request is on its way once the simulator has seen it.
    eventually("the in-flight request reached the platform", || async {
        let stats: Value = client
            .get(format!("{}/__sim/stats", cc.base_url()))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (stats["total"].as_u64()? > 0).then_some(())
    })
    .await;
    let _ = gw.stop.send(());
    assert_eq!(close_code(&mut ws).await, 1001);
    let finished = tokio::time::timeout(Duration::from_secs(20), gw.done).await;
    assert!(
        finished.is_ok(),
        "the gateway did not stop with sockets open"
    );
    let answer = in_flight
        .await
        .unwrap()
        .expect("the mutation in flight was answered");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert!(
        answer["data"]["publishStatus"]["case"]["number"].is_string(),
        "{answer}"
    );
}
