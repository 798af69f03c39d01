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

// ---------------------------------------------------------------------------
// Webhooks, scenarios and Idempotency-Key

type Received = std::sync::Arc<std::sync::Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on a loopback port: records every request and answers the
/// statuses of `script` in turn (200 once the script is used up).
async fn receiver(script: Vec<u16>) -> (String, Received) {
    let seen: Received = Received::default();
    let sink = seen.clone();
    let script = std::sync::Arc::new(std::sync::Mutex::new(script.into_iter()));
    let app = Router::new().route(
        "/hooks",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let sink = sink.clone();
            let script = script.clone();
            async move {
                common::lock(&sink).push((headers, body.to_vec()));
                let code = common::lock(&script).next().unwrap_or(200);
                StatusCode::from_u16(code).unwrap_or(StatusCode::OK)
            }
        }),
    );
    let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => panic!("receiver bind: {e}"),
    };
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/hooks"), seen)
}

/// The first `n` requests the receiver got, waiting up to 5 s for them.
async fn wait_for(seen: &Received, n: usize) -> Vec<(HeaderMap, Vec<u8>)> {
    for _ in 0..250 {
        {
            let got = common::lock(seen);
            if got.len() >= n {
                return got.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let got = common::lock(seen).len();
    panic!("expected {n} webhook deliveries, got {got}");
}

fn header_str(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Verifies the signature the way a receiver would: HMAC over "<timestamp>.<body>".
fn signature_verifies(h: &HeaderMap, body: &[u8], secret: &str) -> bool {
    let ts = header_str(h, "webhook-timestamp");
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(body);
    let expected = format!(
        "v1={}",
        hex::encode(signing::hmac_sha256(secret.as_bytes(), &signed))
    );
    header_str(h, "webhook-signature") == expected
}

fn with_webhook(url: &str, secret: &str) -> SimOptions {
    SimOptions {
        webhook_url: Some(url.to_string()),
        webhook_secret: Some(secret.to_string()),
        ..SimOptions::default()
    }
}

/// `GET /__sim/webhook` once `done` holds for it (or after ~3 s).
async fn webhook_status(app: &Router, done: impl Fn(&Value) -> bool) -> Value {
    let mut status = Value::Null;
    for _ in 0..150 {
        status = call(app, Method::GET, "/__sim/webhook", None, None)
            .await
            .json();
        if done(&status) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    status
}

#[tokio::test]
async fn scenario_webhook_is_signed_and_redelivered_with_the_same_id() {
    let (url, seen) = receiver(Vec::new()).await;
    let app = router(Platform::TradingGrid, with_webhook(&url, "whsec-test"));
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/partner-opens-discussion",
        None,
        Some(
            json!({"partner_id": "TP-0001", "kind": "support", "title": "Portal login fails",
                    "body": "Our user cannot log in since this morning.", "tags": ["portal"]}),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let disc = a.json();
    assert_eq!(disc["created_by"]["role"], "partner");

    let got = wait_for(&seen, 2).await;
    let (h, body) = &got[0];
    assert!(signature_verifies(h, body, "whsec-test"));
    assert!(!signature_verifies(h, body, "another-secret"));
    assert_eq!(header_str(h, "webhook-platform"), "trading-grid");
    assert!(header_str(h, "content-type").starts_with("application/json"));
    let event: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    assert_eq!(event["type"], "discussion.created");
    assert_eq!(event["data"], disc);
    assert_eq!(
        header_str(h, "webhook-id"),
        event["id"].as_str().unwrap_or("?")
    );
    let (h2, body2) = &got[1];
    let second: Value = serde_json::from_slice(body2).unwrap_or(Value::Null);
    assert_eq!(second["type"], "message.created");
    assert_eq!(second["data"]["author"], disc["created_by"]);
    assert!(signature_verifies(h2, body2, "whsec-test"));

    // The body is exactly what the feed lists.
    let t = token(&app, "/oauth2/token").await;
    let feed = call(&app, Method::GET, "/v1/events", Some(&t), None).await;
    assert_eq!(feed.json()["items"][0], event);

    let id = header_str(h, "webhook-id");
    let a = call(
        &app,
        Method::POST,
        &format!("/__sim/webhook/redeliver/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::ACCEPTED);
    let got = wait_for(&seen, 3).await;
    let (h3, body3) = &got[2];
    assert_eq!(header_str(h3, "webhook-id"), id);
    assert_eq!(body3, body);
    assert!(signature_verifies(h3, body3, "whsec-test"));

    let a = call(
        &app,
        Method::POST,
        "/__sim/webhook/redeliver/EVT-9999999",
        None,
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "not_found");

    // Without a target nothing is sent, and a redelivery has nowhere to go.
    let status = webhook_status(&app, |s| s["pending"] == 0).await;
    assert_eq!(status["delivered"], 3, "{status}");
    let a = call(
        &app,
        Method::PUT,
        "/__sim/webhook",
        None,
        Some(json!({"url": null})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["url"], Value::Null);
    assert_eq!(a.json()["secret_set"], true);
    let a = call(
        &app,
        Method::POST,
        &format!("/__sim/webhook/redeliver/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(a.status, StatusCode::CONFLICT);
    let a = call(
        &app,
        Method::PUT,
        "/__sim/webhook",
        None,
        Some(json!({"url": "ftp://example.com/x"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn webhook_delivery_is_retried_after_a_server_error() {
    let (url, seen) = receiver(vec![500, 503]).await;
    let app = router(Platform::CoreCase, SimOptions::default());
    // Set at runtime, as tests that start the gateway after the simulators do.
    let a = call(
        &app,
        Method::PUT,
        "/__sim/webhook",
        None,
        Some(json!({"url": url, "secret": "cc-secret"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["secret_set"], true);
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/case-worker-moves-case",
        None,
        Some(json!({"case_id": "CASE-000001", "status": "on_hold"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "on_hold");

    let got = wait_for(&seen, 3).await;
    let ids: Vec<String> = got
        .iter()
        .map(|(h, _)| header_str(h, "webhook-id"))
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    for (h, body) in &got {
        assert!(signature_verifies(h, body, "cc-secret"));
        assert_eq!(header_str(h, "webhook-platform"), "core-case");
    }
    let event: Value = serde_json::from_slice(&got[2].1).unwrap_or(Value::Null);
    assert_eq!(event["type"], "case.status_changed");
    assert_eq!(event["case_id"], "CASE-000001");
    assert_eq!(event["data"]["to"], "on_hold");
    assert_eq!(event["data"]["case"]["status"], "on_hold");
    assert!(event["data"]["from"].is_string());

    let status = webhook_status(&app, |s| s["pending"] == 0).await;
    assert_eq!(status["delivered"], 1, "{status}");
    assert_eq!(status["failed"], 0, "{status}");
}

#[tokio::test]
async fn delivery_gives_up_after_five_attempts() {
    let (url, seen) = receiver(vec![500; 10]).await;
    let app = router(Platform::TradingGrid, with_webhook(&url, "s"));
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/partner-posts-message",
        None,
        Some(json!({"discussion_id": "DSC-000003", "body": "Any news?"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let status = webhook_status(&app, |s| s["failed"] == 1).await;
    assert_eq!(status["failed"], 1, "{status}");
    assert_eq!(status["pending"], 0, "{status}");
    assert_eq!(common::lock(&seen).len(), 5);
}

#[tokio::test]
async fn tg_scenarios_act_as_the_partner_and_the_platform() {
    let app = tg();
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/partner-posts-document",
        None,
        Some(
            json!({"discussion_id": "DSC-000003", "name": "pod.txt", "kind": "proof_of_delivery",
                    "content_type": "text/plain", "content": "signed POD"}),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::CREATED);
    let posted = a.json();
    let doc = &posted["document"];
    assert_eq!(
        doc["sha256"].as_str(),
        Some(sha256_hex(b"signed POD").as_str())
    );
    assert_eq!(doc["size_bytes"], 10);
    assert_eq!(doc["discussion_id"], "DSC-000003");
    assert_eq!(doc["uploaded_by"]["role"], "partner");
    assert_eq!(posted["message"]["document_ids"], json!([doc["id"]]));
    assert_eq!(posted["message"]["author"], doc["uploaded_by"]);

    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/transaction-fails",
        None,
        Some(json!({"transaction_id": "TX-0000001", "status": "rejected"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "rejected");
    assert_eq!(a.json()["errors"].as_array().map(Vec::len), Some(1));
    assert_eq!(a.json()["acknowledged_at"], Value::Null);

    for (body, want) in [
        (
            json!({"transaction_id": "TX-0000001", "status": "delivered"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            json!({"transaction_id": "TX-9999999", "status": "failed"}),
            StatusCode::NOT_FOUND,
        ),
        (
            json!({"transaction_id": "TX-0000001"}),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let a = call(
            &app,
            Method::POST,
            "/__sim/scenarios/transaction-fails",
            None,
            Some(body),
        )
        .await;
        assert_eq!(a.status, want);
        assert!(a.json()["error"]["code"].is_string());
    }
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/partner-posts-message",
        None,
        Some(json!({"discussion_id": "DSC-999999", "body": "hello"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    let t = token(&app, "/oauth2/token").await;
    let feed = call(&app, Method::GET, "/v1/events", Some(&t), None).await;
    assert_eq!(
        strs(&feed.json(), "items", "type"),
        vec![
            "document.created",
            "message.created",
            "transaction.rejected"
        ]
    );
    assert_eq!(feed.json()["items"][0]["data"], *doc);
    // Scenario routes are not API traffic: only the token and the feed are counted.
    let stats = call(&app, Method::GET, "/__sim/stats", None, None).await;
    assert_eq!(stats.json()["total"], 2);
}

#[tokio::test]
async fn cc_scenarios_act_as_the_case_worker() {
    let app = cc();
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/case-worker-requests-documents",
        None,
        Some(
            json!({"case_id": "CASE-000001", "kinds": ["invoice", "proof_of_delivery"],
                    "message": "Please send the corrected invoice."}),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.json()["status"], "waiting_on_partner");
    let bad = call(
        &app,
        Method::POST,
        "/__sim/scenarios/case-worker-requests-documents",
        None,
        Some(json!({"case_id": "CASE-000001", "kinds": ["selfie"], "message": "x"})),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.json()["code"], "VALIDATION_FAILED");

    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/case-worker-resolves-case",
        None,
        Some(
            json!({"case_id": "CASE-000001", "summary": "Credit note issued.",
                    "root_cause": "Price file out of date.",
                    "corrective_actions": ["Price file refreshed weekly."],
                    "shared_with_partner": true}),
        ),
    )
    .await;
    assert_eq!(a.status, StatusCode::OK);
    let resolution = a.json();
    assert_eq!(resolution["case_id"], "CASE-000001");
    let a = call(
        &app,
        Method::POST,
        "/__sim/scenarios/case-worker-moves-case",
        None,
        Some(json!({"case_id": "CASE-999999", "status": "triage"})),
    )
    .await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);

    let t = token(&app, "/oauth/token").await;
    let feed = call(&app, Method::GET, "/api/v2/events", Some(&t), None).await;
    let events = feed.json();
    let types = strs(&events, "data", "type");
    let tail: Vec<&str> = types.iter().map(String::as_str).rev().take(3).collect();
    assert_eq!(
        tail,
        vec![
            "case.resolved",
            "case.documents_requested",
            "case.note_added"
        ]
    );
    let items = events["data"].as_array().cloned().unwrap_or_default();
    let requested = &items[items.len() - 2];
    assert_eq!(
        requested["data"]["kinds"],
        json!(["invoice", "proof_of_delivery"])
    );
    assert_eq!(requested["data"]["case"]["status"], "waiting_on_partner");
    let resolved = &items[items.len() - 1];
    assert_eq!(resolved["data"]["resolution"], resolution);
    assert_eq!(resolved["data"]["case"]["status"], "resolved");

    let notes = call(
        &app,
        Method::GET,
        "/api/v2/cases/CASE-000001/notes?page_size=100",
        Some(&t),
        None,
    )
    .await;
    let bodies = strs(&notes.json(), "data", "body");
    assert!(bodies
        .iter()
        .any(|b| b.starts_with("[internal] Asked the partner for: invoice, proof_of_delivery")));
    let history = call(
        &app,
        Method::GET,
        "/api/v2/cases/CASE-000001/history?page_size=100",
        Some(&t),
        None,
    )
    .await;
    assert!(strs(&history.json(), "data", "action").contains(&"documents_requested".to_string()));
}

/// `call` with an `Idempotency-Key`.
async fn call_keyed(
    app: &Router,
    method: Method,
    uri: &str,
    token: &str,
    key: &str,
    body: Value,
) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .header("Idempotency-Key", key)
        .body(Body::from(body.to_string()));
    send(app, req.unwrap_or_default()).await
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_and_refuses_reuse() {
    let app = tg();
    let t = token(&app, "/oauth2/token").await;
    let uri = "/v1/discussions/DSC-000003/messages";
    let msg = json!({"author": {"id": "op-1", "name": "Dana Ops", "role": "operator"},
                     "body": "Looking into it."});
    let before = call(
        &app,
        Method::GET,
        "/v1/discussions/DSC-000003",
        Some(&t),
        None,
    )
    .await;
    let count = before.json()["message_count"].as_u64().unwrap_or(0);

    let first = call_keyed(&app, Method::POST, uri, &t, "step-7", msg.clone()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let again = call_keyed(&app, Method::POST, uri, &t, "step-7", msg.clone()).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(header_str(&again.headers, "idempotent-replayed"), "true");
    let after = call(
        &app,
        Method::GET,
        "/v1/discussions/DSC-000003",
        Some(&t),
        None,
    )
    .await;
    assert_eq!(after.json()["message_count"].as_u64(), Some(count + 1));

    let mut other = msg.clone();
    other["body"] = json!("Something else.");
    let reused = call_keyed(&app, Method::POST, uri, &t, "step-7", other).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.json()["error"]["code"], "idempotency_key_reused");
    // The same key and body on another discussion is another request too.
    let elsewhere = call_keyed(
        &app,
        Method::POST,
        "/v1/discussions/DSC-000004/messages",
        &t,
        "step-7",
        msg.clone(),
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::UNPROCESSABLE_ENTITY);

    // An error is not remembered: the key can carry the corrected request.
    let bad = call_keyed(
        &app,
        Method::POST,
        uri,
        &t,
        "step-8",
        json!({"body": "no author"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let fixed = call_keyed(&app, Method::POST, uri, &t, "step-8", msg.clone()).await;
    assert_eq!(fixed.status, StatusCode::CREATED);

    let long = "k".repeat(256);
    let a = call_keyed(&app, Method::POST, uri, &t, &long, msg.clone()).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // Core Case: a replayed resolution writes nothing new.
    let app = cc();
    let t = token(&app, "/oauth/token").await;
    let uri = "/api/v2/cases/CASE-000001/resolution";
    let res = json!({"summary": "Done.", "root_cause": "x", "corrective_actions": [],
                     "shared_with_partner": false});
    let first = call_keyed(&app, Method::PUT, uri, &t, "res-1", res.clone()).await;
    assert_eq!(first.status, StatusCode::OK);
    let again = call_keyed(&app, Method::PUT, uri, &t, "res-1", res.clone()).await;
    assert_eq!(again.bytes, first.bytes);
    assert_eq!(header_str(&again.headers, "idempotent-replayed"), "true");
    let feed = call(&app, Method::GET, "/api/v2/events", Some(&t), None).await;
    assert_eq!(strs(&feed.json(), "data", "type"), vec!["case.resolved"]);
    let mut other = res.clone();
    other["summary"] = json!("Changed my mind.");
    let reused = call_keyed(&app, Method::PUT, uri, &t, "res-1", other).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.json()["code"], "IDEMPOTENCY_KEY_REUSED");
}
