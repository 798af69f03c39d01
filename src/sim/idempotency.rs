//! `Idempotency-Key` on API writes: a retried POST/PUT/PATCH carrying the key of a
//! request already answered gets the remembered answer instead of running again.
//!
//! This is what lets a client retry a write whose answer it never saw (timeout,
//! dropped connection) without creating a second message or case. Keys are scoped by
//! route template and remembered for 24 hours, in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::common::{lock, Common, Kind};

pub(crate) const HEADER: &str = "idempotency-key";
pub(crate) const REPLAYED: &str = "idempotent-replayed";
const MAX_KEY_LEN: usize = 255;
const KEEP: Duration = Duration::from_secs(24 * 60 * 60);
/// Bodies are buffered to be compared; API bodies are small JSON documents, and the
/// handlers' own extractor limit is the same.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// What makes two requests "the same": method, concrete path and body. JSON bodies
/// compare as values, so key order and whitespace do not matter.
#[derive(Debug, Clone, PartialEq)]
struct Fingerprint {
    method: Method,
    path: String,
    body: BodyPrint,
}

#[derive(Debug, Clone, PartialEq)]
enum BodyPrint {
    Json(Value),
    Raw([u8; 32]),
}

impl BodyPrint {
    fn of(bytes: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => BodyPrint::Json(v),
            Err(_) => BodyPrint::Raw(Sha256::digest(bytes).into()),
        }
    }
}

#[derive(Debug, Clone)]
struct Stored {
    status: StatusCode,
    content_type: Option<HeaderValue>,
    location: Option<HeaderValue>,
    body: Bytes,
}

#[derive(Debug)]
struct Entry {
    print: Fingerprint,
    at: Instant,
    /// None while the first request is still being handled.
    answer: Option<Stored>,
}

/// Remembered answers by (route template, key).
#[derive(Debug, Default)]
pub(crate) struct Keys {
    entries: Mutex<HashMap<(String, String), Entry>>,
}

/// Releases a key whose first request ended without a remembered answer (an error,
/// or the client going away mid-request), so a retry runs again instead of waiting
/// on an answer that will never be stored.
struct Claim<'a> {
    keys: &'a Keys,
    slot: Option<(String, String)>,
}

impl Claim<'_> {
    fn complete(mut self, answer: Stored) {
        if let Some(slot) = self.slot.take() {
            if let Some(e) = lock(&self.keys.entries).get_mut(&slot) {
                e.answer = Some(answer);
                e.at = Instant::now();
            }
        }
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            lock(&self.keys.entries).remove(&slot);
        }
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.len() <= MAX_KEY_LEN && k.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn replay(s: &Stored) -> Response {
    let mut resp = (s.status, s.body.clone()).into_response();
    let h = resp.headers_mut();
    if let Some(ct) = &s.content_type {
        h.insert(header::CONTENT_TYPE, ct.clone());
    }
    if let Some(loc) = &s.location {
        h.insert(header::LOCATION, loc.clone());
    }
    h.insert(REPLAYED, HeaderValue::from_static("true"));
    resp
}

/// Middleware on the API routes (inside the auth gate, so only authorised writes are
/// remembered). Requests without the header pass straight through.
pub(crate) async fn layer(State(c): State<Arc<Common>>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return next.run(req).await;
    }
    let Some(raw) = req.headers().get(HEADER) else {
        return next.run(req).await;
    };
    let key = match raw.to_str() {
        Ok(k) if valid_key(k) => k.to_string(),
        _ => {
            return c
                .err(
                    Kind::Invalid,
                    "Idempotency-Key must be 1 to 255 printable ASCII characters",
                )
                .into_response()
        }
    };
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return c
                .err(
                    Kind::Invalid,
                    format!("request body could not be read: {e}"),
                )
                .into_response()
        }
    };
    let print = Fingerprint {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        body: BodyPrint::of(&bytes),
    };
    let slot = (format!("{} {template}", parts.method), key);
    let keys = &c.idempotency;
    {
        let mut entries = lock(&keys.entries);
        let now = Instant::now();
        entries.retain(|_, e| now.duration_since(e.at) < KEEP);
        if let Some(e) = entries.get(&slot) {
            if e.print != print {
                return c
                    .err(
                        Kind::IdempotencyKeyReused,
                        "this Idempotency-Key was already used for a different request",
                    )
                    .into_response();
            }
            return match &e.answer {
                Some(stored) => replay(stored),
                None => c
                    .err(
                        Kind::Conflict,
                        "a request with this Idempotency-Key is still being processed; retry shortly",
                    )
                    .into_response(),
            };
        }
        entries.insert(
            slot.clone(),
            Entry {
                print,
                at: now,
                answer: None,
            },
        );
    }
    let claim = Claim {
        keys,
        slot: Some(slot),
    };
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if !resp.status().is_success() {
        // Nothing changed: the key stays unused, so a corrected request may reuse it.
        return resp;
    }
    let (rparts, rbody) = resp.into_parts();
    let body = match axum::body::to_bytes(rbody, usize::MAX).await {
        Ok(b) => b,
        Err(e) => {
            return c
                .err(
                    Kind::Unavailable,
                    format!("answer could not be buffered: {e}"),
                )
                .into_response()
        }
    };
    claim.complete(Stored {
        status: rparts.status,
        content_type: rparts.headers.get(header::CONTENT_TYPE).cloned(),
        location: rparts.headers.get(header::LOCATION).cloned(),
        body: body.clone(),
    });
    Response::from_parts(rparts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_ascii_up_to_255() {
        assert!(valid_key("wf-42:step-3"));
        assert!(valid_key(&"k".repeat(255)));
        assert!(!valid_key(&"k".repeat(256)));
        assert!(!valid_key(""));
        assert!(!valid_key("tab\there"));
    }

    #[test]
    fn json_bodies_compare_as_values() {
        assert_eq!(
            BodyPrint::of(br#"{"a":1,"b":[2]}"#),
            BodyPrint::of(br#"{ "b": [2], "a": 1 }"#)
        );
        assert_ne!(BodyPrint::of(br#"{"a":1}"#), BodyPrint::of(br#"{"a":2}"#));
        assert_eq!(BodyPrint::of(b"not json"), BodyPrint::of(b"not json"));
    }
}
