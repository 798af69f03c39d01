//! Route tests of both simulators, in process (`oneshot`) and over real sockets.

use std::net::SocketAddr;

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::world::sha256_hex;
use super::*;

/// The string field `f` of every element of the array `list` in `v`.
fn strs(v: &Value, list: &str, f: &str) -> Vec<String> {
    v[list]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x[f].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

async fn send(app: &Router, req: Request<Body>) -> Answer {
    let resp = match app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    Answer {
        status,
        headers,
        bytes,
    }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string())),
        None => b.body(Body::empty()),
    };
    send(app, req.unwrap_or_default()).await
}

async fn token(app: &Router, path: &str) -> String {
    let req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!(
            "grant_type=client_credentials&client_id={DEV_CLIENT_ID}&client_secret={DEV_CLIENT_SECRET}"
        )))
        .unwrap_or_default();
    let a = send(app, req).await;
    assert_eq!(a.status, StatusCode::OK);
    a.json()["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn tg() -> Router {
    router(Platform::TradingGrid, SimOptions::default())
}

fn cc() -> Router {
    router(Platform::CoreCase, SimOptions::default())
}

#[tokio::test]
async fn tg_token_endpoint_checks_grant_and_client() {
    let app = tg();
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("{DEV_CLIENT_ID}:{DEV_CLIENT_SECRET}"));
    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from("grant_type=client_credentials"))
        .unwrap_or_default();
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["token_type"], "Bearer");
    assert_eq!(a.json()["expires_in"], 3600);

    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .body(Body::from(
            "grant_type=client_credentials&client_id=x&client_secret=y",
        ))
        .unwrap_or_default();
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json()["error"]["code"], "invalid_client");

    let req = Request::builder()
        .method(Method::POST)
        .uri("/oauth2/token")
        .body(Body::from("grant_type=password"))
        .unwrap_or_default();
    let a = send(&app, req).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["error"]["code"], "unsupported_grant_type");

    let a = call(&app, Method::GET, "/v1/partners", None, None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    assert_eq!(a.json()["error"]["code"], "unauthorized");
    let a = call(&app, Method::GET, "/v1/partners", Some("nope"), None).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn tg_lists_page_and_validate() {
    let app = tg();
    let t = token(&app, "/oauth2/token").await;
    let a = call(&app, Method::GET, "/v1/partners", Some(&t), None).await;
    assert_eq!(a.status, StatusCode::OK);
    let first = a.json();
    assert_eq!(first["items"].as_array().map(Vec::len), Some(25));
    assert_eq!(first["items"][0]["id"], "TP-0001");
    let cursor = first["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let a = call(
        &app,
        Method::GET,
        &format!("/v1/partners?cursor={cursor}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(11));
    assert!(a.json().get("next_cursor").is_none());

    for bad in [
        "/v1/partners?limit=101",
        "/v1/partners?limit=0",
        "/v1/partners?cursor=%21%21",
        "/v1/partners?tier=gold",
        "/v1/discussions?created_after=yesterday",
    ] {
        let a = call(&app, Method::GET, bad, Some(&t), None).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(a.json()["error"]["code"], "invalid_request");
    }
    let many: Vec<String> = (1..=101).map(|i| format!("TP-{i:04}")).collect();
    let a = call(
        &app,
        Method::GET,
        &format!("/v1/partners?ids={}", many.join(",")),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    let a = call(
        &app,
        Method::GET,
        "/v1/partners?ids=TP-0002,TP-9999,TP-0001",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(strs(&a.json(), "items", "id"), vec!["TP-0001", "TP-0002"]);

    let a = call(
        &app,
        Method::GET,
        "/v1/discussions?partner_id=TP-0001&limit=100",
        Some(&t),
        None,
    )
    .await;
    let items = a.json()["items"].as_array().cloned().unwrap_or_default();
    assert!(items.len() >= 12);
    let times: Vec<String> = items
        .iter()
        .map(|d| d["created_at"].as_str().unwrap_or_default().to_string())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted);

    let a = call(&app, Method::GET, "/v1/partners/TP-9999", Some(&t), None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "not_found");

    let a = call(
        &app,
        Method::GET,
        "/v1/transactions?status=rejected,failed&limit=100",
        Some(&t),
        None,
    )
    .await;
    assert!(a.json()["items"].as_array().is_some_and(|v| !v.is_empty()
        && v.iter()
            .all(|x| x["status"] == "rejected" || x["status"] == "failed")));
}

#[tokio::test]
async fn tg_document_content_matches_metadata() {
    let app = tg();
    let t = token(&app, "/oauth2/token").await;
    let a = call(
        &app,
        Method::GET,
        "/v1/documents/DOC-000001",
        Some(&t),
        None,
    )
    .await;
    let doc = a.json();
    let a = call(
        &app,
        Method::GET,
        "/v1/documents/DOC-000001/content",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(Some(sha256_hex(&a.bytes).as_str()), doc["sha256"].as_str());
    assert_eq!(Some(a.bytes.len() as u64), doc["size_bytes"].as_u64());
    assert_eq!(
        a.headers.get(header::ETAG).and_then(|v| v.to_str().ok()),
        Some(format!("\"{}\"", sha256_hex(&a.bytes)).as_str())
    );
    assert_eq!(
        a.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok()),
        doc["content_type"].as_str()
    );
}

#[tokio::test]
async fn tg_writes_emit_events() {
    let app = tg();
    let t = token(&app, "/oauth2/token").await;
    let author = json!({"id": "op-x", "name": "Dana Ops", "role": "operator"});
    let a = call(
        &app,
        Method::POST,
        "/v1/discussions",
        Some(&t),
        Some(json!({"partner_id": "TP-0001", "title": "New thread", "kind": "support", "body": "Hello", "author": author})),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let d = a.json();
    assert_eq!(d["status"], "open");
    assert_eq!(d["message_count"], 1);
    let id = d["id"].as_str().unwrap_or_default().to_string();
    assert_eq!(id, "DSC-000301");

    let bad_kind = call(
        &app,
        Method::POST,
        "/v1/discussions",
        Some(&t),
        Some(json!({"partner_id": "TP-0001", "title": "x", "kind": "gossip", "body": "b", "author": author})),
    )
    .await;
    assert_eq!(bad_kind.status, StatusCode::BAD_REQUEST);
    let malformed = send(
        &app,
        Request::builder()
            .method(Method::POST)
            .uri("/v1/discussions")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .body(Body::from("{not json"))
            .unwrap_or_default(),
    )
    .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);

    let bytes = b"hello evidence".to_vec();
    let a = call(
        &app,
        Method::POST,
        "/v1/documents",
        Some(&t),
        Some(json!({
            "partner_id": "TP-0001", "discussion_id": id, "name": "note.txt", "kind": "other",
            "content_type": "text/plain",
            "content_base64": base64::engine::general_purpose::STANDARD.encode(&bytes),
            "uploaded_by": author
        })),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert_eq!(
        a.json()["sha256"].as_str(),
        Some(sha256_hex(&bytes).as_str())
    );
    let doc_id = a.json()["id"].as_str().unwrap_or_default().to_string();

    let a = call(
        &app,
        Method::POST,
        &format!("/v1/discussions/{id}/messages"),
        Some(&t),
        Some(json!({"author": author, "body": "see doc", "document_ids": ["DOC-999999"]})),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = call(
        &app,
        Method::POST,
        &format!("/v1/discussions/{id}/messages"),
        Some(&t),
        Some(json!({"author": author, "body": "see doc", "document_ids": [doc_id]})),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);

    let a = call(
        &app,
        Method::PATCH,
        &format!("/v1/discussions/{id}"),
        Some(&t),
        Some(json!({"status": "escalated", "linked_case_id": "CASE-000999"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["message_count"], 2);
    assert_eq!(a.json()["linked_case_id"], "CASE-000999");

    let a = call(
        &app,
        Method::GET,
        &format!("/v1/messages?discussion_ids={id}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.json()["items"].as_array().map(Vec::len), Some(2));

    let a = call(
        &app,
        Method::GET,
        "/v1/events?after=0&limit=3",
        Some(&t),
        None,
    )
    .await;
    let ev = a.json();
    let types: Vec<&str> = ev["items"]
        .as_array()
        .map(|v| v.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        types,
        vec!["discussion.created", "message.created", "document.created"]
    );
    let next = ev["next_cursor"].as_str().unwrap_or_default().to_string();
    let a = call(
        &app,
        Method::GET,
        &format!("/v1/events?after={next}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        strs(&a.json(), "items", "type"),
        vec!["message.created", "discussion.updated"]
    );
}

#[tokio::test]
async fn faults_stats_and_rate_limit() {
    let app = cc();
    let t = token(&app, "/oauth/token").await;
    let a = call(
        &app,
        Method::PUT,
        "/__sim/faults",
        None,
        Some(json!({"error_rate": 1.0})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["error_rate"], 1.0);
    let a = call(&app, Method::GET, "/api/v2/cases", Some(&t), None).await;
    assert_eq!(a.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(a.json()["code"], "UNAVAILABLE");
    // Tokens are still issued while every API call fails.
    let _ = token(&app, "/oauth/token").await;
    let a = call(&app, Method::GET, "/__sim/stats", None, None).await;
    let s = a.json();
    assert_eq!(s["total"], 3);
    assert_eq!(s["routes"]["POST /oauth/token"], 2);
    assert_eq!(s["routes"]["GET /api/v2/cases"], 1);

    let a = call(
        &app,
        Method::PUT,
        "/__sim/faults",
        None,
        Some(json!({"error_rate": 2.0})),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = call(
        &app,
        Method::PUT,
        "/__sim/faults",
        None,
        Some(json!({"error_rate": 0.0, "rate_limit": 1})),
    )
    .await;
    assert_eq!(a.json()["rate_limit"], 1);
    let a = call(
        &app,
        Method::GET,
        "/api/v2/cases/CASE-000001",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = call(
        &app,
        Method::GET,
        "/api/v2/cases/CASE-000001",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(a.json()["code"], "RATE_LIMITED");
    let retry: u64 = a
        .headers
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(retry >= 1);
    let a = call(
        &app,
        Method::PUT,
        "/__sim/faults",
        None,
        Some(json!({"rate_limit": null})),
    )
    .await;
    assert_eq!(a.json()["rate_limit"], Value::Null);
    let a = call(&app, Method::POST, "/__sim/stats/reset", None, None).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    let a = call(&app, Method::GET, "/__sim/stats", None, None).await;
    assert_eq!(a.json()["total"], 0);
    let a = call(&app, Method::GET, "/__sim/health", None, None).await;
    assert_eq!(a.status, StatusCode::OK);
}

#[tokio::test]
async fn cc_cases_conflict_and_lifecycle() {
    let tg_app = tg();
    let app = cc();
    let tt = token(&tg_app, "/oauth2/token").await;
    let t = token(&app, "/oauth/token").await;

    // Cross-platform: TP-0001's escalated discussion points at a case that points back.
    let a = call(
        &tg_app,
        Method::GET,
        "/v1/discussions?partner_id=TP-0001&status=escalated",
        Some(&tt),
        None,
    )
    .await;
    let disc = a.json()["items"][0].clone();
    let case_id = disc["linked_case_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/cases/{case_id}"),
        Some(&t),
        None,
    )
    .await;
    let case = a.json();
    assert_eq!(case["external_ref"]["id"], disc["id"]);
    assert_eq!(case["partner_id"], "TP-0001");
    assert_eq!(case["transaction_ids"], disc["transaction_ids"]);

    let a = call(
        &app,
        Method::GET,
        &format!(
            "/api/v2/cases?external_system=trading-grid&external_kind=discussion&external_id={}",
            disc["id"].as_str().unwrap_or_default()
        ),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.json()["total"], 1);

    // Same external ref while that case is open: 409 with the existing id.
    let new_case = json!({
        "type": "dispute", "priority": "high", "title": "dup", "description": "d",
        "team": "operations", "partner_id": "TP-0001",
        "external_ref": case["external_ref"], "transaction_ids": case["transaction_ids"]
    });
    let a = call(
        &app,
        Method::POST,
        "/api/v2/cases",
        Some(&t),
        Some(new_case),
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    assert_eq!(a.json()["code"], "CONFLICT");
    assert_eq!(
        a.json()["details"]["existing_case_id"].as_str(),
        Some(case_id.as_str())
    );

    // Concurrent creators for a fresh ref: exactly one wins.
    let fresh = json!({
        "type": "support_escalation", "priority": "medium", "title": "fresh", "description": "d",
        "team": "customer_service", "partner_id": "TP-0001",
        "external_ref": {"system": "trading-grid", "kind": "discussion", "id": "DSC-900001"}
    });
    let calls = (0..8).map(|_| {
        let app = app.clone();
        let t = t.clone();
        let body = fresh.clone();
        tokio::spawn(async move {
            call(&app, Method::POST, "/api/v2/cases", Some(&t), Some(body))
                .await
                .status
        })
    });
    let mut created = 0;
    let mut conflicts = 0;
    for h in calls {
        match h.await.unwrap_or(StatusCode::INTERNAL_SERVER_ERROR) {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 7));

    let a = call(
        &app,
        Method::GET,
        "/api/v2/cases?external_id=DSC-900001",
        Some(&t),
        None,
    )
    .await;
    let new_id = a.json()["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(a.json()["data"][0]["status"], "new");
    assert!(a.json()["data"][0]["number"]
        .as_str()
        .is_some_and(|n| n.starts_with("CC-")));

    let a = call(
        &app,
        Method::PATCH,
        &format!("/api/v2/cases/{new_id}"),
        Some(&t),
        Some(json!({"status": "in_progress"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "in_progress");
    let a = call(
        &app,
        Method::PATCH,
        &format!("/api/v2/cases/{new_id}"),
        Some(&t),
        Some(json!({"status": "bogus"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert_eq!(a.json()["code"], "VALIDATION_FAILED");

    // Evidence: link, dedupe by sha256, upload must match its hash.
    let bytes = b"proof of delivery".to_vec();
    let sha = sha256_hex(&bytes);
    let link = json!({"name": "pod.pdf", "content_type": "application/pdf", "size_bytes": bytes.len(), "sha256": sha,
        "source": {"system": "trading-grid", "document_id": "DOC-000001"}});
    let a = call(
        &app,
        Method::POST,
        &format!("/api/v2/cases/{new_id}/documents"),
        Some(&t),
        Some(link.clone()),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let ev_id = a.json()["id"].as_str().unwrap_or_default().to_string();
    let a = call(
        &app,
        Method::POST,
        &format!("/api/v2/cases/{new_id}/documents"),
        Some(&t),
        Some(link),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["id"].as_str(), Some(ev_id.as_str()));
    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/case-documents/{ev_id}/content"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let bad = json!({"name": "x.txt", "content_type": "text/plain", "size_bytes": 3, "sha256": sha,
        "content_base64": base64::engine::general_purpose::STANDARD.encode(b"abc")});
    let a = call(
        &app,
        Method::POST,
        &format!("/api/v2/cases/{new_id}/documents"),
        Some(&t),
        Some(bad),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let up_bytes = b"abc".to_vec();
    let up = json!({"name": "x.txt", "content_type": "text/plain", "size_bytes": 3, "sha256": sha256_hex(&up_bytes),
        "content_base64": base64::engine::general_purpose::STANDARD.encode(&up_bytes)});
    let a = call(
        &app,
        Method::POST,
        &format!("/api/v2/cases/{new_id}/documents"),
        Some(&t),
        Some(up),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let up_id = a.json()["id"].as_str().unwrap_or_default().to_string();
    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/case-documents/{up_id}/content"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.bytes, up_bytes);

    // Resolve, then the case is resolved and a new case for the same ref is allowed.
    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/cases/{new_id}/resolution"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let a = call(
        &app,
        Method::PUT,
        &format!("/api/v2/cases/{new_id}/resolution"),
        Some(&t),
        Some(json!({"summary": "Zebra pallets relabelled", "root_cause": "Label printer fault", "corrective_actions": ["Printer replaced"], "shared_with_partner": true})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/cases/{new_id}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.json()["status"], "resolved");
    assert!(a.json()["resolved_at"].is_string());
    let a = call(
        &app,
        Method::GET,
        "/api/v2/resolutions?q=zebra%20PRINTER",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.json()["total"], 1);
    let a = call(
        &app,
        Method::GET,
        "/api/v2/resolutions?q=zebra%20unicorn",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.json()["total"], 0);

    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/history?case_ids={new_id}"),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(
        strs(&a.json(), "data", "action"),
        vec![
            "created",
            "status_changed",
            "document_linked",
            "document_linked",
            "resolved"
        ]
    );

    let a = call(&app, Method::GET, "/api/v2/events", Some(&t), None).await;
    let types: Vec<String> = a.json()["data"]
        .as_array()
        .map(|v| {
            v.iter()
                .filter_map(|e| e["type"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        types,
        vec![
            "case.created",
            "case.status_changed",
            "case.document_linked",
            "case.document_linked",
            "case.resolved"
        ]
    );

    let many: Vec<String> = (1..=51).map(|i| format!("CASE-{i:06}")).collect();
    let a = call(
        &app,
        Method::GET,
        &format!("/api/v2/cases?ids={}", many.join(",")),
        Some(&t),
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let a = call(&app, Method::GET, "/api/v2/tasks", Some(&t), None).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn real_socket_start_and_drop() {
    let addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let sim = start(Platform::TradingGrid, addr, SimOptions::default()).await;
    let Ok(sim) = sim else {
        panic!("start failed");
    };
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/oauth2/token", sim.base_url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", DEV_CLIENT_ID),
            ("client_secret", DEV_CLIENT_SECRET),
        ])
        .send()
        .await;
    let tok: Value = match r {
        Ok(r) => r.json().await.unwrap_or(Value::Null),
        Err(e) => panic!("token: {e}"),
    };
    let t = tok["access_token"].as_str().unwrap_or_default().to_string();
    let r = client
        .get(format!("{}/v1/partners/TP-0001", sim.base_url()))
        .bearer_auth(&t)
        .send()
        .await;
    assert!(r.is_ok_and(|r| r.status() == reqwest::StatusCode::OK));
    let a = sim.addr();
    sim.shutdown().await;
    assert!(tokio::net::TcpStream::connect(a).await.is_err());

    // Dropping also stops the server.
    let sim = start(Platform::CoreCase, addr, SimOptions::default()).await;
    let Ok(sim) = sim else {
        panic!("start failed");
    };
    let a = sim.addr();
    drop(sim);
    let mut stopped = false;
    for _ in 0..50 {
        if tokio::net::TcpStream::connect(a).await.is_err() {
            stopped = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(stopped);
}
