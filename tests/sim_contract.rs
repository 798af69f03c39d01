//! Contract test: each simulator answers every operation of its OpenAPI document
//! (`openapi/trading-grid.yaml`, `openapi/core-case.yaml`) as documented.
//!
//! Black box: the simulator runs on a loopback port and is only spoken to over HTTP.
//! Requests are built from the document itself (path parameters and query parameters
//! from their `example`, request bodies from the request body's `example`), and every
//! JSON answer is validated against the documented schema by the small validator at
//! the end of this file. The validator is strict where the document is silent: a
//! property the schema does not declare is reported, so the contract and the
//! simulator cannot drift apart unnoticed.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gridcase::sim::signing::webhook_signature;
use gridcase::sim::{self, Platform, SimOptions, DEV_CLIENT_ID, DEV_CLIENT_SECRET};
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn every_documented_trading_grid_route_answers_as_documented() {
    let failures = check_every_operation(Platform::TradingGrid, "trading-grid.yaml").await;
    assert_no_failures("Trading Grid", failures);
}

#[tokio::test]
async fn every_documented_core_case_route_answers_as_documented() {
    let failures = check_every_operation(Platform::CoreCase, "core-case.yaml").await;
    assert_no_failures("Core Case", failures);
}

#[tokio::test]
async fn trading_grid_answers_missing_tokens_unknown_ids_and_oversized_pages_with_documented_errors(
) {
    let failures = check_documented_errors(Platform::TradingGrid, "trading-grid.yaml").await;
    assert_no_failures("Trading Grid", failures);
}

#[tokio::test]
async fn core_case_answers_missing_tokens_unknown_ids_and_oversized_pages_with_documented_errors() {
    let failures = check_documented_errors(Platform::CoreCase, "core-case.yaml").await;
    assert_no_failures("Core Case", failures);
}

#[tokio::test]
async fn opening_a_second_case_for_the_same_open_external_ref_answers_conflict_with_the_existing_case(
) {
    let contract = Contract::load("core-case.yaml");
    let mut run = Run::start(Platform::CoreCase, &contract).await;
    let create = contract.operation("createCase");
    let (status, _, body) = run.send(&create, &Request::documented(&create)).await;
    assert_eq!(
        status, 201,
        "first POST /api/v2/cases answered {status}: {body}"
    );
    let first: Value = serde_json::from_str(&body).expect("the created case is JSON");

    let (status, headers, body) = run.send(&create, &Request::documented(&create)).await;
    run.check_answer(&create, "second identical POST", status, &headers, &body);
    assert_eq!(
        status, 409,
        "second POST /api/v2/cases answered {status}: {body}"
    );
    let error: Value = serde_json::from_str(&body).expect("the conflict body is JSON");
    assert_eq!(error["code"], "CONFLICT", "409 body: {error}");
    assert_eq!(
        error["details"]["existing_case_id"], first["id"],
        "409 must name the open case with that external_ref: {error}"
    );
    let failures = std::mem::take(&mut run.failures);
    run.stop().await;
    assert_no_failures("Core Case", failures);
}

#[tokio::test]
async fn linking_a_document_already_on_the_case_answers_the_existing_evidence() {
    let contract = Contract::load("core-case.yaml");
    let mut run = Run::start(Platform::CoreCase, &contract).await;
    let attach = contract.operation("attachCaseDocument");
    let list = contract.operation("listCaseDocuments");
    let case_path = Request::documented(&list).path;
    let (status, _, body) = run.send(&list, &Request::documented(&list)).await;
    assert_eq!(status, 200, "GET {case_path} answered {status}: {body}");
    let page: Value = serde_json::from_str(&body).expect("a page of case documents");
    let existing = page["data"][0].clone();
    assert!(
        existing.is_object(),
        "the example case has no evidence: {page}"
    );

    // The same content linked again, under another name.
    let mut request = Request::documented(&attach);
    request.body = Some(json!({
        "name": format!("copy-of-{}", existing["name"].as_str().unwrap_or("evidence")),
        "content_type": existing["content_type"],
        "size_bytes": existing["size_bytes"],
        "sha256": existing["sha256"],
        "source": existing["source"],
    }));
    let (status, headers, body) = run.send(&attach, &request).await;
    run.check_answer(
        &attach,
        "with content already on the case",
        status,
        &headers,
        &body,
    );
    assert_eq!(status, 200, "re-linking answered {status}: {body}");
    let answer: Value = serde_json::from_str(&body).expect("the answer is JSON");
    assert_eq!(
        answer["id"], existing["id"],
        "re-linking must answer the existing entry"
    );

    let (_, _, body) = run.send(&list, &Request::documented(&list)).await;
    let after: Value = serde_json::from_str(&body).expect("a page of case documents");
    assert_eq!(
        after["total"], page["total"],
        "re-linking must not add evidence"
    );
    let failures = std::mem::take(&mut run.failures);
    run.stop().await;
    assert_no_failures("Core Case", failures);
}

#[tokio::test]
async fn trading_grid_replays_a_write_retried_with_its_idempotency_key() {
    let failures = check_idempotency(
        Platform::TradingGrid,
        "trading-grid.yaml",
        "createDiscussion",
        "idempotency_key_reused",
    )
    .await;
    assert_no_failures("Trading Grid", failures);
}

#[tokio::test]
async fn core_case_replays_a_write_retried_with_its_idempotency_key() {
    let failures = check_idempotency(
        Platform::CoreCase,
        "core-case.yaml",
        "createCase",
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_no_failures("Core Case", failures);
}

/// The documented write twice with one key: one record, the same answer twice (the
/// second marked replayed); then the key with another body: 422 and the documented code.
async fn check_idempotency(
    platform: Platform,
    file: &str,
    operation: &str,
    reused_code: &str,
) -> Vec<String> {
    let contract = Contract::load(file);
    let mut run = Run::start(platform, &contract).await;
    let op = contract.operation(operation);
    let mut request = Request::documented(&op);
    request
        .headers
        .push(("Idempotency-Key".into(), format!("contract-{operation}-1")));

    let (status, headers, first) = run.send(&op, &request).await;
    run.check_answer(&op, "with an Idempotency-Key", status, &headers, &first);
    run.require_success(&op, "with an Idempotency-Key", status, &first);
    if headers.contains_key("idempotent-replayed") {
        run.failures
            .push(format!("{operation}: a first request was marked replayed"));
    }
    let events = run.last_event_sequence().await;

    let (again, headers, second) = run.send(&op, &request).await;
    run.check_answer(&op, "retried with the same key", again, &headers, &second);
    if again != status || second != first {
        run.failures.push(format!(
            "{operation} retried with the same key answered {again} {}, not the first answer {status} {}",
            truncate(&second),
            truncate(&first)
        ));
    }
    if headers
        .get("idempotent-replayed")
        .and_then(|v| v.to_str().ok())
        != Some("true")
    {
        run.failures.push(format!(
            "{operation}: the replayed answer lacks `Idempotent-Replayed: true`"
        ));
    }
    if run.last_event_sequence().await != events {
        run.failures
            .push(format!("{operation}: the replay wrote again (new events)"));
    }

    let mut other = request.clone();
    if let Some(body) = other.body.as_mut().and_then(Value::as_object_mut) {
        body.insert("title".into(), "Another request under the same key".into());
    }
    let (status, headers, body) = run.send(&op, &other).await;
    run.check_answer(&op, "with a reused key", status, &headers, &body);
    let error: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let code = error["code"].as_str().or(error["error"]["code"].as_str());
    if status != 422 || code != Some(reused_code) {
        run.failures.push(format!(
            "{operation} with a reused key and another body: expected 422 {reused_code}, got {status}: {}",
            truncate(&body)
        ));
    }
    let failures = std::mem::take(&mut run.failures);
    run.stop().await;
    failures
}

fn assert_no_failures(platform: &str, failures: Vec<String>) {
    assert!(
        failures.is_empty(),
        "{platform} simulator deviates from its contract in {} place(s):\n  - {}",
        failures.len(),
        failures.join("\n  - ")
    );
}

// ---------------------------------------------------------------------------------
// The scenarios.

/// Reads first (so writes cannot break them), then writes, then the reads again (now
/// over the records the writes created), then the simulator-only routes.
async fn check_every_operation(platform: Platform, file: &str) -> Vec<String> {
    let contract = Contract::load(file);
    let mut run = Run::start(platform, &contract).await;
    let operations = contract.operations();
    let (api, simulator): (Vec<_>, Vec<_>) = operations.iter().partition(|op| !op.simulator_only());
    let reads: Vec<_> = api.iter().filter(|op| op.method == Method::GET).collect();
    let writes: Vec<_> = api.iter().filter(|op| op.method != Method::GET).collect();

    run.token_with_http_basic().await;
    for op in &reads {
        run.exercise_read(op, Pass::BeforeWrites).await;
    }
    run.check_route_counters(&reads).await;
    for op in &writes {
        run.exercise_write(op).await;
    }
    for op in &reads {
        run.exercise_read(op, Pass::AfterWrites).await;
    }
    run.exercise_uploaded_evidence().await;
    // Simulator routes last: the faults example must leave the knobs harmless, and the
    // reset clears the counters checked above.
    for op in simulator.iter().filter(|op| op.method == Method::GET) {
        run.exercise_read(op, Pass::AfterWrites).await;
    }
    // The webhook target first, pointed at a local receiver, so the scenarios and the
    // redelivery after it are delivered where this test can check them.
    let receiver = Receiver::start().await;
    let mut sim_writes: Vec<_> = simulator
        .iter()
        .filter(|op| op.method != Method::GET)
        .collect();
    sim_writes.sort_by_key(|op| op.id() != "simSetWebhook");
    let mut secret = None;
    let mut first_webhook_sequence = None;
    for op in sim_writes {
        if op.id() == "simSetWebhook" {
            first_webhook_sequence = Some(run.last_event_sequence().await + 1);
            secret = run.point_webhook_at(op, &receiver.url).await;
        } else {
            run.exercise_write(op).await;
        }
    }
    match (secret, first_webhook_sequence) {
        (Some(secret), Some(first)) => {
            run.check_deliveries(platform, &receiver, &secret, first)
                .await
        }
        _ => run
            .failures
            .push("no simSetWebhook operation with a url and secret example".to_string()),
    }

    // Every schema an answer can carry was seen at least once, so the validation above
    // was not vacuous (an empty list validates against anything).
    for name in contract.response_schemas(&operations) {
        if !run.seen.contains(&name) {
            run.failures.push(format!(
                "schema `{name}` is documented as a response but no answer carried one"
            ));
        }
    }
    let failures = std::mem::take(&mut run.failures);
    run.stop().await;
    failures
}

/// No token -> 401, unknown id -> 404, page size over 100 -> 400, rate limit -> 429
/// with `Retry-After`, outage -> 503; each with the documented error schema.
async fn check_documented_errors(platform: Platform, file: &str) -> Vec<String> {
    let page_param = match platform {
        Platform::TradingGrid => "limit",
        _ => "page_size",
    };
    let contract = Contract::load(file);
    let mut run = Run::start(platform, &contract).await;
    let operations = contract.operations();
    let api: Vec<_> = operations.iter().filter(|op| op.needs_token()).collect();
    assert!(!api.is_empty(), "{file} documents no API route");

    // Token endpoint: a wrong secret is 401, another grant type is 400.
    let token_op = run.token_operation();
    let mut request = Request::documented(&token_op);
    if let Some(form) = request.body.as_mut().and_then(Value::as_object_mut) {
        form.insert("client_secret".into(), "not-the-secret".into());
    }
    run.expect(&token_op, "with a wrong client secret", &request, 401)
        .await;
    let mut request = Request::documented(&token_op);
    if let Some(form) = request.body.as_mut().and_then(Value::as_object_mut) {
        form.insert("grant_type".into(), "password".into());
    }
    run.expect(&token_op, "with grant_type=password", &request, 400)
        .await;

    for op in &api {
        let mut request = Request::documented(op);
        request.token = false;
        run.expect(op, "without a bearer token", &request, 401)
            .await;

        if op.path.contains('{') {
            let mut request = Request::documented(op);
            request.path = unknown_ids(&op.path, &op.parameters());
            run.expect(op, "with an unknown id", &request, 404).await;
        }

        if op.parameters().iter().any(|p| p["name"] == page_param) {
            let mut request = Request::documented(op);
            request
                .query
                .push((page_param.to_string(), "1000".to_string()));
            run.expect(op, &format!("with {page_param}=1000"), &request, 400)
                .await;
        }
    }

    // Fault knobs: a rate limit of 1 request per second answers 429 with Retry-After.
    let set_faults = contract.operation("simSetFaults");
    let probe = api
        .iter()
        .find(|op| op.method == Method::GET && !op.path.contains('{'))
        .expect("a parameterless list route");
    run.set_faults(&set_faults, json!({"rate_limit": 1})).await;
    let mut limited = None;
    for _ in 0..20 {
        let (status, headers, body) = run.send(probe, &Request::documented(probe)).await;
        if status == 429 {
            limited = Some((status, headers, body));
            break;
        }
    }
    match limited {
        Some((status, headers, body)) => {
            run.check_answer(probe, "over the rate limit", status, &headers, &body)
        }
        None => run.failures.push(format!(
            "{} {}: 20 quick requests with rate_limit=1 never answered 429",
            probe.method, probe.path
        )),
    }
    run.set_faults(&set_faults, json!({"rate_limit": null}))
        .await;

    // An error rate of 1 answers every API request with 503.
    run.set_faults(&set_faults, json!({"error_rate": 1.0}))
        .await;
    run.expect(probe, "with error_rate=1", &Request::documented(probe), 503)
        .await;
    run.set_faults(&set_faults, json!({"error_rate": 0.0}))
        .await;
    run.expect_success(
        probe,
        "after the faults are lifted",
        &Request::documented(probe),
    )
    .await;

    let failures = std::mem::take(&mut run.failures);
    run.stop().await;
    failures
}

/// The path with every id parameter replaced by one of the same shape that does not
/// exist (`TP-0001` -> `TP-9999`).
fn unknown_ids(template: &str, params: &[&Value]) -> String {
    let mut path = template.to_string();
    for p in params.iter().filter(|p| p["in"] == "path") {
        let name = p["name"].as_str().expect("parameter name");
        let example = param_example(p).expect("path parameters have an example");
        let unknown: String = example
            .chars()
            .map(|c| if c.is_ascii_digit() { '9' } else { c })
            .collect();
        path = path.replace(&format!("{{{name}}}"), &unknown);
    }
    path
}

// ---------------------------------------------------------------------------------
// Talking to a simulator.

#[derive(Clone, Copy, PartialEq)]
enum Pass {
    BeforeWrites,
    AfterWrites,
}

/// One HTTP request derived from an operation.
#[derive(Clone)]
struct Request {
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Value>,
    token: bool,
}

impl Request {
    /// Path parameters and required query parameters from their examples, and the
    /// request body's example.
    fn documented(op: &Operation) -> Request {
        let contract = op.contract;
        let params = op.parameters();
        let mut path = op.path.clone();
        let mut query = Vec::new();
        for p in &params {
            let name = p["name"].as_str().expect("parameter name");
            match p["in"].as_str() {
                Some("path") => {
                    let example = param_example(p).unwrap_or_else(|| {
                        panic!("{}: path parameter {name} has no example", op.id())
                    });
                    path = path.replace(&format!("{{{name}}}"), &example);
                }
                Some("query") if p["required"] == true => {
                    let example = param_example(p)
                        .unwrap_or_else(|| panic!("{}: required {name} has no example", op.id()));
                    query.push((name.to_string(), example));
                }
                _ => {}
            }
        }
        let body = op.op.get("requestBody").map(|rb| {
            let rb = contract.deref(rb);
            let (_, media) = rb["content"]
                .as_object()
                .and_then(|c| c.iter().next())
                .unwrap_or_else(|| panic!("{}: request body without content", op.id()));
            let mut example = media
                .get("example")
                .cloned()
                .unwrap_or_else(|| panic!("{}: request body without example", op.id()));
            // A token request carries the credentials the simulator was started with.
            if let Some(form) = example.as_object_mut() {
                if form.contains_key("client_id") {
                    form.insert("client_id".into(), DEV_CLIENT_ID.into());
                    form.insert("client_secret".into(), DEV_CLIENT_SECRET.into());
                }
            }
            example
        });
        Request {
            path,
            query,
            headers: Vec::new(),
            body,
            token: op.needs_token(),
        }
    }
}

/// A parameter's example as it goes on the wire: arrays comma-joined (`style: form`,
/// `explode: false`).
fn param_example(p: &Value) -> Option<String> {
    let example = p.get("example")?;
    Some(match example {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(","),
        other => scalar(other),
    })
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Run<'c> {
    contract: &'c Contract,
    sim: sim::RunningSim,
    base: String,
    http: reqwest::Client,
    token: String,
    failures: Vec<String>,
    /// Names of the component schemas some answer was validated against.
    seen: BTreeSet<String>,
}

impl<'c> Run<'c> {
    async fn start(platform: Platform, contract: &'c Contract) -> Run<'c> {
        let addr = "127.0.0.1:0".parse().expect("a socket address");
        let sim = sim::start(platform, addr, SimOptions::default())
            .await
            .expect("the simulator starts on a free port");
        let base = sim.base_url().trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        let mut run = Run {
            contract,
            sim,
            base,
            http,
            token: String::new(),
            failures: Vec::new(),
            seen: BTreeSet::new(),
        };
        run.token = run.fetch_token().await;
        run
    }

    async fn stop(self) {
        self.sim.shutdown().await;
    }

    /// The operation at the documented client-credentials token URL.
    fn token_operation(&self) -> Operation<'c> {
        let token_url = self
            .contract
            .doc
            .pointer("/components/securitySchemes/oauth2/flows/clientCredentials/tokenUrl")
            .and_then(Value::as_str)
            .expect("the contract documents a client-credentials token URL");
        self.contract
            .operations()
            .into_iter()
            .find(|op| op.path == token_url && op.method == Method::POST)
            .expect("the token URL is a documented operation")
    }

    /// The documented alternative: client credentials in an HTTP Basic header.
    async fn token_with_http_basic(&mut self) {
        let op = self.token_operation();
        let url = format!("{}{}", self.base, op.path);
        let response = self
            .http
            .post(&url)
            .basic_auth(DEV_CLIENT_ID, Some(DEV_CLIENT_SECRET))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {url}: {e}"));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        self.check_answer(&op, "with HTTP Basic credentials", status, &headers, &body);
        self.require_success(&op, "with HTTP Basic credentials", status, &body);
    }

    /// A token from the documented token URL with the development credentials.
    async fn fetch_token(&mut self) -> String {
        let op = self.token_operation();
        let token_url = op.path.clone();
        let (status, headers, body) = self.send(&op, &Request::documented(&op)).await;
        self.check_answer(
            &op,
            "with the development credentials",
            status,
            &headers,
            &body,
        );
        assert_eq!(status, 200, "POST {token_url} answered {status}: {body}");
        let answer: Value = serde_json::from_str(&body).expect("the token answer is JSON");
        answer["access_token"]
            .as_str()
            .expect("the token answer has an access_token")
            .to_string()
    }

    async fn send(&self, op: &Operation<'_>, request: &Request) -> (u16, HeaderMap, String) {
        let (status, headers, bytes) = self.send_raw(op, request).await;
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    async fn send_raw(&self, op: &Operation<'_>, request: &Request) -> (u16, HeaderMap, Vec<u8>) {
        let url = format!("{}{}", self.base, request.path);
        let mut builder = self
            .http
            .request(op.method.clone(), &url)
            .query(&request.query);
        if request.token {
            builder = builder.bearer_auth(&self.token);
        }
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &request.body {
            if op.request_media_type() == "application/x-www-form-urlencoded" {
                let form: Vec<(String, String)> = body
                    .as_object()
                    .expect("a form example is an object")
                    .iter()
                    .map(|(k, v)| (k.clone(), scalar(v)))
                    .collect();
                builder = builder.form(&form);
            } else {
                builder = builder.json(body);
            }
        }
        let response = builder
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url}: {e}", op.method));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap_or_default();
        (status, headers, bytes.to_vec())
    }

    async fn exercise_read(&mut self, op: &Operation<'_>, pass: Pass) {
        let base = Request::documented(op);
        let label = match pass {
            Pass::BeforeWrites => "before writes",
            Pass::AfterWrites => "after writes",
        };
        let (status, headers, bytes) = self.send_raw(op, &base).await;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        self.check_answer(op, label, status, &headers, &body);
        if status == 200 && op.is_binary(status) {
            self.check_content(op, &base.path, &headers, &bytes).await;
        }
        match (op.id(), status) {
            // No resolution yet is a documented, normal answer until `resolveCase` ran.
            ("getCaseResolution", 404) if pass == Pass::BeforeWrites => {}
            // Linked evidence has no bytes here; uploaded evidence must have them.
            ("getCaseDocumentContent", 404) => self.expect_linked_evidence(&base).await,
            _ => self.require_success(op, label, status, &body),
        }

        // Each optional query parameter with an example, one at a time.
        for p in op.parameters() {
            if p["in"] != "query" || p["required"] == true {
                continue;
            }
            let Some(example) = param_example(p) else {
                continue;
            };
            let name = p["name"].as_str().expect("parameter name").to_string();
            let mut request = base.clone();
            request.query.push((name.clone(), example.clone()));
            let label = format!("{label}, with {name}={example}");
            let (status, headers, body) = self.send(op, &request).await;
            self.check_answer(op, &label, status, &headers, &body);
            self.require_success(op, &label, status, &body);
        }
    }

    async fn exercise_write(&mut self, op: &Operation<'_>) {
        let request = Request::documented(op);
        let (status, headers, body) = self.send(op, &request).await;
        self.check_answer(op, "with the documented example", status, &headers, &body);
        self.require_success(op, "with the documented example", status, &body);
    }

    async fn expect(&mut self, op: &Operation<'_>, label: &str, request: &Request, want: u16) {
        let (status, headers, body) = self.send(op, request).await;
        self.check_answer(op, label, status, &headers, &body);
        if status != want {
            self.failures.push(format!(
                "{} {} ({}) {label}: expected {want}, got {status}: {}",
                op.method,
                request.path,
                op.id(),
                truncate(&body)
            ));
        }
    }

    async fn expect_success(&mut self, op: &Operation<'_>, label: &str, request: &Request) {
        let (status, headers, body) = self.send(op, request).await;
        self.check_answer(op, label, status, &headers, &body);
        self.require_success(op, label, status, &body);
    }

    async fn set_faults(&mut self, op: &Operation<'_>, knobs: Value) {
        let mut request = Request::documented(op);
        request.body = Some(knobs.clone());
        self.expect_success(op, &format!("with {knobs}"), &request)
            .await;
    }

    /// Bytes of a document agree with its metadata: length, SHA-256 and (when sent)
    /// the ETag.
    async fn check_content(
        &mut self,
        op: &Operation<'_>,
        path: &str,
        headers: &HeaderMap,
        bytes: &[u8],
    ) {
        let at = format!("GET {path} ({})", op.id());
        let id = path.split('/').rev().nth(1).unwrap_or_default().to_string();
        let Some(meta) = self.metadata_of(&id).await else {
            self.failures.push(format!(
                "{at}: answered bytes but the metadata of {id} cannot be read"
            ));
            return;
        };
        let digest = hex::encode(Sha256::digest(bytes));
        if meta["size_bytes"].as_u64() != Some(bytes.len() as u64) {
            self.failures.push(format!(
                "{at}: {} bytes, metadata says size_bytes {}",
                bytes.len(),
                meta["size_bytes"]
            ));
        }
        if meta["sha256"].as_str() != Some(digest.as_str()) {
            self.failures.push(format!(
                "{at}: content hashes to {digest}, metadata says sha256 {}",
                meta["sha256"]
            ));
        }
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        if let Some(length) = header("content-length") {
            if length != bytes.len().to_string() {
                self.failures.push(format!(
                    "{at}: Content-Length {length} for {} bytes",
                    bytes.len()
                ));
            }
        }
        if let Some(etag) = header("etag") {
            if etag != format!("\"{digest}\"") {
                self.failures.push(format!(
                    "{at}: ETag {etag}, documented as the quoted SHA-256 {digest}"
                ));
            }
        }
    }

    /// Metadata of a document (Trading Grid) or case document (Core Case) by id,
    /// through the documented routes.
    async fn metadata_of(&mut self, id: &str) -> Option<Value> {
        if let Some(get) = self.contract.find_operation("getDocument") {
            let mut request = Request::documented(&get);
            request.path = get.path.replace("{id}", id);
            let (status, _, body) = self.send(&get, &request).await;
            return (status == 200)
                .then(|| serde_json::from_str(&body).ok())
                .flatten();
        }
        let list = self.contract.operation("listCaseDocumentsBatch");
        let mut request = Request::documented(&list);
        request.query.push(("ids".into(), id.to_string()));
        let (status, _, body) = self.send(&list, &request).await;
        let page: Value = serde_json::from_str(&body).ok()?;
        (status == 200)
            .then(|| page["data"][0].clone())
            .filter(|d| d.is_object())
    }

    /// Core Case: the bytes of seeded uploaded evidence (no `source`) are served.
    async fn exercise_uploaded_evidence(&mut self) {
        let Some(content) = self.contract.find_operation("getCaseDocumentContent") else {
            return;
        };
        let list = self.contract.operation("listCaseDocumentsBatch");
        let mut request = Request::documented(&list);
        request.query.push(("page_size".into(), "100".into()));
        let (_, _, body) = self.send(&list, &request).await;
        let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let uploaded = page["data"]
            .as_array()
            .and_then(|docs| docs.iter().find(|d| d["source"].is_null()))
            .and_then(|d| d["id"].as_str())
            .map(str::to_string);
        let Some(id) = uploaded else {
            self.failures.push(
                "GET /api/v2/case-documents?page_size=100: no uploaded evidence (source null) to read back"
                    .to_string(),
            );
            return;
        };
        let mut request = Request::documented(&content);
        request.path = content.path.replace("{id}", &id);
        let (status, headers, bytes) = self.send_raw(&content, &request).await;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        self.check_answer(&content, "for uploaded evidence", status, &headers, &body);
        self.require_success(&content, "for uploaded evidence", status, &body);
        if status == 200 {
            self.check_content(&content, &request.path, &headers, &bytes)
                .await;
        }
    }

    /// `getCaseDocumentContent` answered 404: only right when the evidence is linked.
    async fn expect_linked_evidence(&mut self, request: &Request) {
        let id = request
            .path
            .split('/')
            .rev()
            .nth(1)
            .expect("/api/v2/case-documents/{id}/content")
            .to_string();
        let list = self.contract.operation("listCaseDocumentsBatch");
        let mut query = Request::documented(&list);
        query.query.push(("ids".into(), id.clone()));
        let (status, _, body) = self.send(&list, &query).await;
        let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        let source = &page["data"][0]["source"];
        if status != 200 || source.is_null() {
            self.failures.push(format!(
                "GET {} (getCaseDocumentContent): 404 for {id}, which is not linked evidence \
                 (uploaded evidence must answer its bytes); case-documents?ids={id} answered {status}: {}",
                request.path,
                truncate(&body)
            ));
        }
    }

    /// The highest `sequence` in the change feed so far (0 when empty).
    async fn last_event_sequence(&mut self) -> u64 {
        let feed = self.contract.operation("listEvents");
        let mut after = 0;
        loop {
            let mut request = Request::documented(&feed);
            request.query = vec![
                ("after".into(), after.to_string()),
                (page_size_param(&feed).into(), "100".into()),
            ];
            let (status, _, body) = self.send(&feed, &request).await;
            let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let last = page_items(&page)
                .last()
                .and_then(|e| e["sequence"].as_u64());
            match last {
                Some(seq) if status == 200 => after = seq,
                _ => return after,
            }
        }
    }

    /// Events of the feed from sequence `first` on.
    async fn events_from(&mut self, first: u64) -> Vec<Value> {
        let feed = self.contract.operation("listEvents");
        let mut after = first.saturating_sub(1);
        let mut events = Vec::new();
        loop {
            let mut request = Request::documented(&feed);
            request.query = vec![
                ("after".into(), after.to_string()),
                (page_size_param(&feed).into(), "100".into()),
            ];
            let (_, _, body) = self.send(&feed, &request).await;
            let page: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let items = page_items(&page);
            let Some(last) = items.last().and_then(|e| e["sequence"].as_u64()) else {
                return events;
            };
            events.extend(items.iter().cloned());
            after = last;
        }
    }

    /// `simSetWebhook` with its documented example, the URL swapped for `url`; the
    /// example's secret, which deliveries must then be signed with.
    async fn point_webhook_at(&mut self, op: &Operation<'_>, url: &str) -> Option<String> {
        let mut request = Request::documented(op);
        let secret = request
            .body
            .as_ref()
            .and_then(|b| b["secret"].as_str())
            .map(str::to_string);
        if let Some(body) = request.body.as_mut().and_then(Value::as_object_mut) {
            body.insert("url".into(), url.into());
        }
        let (status, headers, body) = self.send(op, &request).await;
        self.check_answer(op, "pointed at a local receiver", status, &headers, &body);
        self.require_success(op, "pointed at a local receiver", status, &body);
        secret
    }

    /// Every event emitted since the target was set, and the documented redelivery,
    /// reached the receiver signed with `secret` and shaped as the `webhooks` section
    /// documents.
    async fn check_deliveries(
        &mut self,
        platform: Platform,
        receiver: &Receiver,
        secret: &str,
        first: u64,
    ) {
        let status_op = self.contract.operation("simGetWebhook");
        let this = &*self;
        let read = || async {
            let (_, _, body) = this
                .send(&status_op, &Request::documented(&status_op))
                .await;
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)
        };
        let settled = helpers::within(Duration::from_secs(10), || async {
            let counters = read().await;
            (counters["pending"] == 0).then_some(counters)
        })
        .await;
        let counters = match settled {
            Some(c) => c,
            None => read().await,
        };
        if counters["pending"] != 0 || counters["failed"] != 0 {
            self.failures.push(format!(
                "GET /__sim/webhook: deliveries to a healthy receiver did not all succeed: {counters}"
            ));
        }
        let deliveries = receiver.take();
        if deliveries.is_empty() {
            self.failures
                .push("the webhook receiver got no delivery at all".to_string());
        }
        let platform_name = platform.to_string();
        let mut received = BTreeSet::new();
        for (headers, body) in &deliveries {
            let header = |name: &str| {
                headers
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let id = header("webhook-id");
            let at = format!("webhook {id}");
            let timestamp: i64 = header("webhook-timestamp").parse().unwrap_or(-1);
            let signature = header("webhook-signature");
            if signature != webhook_signature(secret, timestamp, body) {
                self.failures.push(format!(
                    "{at}: Webhook-Signature `{signature}` does not verify for timestamp {timestamp}"
                ));
            }
            if header("webhook-platform") != platform_name {
                self.failures.push(format!(
                    "{at}: Webhook-Platform `{}`, expected {platform_name}",
                    header("webhook-platform")
                ));
            }
            if !header("content-type").starts_with("application/json") {
                self.failures
                    .push(format!("{at}: Content-Type `{}`", header("content-type")));
            }
            let event: Value = match serde_json::from_slice(body) {
                Ok(v) => v,
                Err(e) => {
                    self.failures.push(format!("{at}: body is not JSON: {e}"));
                    continue;
                }
            };
            if event["id"] != id.as_str() {
                self.failures.push(format!(
                    "{at}: Webhook-Id differs from the event id {}",
                    event["id"]
                ));
            }
            let event_type = event["type"].as_str().unwrap_or_default().to_string();
            match self.contract.webhook_schema(&event_type) {
                Some(schema) => {
                    let mut errors = Vec::new();
                    self.contract
                        .validate(schema, &event, "$", &mut errors, &mut self.seen);
                    for e in errors.into_iter().take(3) {
                        self.failures.push(format!("{at} ({event_type}): {e}"));
                    }
                }
                None => self.failures.push(format!(
                    "{at}: event type `{event_type}` is not documented under `webhooks`"
                )),
            }
            received.insert(id);
        }
        for event in self.events_from(first).await {
            let id = event["id"].as_str().unwrap_or_default().to_string();
            if !received.contains(&id) {
                self.failures.push(format!(
                    "event {id} ({}) was emitted after the webhook was set but never delivered",
                    event["type"]
                ));
            }
        }
        let redeliver = self.contract.operation("simRedeliverWebhook");
        let redelivered = param_example(
            redeliver
                .parameters()
                .first()
                .expect("simRedeliverWebhook has the event id parameter"),
        )
        .unwrap_or_default();
        if !received.contains(&redelivered) {
            self.failures.push(format!(
                "POST /__sim/webhook/redeliver/{redelivered} answered but {redelivered} never arrived"
            ));
        }
    }

    /// After the first read pass: each route called so far is counted under its
    /// documented path template.
    async fn check_route_counters(&mut self, reads: &[&&Operation<'_>]) {
        let stats = self.contract.operation("simGetStats");
        let (status, _, body) = self.send(&stats, &Request::documented(&stats)).await;
        let Ok(stats) = serde_json::from_str::<Value>(&body) else {
            self.failures.push(format!(
                "GET /__sim/stats answered {status}: {}",
                truncate(&body)
            ));
            return;
        };
        let routes = stats["routes"].as_object().cloned().unwrap_or_default();
        for op in reads {
            let key = format!("{} {}", op.method, op.path);
            if !routes.contains_key(&key) {
                self.failures.push(format!(
                    "GET /__sim/stats: no counter `{key}` after calling {} (counters: {:?})",
                    op.id(),
                    routes.keys().collect::<Vec<_>>()
                ));
            }
        }
        let documented: BTreeSet<String> = self
            .contract
            .operations()
            .iter()
            .map(|op| format!("{} {}", op.method, op.path))
            .collect();
        for key in routes.keys() {
            if !documented.contains(key) {
                self.failures.push(format!(
                    "GET /__sim/stats counts `{key}`, which is not a documented operation"
                ));
            }
        }
    }

    fn require_success(&mut self, op: &Operation<'_>, label: &str, status: u16, body: &str) {
        if !(200..300).contains(&status) {
            self.failures.push(format!(
                "{} {} ({}) {label}: expected a documented success ({:?}), got {status}: {}",
                op.method,
                op.path,
                op.id(),
                op.success_codes(),
                truncate(body)
            ));
        }
    }

    /// The status is documented for the operation, required headers are there, and a
    /// JSON body validates against the documented schema.
    fn check_answer(
        &mut self,
        op: &Operation<'_>,
        label: &str,
        status: u16,
        headers: &HeaderMap,
        body: &str,
    ) {
        let at = format!("{} {} ({}) {label}", op.method, op.path, op.id());
        let Some(response) = op.response(status) else {
            self.failures.push(format!(
                "{at}: answered {status}, which is not documented (documented: {:?}): {}",
                op.documented_codes(),
                truncate(body)
            ));
            return;
        };
        if let Some(documented) = response.get("headers").and_then(Value::as_object) {
            for (name, header) in documented {
                let header = self.contract.deref(header);
                if header["required"] == true && !headers.contains_key(name.as_str()) {
                    self.failures
                        .push(format!("{at}: {status} without the {name} header"));
                }
            }
        }
        let Some(content) = response.get("content").and_then(Value::as_object) else {
            return;
        };
        let Some(media) = content.get("application/json") else {
            return; // binary content: any bytes
        };
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/json") {
            self.failures.push(format!(
                "{at}: {status} with Content-Type `{content_type}`, documented application/json"
            ));
        }
        let value: Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => {
                self.failures.push(format!(
                    "{at}: {status} body is not JSON ({e}): {}",
                    truncate(body)
                ));
                return;
            }
        };
        let mut errors = Vec::new();
        self.contract
            .validate(&media["schema"], &value, "$", &mut errors, &mut self.seen);
        let more = errors.len().saturating_sub(3);
        for e in errors.into_iter().take(3) {
            self.failures.push(format!("{at}: {status} body: {e}"));
        }
        if more > 0 {
            self.failures.push(format!(
                "{at}: {status} body: ... and {more} more schema violations"
            ));
        }
    }
}

fn truncate(body: &str) -> String {
    if body.len() <= 300 {
        body.to_string()
    } else {
        let mut end = 300;
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &body[..end])
    }
}

/// The page-size query parameter of a list operation (`limit` or `page_size`).
fn page_size_param(op: &Operation<'_>) -> &'static str {
    if op.parameters().iter().any(|p| p["name"] == "page_size") {
        "page_size"
    } else {
        "limit"
    }
}

/// The records of a page of either platform (`items` or `data`).
fn page_items(page: &Value) -> Vec<Value> {
    page.get("items")
        .or_else(|| page.get("data"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// One webhook request as received: its headers and raw body.
type Delivery = (axum::http::HeaderMap, Vec<u8>);

/// A webhook receiver on a loopback port that records every delivery and answers 200.
struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Delivery>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let seen: Arc<Mutex<Vec<Delivery>>> = Arc::default();
        let sink = seen.clone();
        let app = axum::Router::new().route(
            "/hooks",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let sink = sink.clone();
                    async move {
                        sink.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((headers, body.to_vec()));
                        axum::http::StatusCode::OK
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port for the receiver");
        let addr = listener.local_addr().expect("the receiver address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hooks"),
            seen,
        }
    }

    fn take(&self) -> Vec<Delivery> {
        std::mem::take(&mut *self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

// ---------------------------------------------------------------------------------
// The contract document.

struct Contract {
    file: String,
    doc: Value,
}

struct Operation<'c> {
    contract: &'c Contract,
    method: Method,
    path: String,
    op: &'c Value,
}

impl Contract {
    fn load(file: &str) -> Contract {
        let path = format!("{}/openapi/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let doc: Value = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "{path} is not OpenAPI 3.1"
        );
        Contract {
            file: file.to_string(),
            doc,
        }
    }

    /// Follows `$ref` (local JSON pointers) until a concrete object.
    fn deref<'a>(&'a self, mut v: &'a Value) -> &'a Value {
        while let Some(r) = v.get("$ref").and_then(Value::as_str) {
            v = self.resolve(r);
        }
        v
    }

    fn operations(&self) -> Vec<Operation<'_>> {
        let paths = self.doc["paths"].as_object().expect("paths");
        let mut ops = Vec::new();
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("a path item") {
                let method = match method.as_str() {
                    "get" => Method::GET,
                    "post" => Method::POST,
                    "put" => Method::PUT,
                    "patch" => Method::PATCH,
                    "delete" => Method::DELETE,
                    _ => continue,
                };
                ops.push(Operation {
                    contract: self,
                    method,
                    path: path.clone(),
                    op,
                });
            }
        }
        ops
    }

    /// Request-body schema of the documented webhook whose event `type` enum lists
    /// `event_type`.
    fn webhook_schema(&self, event_type: &str) -> Option<&Value> {
        self.doc["webhooks"].as_object()?.values().find_map(|item| {
            let schema = item.pointer("/post/requestBody/content/application~1json/schema")?;
            let types = self
                .deref(schema)
                .pointer("/properties/type/enum")?
                .as_array()?;
            types.iter().any(|t| t == event_type).then_some(schema)
        })
    }

    fn operation(&self, id: &str) -> Operation<'_> {
        self.find_operation(id)
            .unwrap_or_else(|| panic!("{}: no operation {id}", self.file))
    }

    fn find_operation(&self, id: &str) -> Option<Operation<'_>> {
        self.operations().into_iter().find(|op| op.id() == id)
    }

    /// Component schemas reachable from the JSON bodies of documented successes.
    fn response_schemas(&self, ops: &[Operation<'_>]) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for op in ops {
            for code in op.success_codes() {
                if let Some(schema) = op
                    .response(code)
                    .and_then(|r| r.pointer("/content/application~1json/schema"))
                {
                    self.collect_refs(schema, &mut names);
                }
            }
        }
        names
    }

    fn collect_refs(&self, schema: &Value, names: &mut BTreeSet<String>) {
        match schema {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    let name = r.rsplit('/').next().unwrap_or(r).to_string();
                    if names.insert(name) {
                        self.collect_refs(self.deref(schema), names);
                    }
                }
                for (k, v) in map {
                    if k != "$ref" {
                        self.collect_refs(v, names);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect_refs(v, names)),
            _ => {}
        }
    }
}

impl<'c> Operation<'c> {
    fn id(&self) -> &str {
        self.op["operationId"]
            .as_str()
            .unwrap_or("<no operationId>")
    }

    fn simulator_only(&self) -> bool {
        self.op["x-simulator-only"] == true
    }

    /// Whether a bearer token is needed: the operation's `security`, else the global one.
    fn needs_token(&self) -> bool {
        let security = self
            .op
            .get("security")
            .unwrap_or(&self.contract.doc["security"]);
        security.as_array().is_some_and(|s| !s.is_empty())
    }

    fn parameters(&self) -> Vec<&'c Value> {
        self.op["parameters"]
            .as_array()
            .map(|ps| ps.iter().map(|p| self.contract.deref(p)).collect())
            .unwrap_or_default()
    }

    fn request_media_type(&self) -> String {
        self.op
            .get("requestBody")
            .map(|rb| self.contract.deref(rb))
            .and_then(|rb| rb["content"].as_object())
            .and_then(|c| c.keys().next().cloned())
            .unwrap_or_default()
    }

    /// Whether the answer for `status` is documented as bytes rather than JSON.
    fn is_binary(&self, status: u16) -> bool {
        self.response(status)
            .and_then(|r| r["content"].as_object())
            .is_some_and(|c| !c.contains_key("application/json") && !c.is_empty())
    }

    fn documented_codes(&self) -> Vec<u16> {
        self.op["responses"]
            .as_object()
            .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default()
    }

    fn success_codes(&self) -> Vec<u16> {
        self.documented_codes()
            .into_iter()
            .filter(|c| (200..300).contains(c))
            .collect()
    }

    fn response(&self, status: u16) -> Option<&'c Value> {
        self.op["responses"]
            .get(status.to_string())
            .map(|r| self.contract.deref(r))
    }
}

// ---------------------------------------------------------------------------------
// A JSON Schema validator for the subset the contracts use.

/// Keywords that only annotate (or constrain request bodies the test builds itself).
const ANNOTATIONS: &[&str] = &[
    "description",
    "default",
    "example",
    "examples",
    "contentEncoding",
    "contentMediaType",
];

impl Contract {
    fn validate(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
    ) {
        let Some(schema) = schema.as_object() else {
            errors.push(format!("{at}: schema is not an object"));
            return;
        };
        for keyword in schema.keys() {
            let known = matches!(
                keyword.as_str(),
                "$ref"
                    | "type"
                    | "format"
                    | "enum"
                    | "properties"
                    | "required"
                    | "additionalProperties"
                    | "items"
                    | "minItems"
                    | "maxItems"
                    | "minimum"
                    | "maximum"
                    | "pattern"
                    | "anyOf"
            ) || ANNOTATIONS.contains(&keyword.as_str());
            assert!(
                known,
                "{}: the validator does not support `{keyword}` ({at})",
                self.file
            );
        }

        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            seen.insert(r.rsplit('/').next().unwrap_or(r).to_string());
            self.validate(self.resolve(r), value, at, errors, seen);
        }

        if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            let mut reasons = Vec::new();
            let mut matched = false;
            for branch in branches {
                let mut branch_errors = Vec::new();
                let mut branch_seen = BTreeSet::new();
                self.validate(branch, value, at, &mut branch_errors, &mut branch_seen);
                if branch_errors.is_empty() {
                    seen.extend(branch_seen);
                    matched = true;
                    break;
                }
                reasons.extend(branch_errors);
            }
            if !matched {
                errors.push(format!(
                    "{at}: matches no anyOf branch ({})",
                    reasons.join("; ")
                ));
            }
        }

        if let Some(types) = schema.get("type") {
            let types: Vec<&str> = match types {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            if !types.iter().any(|t| has_type(value, t)) {
                errors.push(format!(
                    "{at}: expected {}, got {}",
                    types.join(" or "),
                    short(value)
                ));
                return;
            }
        }

        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!(
                    "{at}: {} is not one of {}",
                    short(value),
                    Value::from(allowed.clone())
                ));
            }
        }

        match value {
            Value::String(s) => {
                if schema.get("format").and_then(Value::as_str) == Some("date-time")
                    && chrono::DateTime::parse_from_rfc3339(s).is_err()
                {
                    errors.push(format!("{at}: `{s}` is not an RFC 3339 date-time"));
                }
                if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                    match pattern {
                        "^[0-9a-f]{64}$" => {
                            if s.len() != 64
                                || !s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f'))
                            {
                                errors.push(format!("{at}: `{s}` is not 64 lower-case hex digits"));
                            }
                        }
                        other => panic!(
                            "{}: the validator does not support pattern {other}",
                            self.file
                        ),
                    }
                }
            }
            Value::Number(n) => {
                let n = n.as_f64().unwrap_or(f64::NAN);
                if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
                    if n < min {
                        errors.push(format!("{at}: {n} is below the minimum {min}"));
                    }
                }
                if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
                    if n > max {
                        errors.push(format!("{at}: {n} is above the maximum {max}"));
                    }
                }
            }
            Value::Array(items) => {
                if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
                    if (items.len() as u64) < min {
                        errors.push(format!("{at}: fewer than {min} items"));
                    }
                }
                if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
                    if items.len() as u64 > max {
                        errors.push(format!("{at}: more than {max} items"));
                    }
                }
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.validate(item_schema, item, &format!("{at}[{i}]"), errors, seen);
                    }
                }
            }
            Value::Object(fields) => {
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for name in required.iter().filter_map(Value::as_str) {
                        if !fields.contains_key(name) {
                            errors.push(format!("{at}: required property `{name}` is missing"));
                        }
                    }
                }
                let declared = schema.get("properties").and_then(Value::as_object);
                for (name, field) in fields {
                    let path = format!("{at}.{name}");
                    match declared.and_then(|d| d.get(name)) {
                        Some(field_schema) => {
                            self.validate(field_schema, field, &path, errors, seen)
                        }
                        None => match schema.get("additionalProperties") {
                            Some(Value::Bool(true)) => {}
                            Some(Value::Bool(false)) => {
                                errors.push(format!("{path}: property not allowed"))
                            }
                            Some(extra) => self.validate(extra, field, &path, errors, seen),
                            // Strict where the contract is silent: an undeclared property
                            // of a documented object is drift between contract and simulator.
                            None if declared.is_some() => {
                                errors.push(format!("{path}: property not documented"))
                            }
                            None => {}
                        },
                    }
                }
            }
            _ => {}
        }
    }

    fn resolve(&self, r: &str) -> &Value {
        r.strip_prefix('#')
            .and_then(|pointer| self.doc.pointer(pointer))
            .unwrap_or_else(|| panic!("{}: dangling $ref {r}", self.file))
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        other => panic!("unknown JSON Schema type {other}"),
    }
}

fn short(value: &Value) -> String {
    truncate(&value.to_string())
}
