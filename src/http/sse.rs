//! GraphQL over Server-Sent Events at `/graphql/stream`: the "distinct connections"
//! mode of the GraphQL over SSE protocol (what the `graphql-sse` client speaks), for
//! networks that pass plain HTTP streaming but not WebSockets.
//!
//! One request (POST with a JSON body, or GET with `?query=…`) is one operation;
//! results arrive as `event: next` and, for operations that end, `event: complete`.
//! The bearer token and the policy checks are the same as for every other path.
//! A `caseMilestones` event that selects `cursor` carries it as the SSE `id`, so a
//! client that reconnects with `Last-Event-ID` is replayed what it missed.
//! Streams (and WebSockets) asking the same subscription of the same audience
//! share one execution (`graphql::shared`); one that resumes runs alone.
//!
//! Bounds: a keep-alive comment after `stream.keepalive_ms` without events, at most
//! `stream.buffer` events held for a client that does not read (then its stream is
//! closed: it reconnects and resumes), and at most `stream.max_lifetime_ms` per
//! stream (closed without `complete`, so clients reconnect and resume).

use std::convert::Infallible;

use async_graphql_axum::rejection::GraphQLRejection;
use async_graphql_axum::GraphQLRequest;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use tokio::sync::mpsc;

use super::{AppState, Authenticated};
use crate::graphql::errors::code;
use crate::graphql::shared::Outcome;
use crate::graphql::ResumeAfter;

/// Longest `Last-Event-ID` accepted (cursors are far shorter).
const MAX_LAST_EVENT_ID: usize = 128;

/// `GET` and `POST /graphql/stream`.
pub(crate) async fn stream(
    State(state): State<AppState>,
    method: Method,
    Authenticated(principal): Authenticated,
    headers: HeaderMap,
    req: Result<GraphQLRequest, GraphQLRejection>,
) -> Response {
    let Ok(req) = req else {
        return super::error_response(
            StatusCode::BAD_REQUEST,
            code::BAD_USER_INPUT,
            "expected a GraphQL request (JSON body, or ?query=… with GET)",
        );
    };
    let mut request = req.into_inner();
    if method == Method::GET && is_mutation(&request.query) {
        return super::error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            code::BAD_USER_INPUT,
            "mutations must be sent with POST",
        );
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty());
    if let Some(id) = last_event_id {
        if id.len() > MAX_LAST_EVENT_ID {
            return super::error_response(
                StatusCode::BAD_REQUEST,
                code::BAD_USER_INPUT,
                "Last-Event-ID is not a cursor of this stream",
            );
        }
        request = request.data(ResumeAfter(id.to_owned()));
    }

    // Joins the streams and sockets asking the same (`graphql::shared`); one
    // that resumes replays its own history and runs alone.
    let mut results = state.schema.execute_shared(principal, request);
    // Drive the operation until it waits for news before answering: once the
    // response starts, a subscription is listening and misses nothing published
    // afterwards.
    let first = match futures::poll!(results.next()) {
        std::task::Poll::Ready(r) => Some(r),
        std::task::Poll::Pending => None,
    };

    let limits = state.stream.clone();
    let metrics = state.metrics.clone();
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(limits.buffer);
    tokio::spawn(async move {
        let lifetime = tokio::time::sleep(limits.max_lifetime);
        tokio::pin!(lifetime);
        let mut first = first;
        let closed = loop {
            let next = match first.take() {
                Some(r) => r,
                None => tokio::select! {
                    r = results.next() => r,
                    () = &mut lifetime => break "lifetime",
                    () = tx.closed() => break "client",
                },
            };
            let Some(outcome) = next else {
                let _ = tx.try_send(Ok(Event::default().event("complete").data("")));
                break "complete";
            };
            // Ended without `complete`, so the client reconnects and resumes
            // from its last event id.
            if outcome.behind {
                break "behind";
            }
            match tx.try_send(Ok(next_event(&outcome))) {
                Ok(()) => {}
                // A client that stopped reading: close rather than hold an
                // unbounded backlog; it resumes from its last event id.
                Err(mpsc::error::TrySendError::Full(_)) => break "slow_client",
                Err(mpsc::error::TrySendError::Closed(_)) => break "client",
            }
        };
        metrics.inc("gridcase_sse_streams_closed_total", &[("reason", closed)]);
    });

    let body = Sse::new(tokio_stream::wrappers::ReceiverStream::new(rx)).keep_alive(
        KeepAlive::new()
            .interval(limits.keepalive)
            .text("keep-alive"),
    );
    let mut resp = body.into_response();
    // Proxies that buffer responses would hold events back.
    resp.headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    resp
}

/// One execution result as a `next` event, with the stream cursor as its id.
fn next_event(outcome: &Outcome) -> Event {
    let event = Event::default().event("next").data(&*outcome.json);
    match outcome.cursor.as_deref() {
        Some(c) if c.len() <= MAX_LAST_EVENT_ID && !c.contains(['\r', '\n', '\0']) => event.id(c),
        _ => event,
    }
}

/// Whether a document holds a mutation.
fn is_mutation(query: &str) -> bool {
    async_graphql::parser::parse_query(query).is_ok_and(|doc| {
        doc.operations
            .iter()
            .any(|(_, op)| op.node.ty == async_graphql::parser::types::OperationType::Mutation)
    })
}
