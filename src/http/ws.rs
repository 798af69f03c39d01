//! `GET /graphql/ws`: subscriptions over graphql-transport-ws (and the legacy
//! graphql-ws). Every socket is bounded: it must authenticate within a deadline,
//! holds a capped number of subscriptions with unique ids, takes messages up to a
//! size, is closed when its token expires, and is told `1001 Going away` when the
//! gateway shuts down. Close codes are the ones graphql-transport-ws defines.

use std::time::Duration;

use async_graphql::{Response, ServerError, Value};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::Extension;
use futures::stream::{BoxStream, SplitSink};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::StreamMap;

use super::server::ConnectionSlot;
use super::AppState;
use crate::auth::Principal;
use crate::graphql::{RequestScope, Services};

/// The two subprotocols spoken, and their message names where they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library).
    Transport,
    /// `graphql-ws` (the legacy subscriptions-transport-ws library).
    Legacy,
}

impl Protocol {
    fn next(self) -> &'static str {
        match self {
            Protocol::Transport => "next",
            Protocol::Legacy => "data",
        }
    }
}

/// Close codes (graphql-transport-ws; 1001/1008 from RFC 6455).
mod close {
    pub const GOING_AWAY: u16 = 1001;
    pub const INVALID_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// A socket that does not drain what it is sent within this is closed.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    payload: Option<serde_json::Value>,
}

pub(crate) async fn websocket(
    State(state): State<AppState>,
    slot: Option<Extension<ConnectionSlot>>,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    let upgrade = upgrade
        .protocols(["graphql-transport-ws", "graphql-ws"])
        .max_message_size(state.http.ws_max_message_bytes)
        .max_frame_size(state.http.ws_max_message_bytes);
    let protocol = match upgrade.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some("graphql-ws") => Protocol::Legacy,
        _ => Protocol::Transport,
    };
    let tracker = state.tasks.clone();
    upgrade.on_upgrade(move |socket| {
        tracker.track_future(async move {
            // The connection stays counted against the caps while the socket lives.
            let _slot = slot;
            Session::new(state, protocol, socket).run().await;
        })
    })
}

/// Why the session ended on the server's initiative.
struct Closing(u16, String);

fn closing(code: u16, reason: impl Into<String>) -> Closing {
    Closing(code, reason.into())
}

struct Session {
    state: AppState,
    protocol: Protocol,
    sink: SplitSink<WebSocket, Message>,
    stream: futures::stream::SplitStream<WebSocket>,
}

impl Session {
    fn new(state: AppState, protocol: Protocol, socket: WebSocket) -> Self {
        let (sink, stream) = socket.split();
        Self {
            state,
            protocol,
            sink,
            stream,
        }
    }

    async fn run(mut self) {
        let outcome = match self.init().await {
            Ok(Some((principal, expires))) => self.serve(principal, expires).await,
            Ok(None) => Ok(()),
            Err(c) => Err(c),
        };
        if let Err(Closing(code, reason)) = outcome {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            let _ = tokio::time::timeout(SEND_TIMEOUT, self.sink.send(Message::Close(Some(frame))))
                .await;
        }
    }

    async fn send(&mut self, value: serde_json::Value) -> Result<(), Closing> {
        match tokio::time::timeout(
            SEND_TIMEOUT,
            self.sink.send(Message::text(value.to_string())),
        )
        .await
        {
            Ok(Ok(())) => Ok(()),
            // The client is gone or not reading: nothing more to say to it.
            _ => Err(closing(close::GOING_AWAY, "not reading")),
        }
    }

    /// Wait for `connection_init` (within the deadline) and authenticate it.
    /// `Ok(None)`: the client left.
    async fn init(&mut self) -> Result<Option<(Principal, Option<tokio::time::Instant>)>, Closing> {
        let deadline = tokio::time::sleep(self.state.http.ws_init_timeout);
        tokio::pin!(deadline);
        let going_away = self.state.going_away.clone();
        loop {
            let msg = tokio::select! {
                () = &mut deadline => {
                    return Err(closing(close::INIT_TIMEOUT, "Connection initialisation timeout"))
                }
                () = going_away.cancelled() => return Err(closing(close::GOING_AWAY, "Going away")),
                msg = self.stream.next() => msg,
            };
            let text = match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Binary(_))) => {
                    return Err(closing(close::INVALID_MESSAGE, "Invalid message"))
                }
                Some(Ok(_)) => continue,
            };
            let Ok(m) = serde_json::from_str::<ClientMessage>(&text) else {
                return Err(closing(close::INVALID_MESSAGE, "Invalid message"));
            };
            match m.kind.as_str() {
                "connection_init" => {
                    return match self.authenticate(m.payload.as_ref()).await {
                        Ok((principal, expires)) => {
                            self.send(json!({ "type": "connection_ack" })).await?;
                            if self.protocol == Protocol::Legacy {
                                self.send(json!({ "type": "ka" })).await?;
                            }
                            Ok(Some((principal, expires)))
                        }
                        Err(message) => {
                            if self.protocol == Protocol::Legacy {
                                let _ = self
                                    .send(json!({ "type": "connection_error", "payload": { "message": message } }))
                                    .await;
                            }
                            Err(closing(close::FORBIDDEN, "Forbidden"))
                        }
                    };
                }
                "ping" => self.send(json!({ "type": "pong" })).await?,
                "pong" => {}
                "subscribe" | "start" => return Err(closing(close::UNAUTHORIZED, "Unauthorized")),
                "connection_terminate" => return Ok(None),
                _ => return Err(closing(close::INVALID_MESSAGE, "Invalid message")),
            }
        }
    }

    /// The bearer token of a `connection_init` payload (`Authorization` or
    /// `authorization`), verified; the instant the socket must close with it.
    async fn authenticate(
        &self,
        payload: Option<&serde_json::Value>,
    ) -> Result<(Principal, Option<tokio::time::Instant>), &'static str> {
        let token = ["Authorization", "authorization"]
            .iter()
            .find_map(|k| payload?.get(*k)?.as_str())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or("a bearer token is required")?;
        let verified = self.state.verifier.verify(token).await.map_err(|e| {
            tracing::info!(error = %e, "refused websocket token");
            "the bearer token is invalid or expired"
        })?;
        let closes_at = tokio::time::Instant::now() + verified.expires_in();
        Ok((verified.principal, Some(closes_at)))
    }

    /// Serve subscriptions until the client leaves, the token expires or the
    /// gateway shuts down.
    async fn serve(
        &mut self,
        principal: Principal,
        expires: Option<tokio::time::Instant>,
    ) -> Result<(), Closing> {
        let mut subs: StreamMap<String, BoxStream<'static, Option<Response>>> = StreamMap::new();
        let expiry = async move {
            match expires {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        let going_away = self.state.going_away.clone();
        loop {
            tokio::select! {
                () = going_away.cancelled() => return Err(closing(close::GOING_AWAY, "Going away")),
                () = &mut expiry => return Err(closing(close::FORBIDDEN, "Forbidden: the token has expired")),
                Some((id, item)) = subs.next(), if !subs.is_empty() => match item {
                    Some(response) => {
                        if is_request_error(&response) {
                            subs.remove(&id);
                            self.send(json!({ "type": "error", "id": id, "payload": response.errors })).await?;
                        } else {
                            self.send(json!({ "type": self.protocol.next(), "id": id, "payload": response })).await?;
                        }
                    }
                    None => self.send(json!({ "type": "complete", "id": id })).await?,
                },
                msg = self.stream.next() => {
                    let text = match msg {
                        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(()),
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Binary(_))) => return Err(closing(close::INVALID_MESSAGE, "Invalid message")),
                        Some(Ok(_)) => continue,
                    };
                    let Ok(m) = serde_json::from_str::<ClientMessage>(&text) else {
                        return Err(closing(close::INVALID_MESSAGE, "Invalid message"));
                    };
                    match (m.kind.as_str(), m.id) {
                        ("subscribe" | "start", Some(id)) => {
                            self.subscribe(&mut subs, &principal, id, m.payload).await?;
                        }
                        ("complete" | "stop", Some(id)) => {
                            subs.remove(&id);
                        }
                        ("ping", _) => self.send(json!({ "type": "pong" })).await?,
                        ("pong", _) => {}
                        ("connection_init", _) => {
                            return Err(closing(close::TOO_MANY_INITS, "Too many initialisation requests"))
                        }
                        ("connection_terminate", _) => return Ok(()),
                        _ => return Err(closing(close::INVALID_MESSAGE, "Invalid message")),
                    }
                }
            }
        }
    }

    async fn subscribe(
        &mut self,
        subs: &mut StreamMap<String, BoxStream<'static, Option<Response>>>,
        principal: &Principal,
        id: String,
        payload: Option<serde_json::Value>,
    ) -> Result<(), Closing> {
        if subs.contains_key(&id) {
            return Err(closing(
                close::DUPLICATE_ID,
                format!("Subscriber for {id} already exists"),
            ));
        }
        let Some(request) =
            payload.and_then(|p| serde_json::from_value::<async_graphql::Request>(p).ok())
        else {
            return Err(closing(close::INVALID_MESSAGE, "Invalid message"));
        };
        let max = self.state.http.ws_max_subscriptions;
        if subs.len() >= max {
            let error = json!({
                "message": format!("a socket holds at most {max} subscriptions; complete one first"),
                "extensions": { "code": crate::graphql::errors::code::TOO_MANY_SUBSCRIPTIONS },
            });
            return self
                .send(json!({ "type": "error", "id": id, "payload": [error] }))
                .await;
        }
        // A new subscription spends the caller's request budget like a query.
        if let Err(wait) = self.state.rate_limits.check(principal) {
            let error = json!({
                "message": format!("too many requests; retry in {} s", wait.secs()),
                "extensions": { "code": crate::graphql::errors::code::RATE_LIMITED, "retryAfter": wait.secs() },
            });
            return self
                .send(json!({ "type": "error", "id": id, "payload": [error] }))
                .await;
        }
        let Some(services) = self.state.schema.data::<Services>() else {
            return Err(closing(1011, "internal error"));
        };
        let request = request.data(RequestScope::new(principal.clone(), services));
        let stream = self
            .state
            .schema
            .execute_stream(request)
            .map(Some)
            .chain(futures::stream::once(async { None }))
            .boxed();
        subs.insert(id, stream);
        Ok(())
    }
}

/// Errors about the request itself (unparsable, invalid, over a limit): no data,
/// and no error with a path.
fn is_request_error(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response
            .errors
            .iter()
            .all(|e: &ServerError| e.path.is_empty())
}
