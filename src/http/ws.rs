//! `GET /graphql/ws`: subscriptions over graphql-transport-ws (and the legacy
//! graphql-ws). Every socket is bounded: it must authenticate within a deadline,
//! holds a capped number of subscriptions with unique ids, takes messages up to a
//! size, is closed when its token expires, and is told `1001 Going away` when the
//! gateway shuts down. Close codes are the ones graphql-transport-ws defines.
//!
//! Memory per socket is kept small, since one gateway holds thousands of them: a
//! small read buffer, no write batching, and outgoing messages go through a
//! bounded queue to a writer task. A client that does not read fast enough fills
//! its queue and is closed with `1013 Try again later`; it may reconnect and
//! resume with the last `cursor` it received. Its backlog never grows the
//! gateway's memory.

use std::time::Duration;

use async_graphql::{Response, ServerError, Value};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::Extension;
use futures::stream::BoxStream;
use futures::{Sink, SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio_stream::StreamMap;

use super::server::ConnectionSlot;
use super::AppState;
use crate::auth::Principal;

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
    /// The client did not read what it was sent fast enough (RFC 6455 1013).
    pub const SLOW_CONSUMER: u16 = 1013;
}

/// A socket that does not drain what it is sent within this is closed.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from the socket at a time. Client messages are small (init,
/// subscribe, ping); the default of 128 KiB, zero-filled per socket, made most of
/// a subscriber's memory.
const READ_BUFFER: usize = 4 * 1024;

/// Messages waiting for a socket: more than this and its client is too slow.
const SEND_QUEUE: usize = 128;

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
        .max_frame_size(state.http.ws_max_message_bytes)
        .read_buffer_size(READ_BUFFER)
        // Every message is written at once (the queue is the buffer).
        .write_buffer_size(0);
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
#[derive(Debug)]
struct Closing(u16, String);

fn closing(code: u16, reason: impl Into<String>) -> Closing {
    Closing(code, reason.into())
}

struct Session {
    state: AppState,
    protocol: Protocol,
    /// To the writer task; bounded, so a slow client cannot grow it.
    out: tokio::sync::mpsc::Sender<Message>,
    /// Tells the writer to drop what is queued and close with this frame.
    close: Option<tokio::sync::oneshot::Sender<CloseFrame>>,
    writer: tokio::task::JoinHandle<()>,
    stream: futures::stream::SplitStream<WebSocket>,
}

impl Session {
    fn new(state: AppState, protocol: Protocol, socket: WebSocket) -> Self {
        let (sink, stream) = socket.split();
        let (out, queue) = tokio::sync::mpsc::channel(SEND_QUEUE);
        let (close, close_rx) = tokio::sync::oneshot::channel();
        Self {
            state,
            protocol,
            out,
            close: Some(close),
            writer: tokio::spawn(write(sink, queue, close_rx)),
            stream,
        }
    }

    async fn run(mut self) {
        let outcome = match self.init().await {
            Ok(Some((principal, expires))) => self.serve(principal, expires).await,
            Ok(None) => Ok(()),
            Err(c) => Err(c),
        };
        if let (Err(Closing(code, reason)), Some(close)) = (outcome, self.close.take()) {
            let _ = close.send(CloseFrame {
                code,
                reason: reason.into(),
            });
        }
        // Without a close frame the writer sends what is queued, then ends.
        drop(self.out);
        let _ = self.writer.await;
    }

    fn send(&mut self, value: serde_json::Value) -> Result<(), Closing> {
        self.send_text(value.to_string())
    }

    /// Queue a message for the client, or give up on a client that is not reading.
    fn send_text(&mut self, text: String) -> Result<(), Closing> {
        enqueue(&self.out, text)
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
                            self.send(json!({ "type": "connection_ack" }))?;
                            if self.protocol == Protocol::Legacy {
                                self.send(json!({ "type": "ka" }))?;
                            }
                            Ok(Some((principal, expires)))
                        }
                        Err(message) => {
                            if self.protocol == Protocol::Legacy {
                                let _ = self
                                    .send(json!({ "type": "connection_error", "payload": { "message": message } }));
                            }
                            Err(closing(close::FORBIDDEN, "Forbidden"))
                        }
                    };
                }
                "ping" => self.send(json!({ "type": "pong" }))?,
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
                            self.send(json!({ "type": "error", "id": id, "payload": response.errors }))?;
                        } else {
                            // Straight to text: no JSON tree built per event and socket.
                            let next = Outgoing { kind: self.protocol.next(), id: &id, payload: &response };
                            let text = serde_json::to_string(&next)
                                .map_err(|_| closing(1011, "internal error"))?;
                            self.send_text(text)?;
                        }
                    }
                    None => self.send(json!({ "type": "complete", "id": id }))?,
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
                        ("ping", _) => self.send(json!({ "type": "pong" }))?,
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
            return self.send(json!({ "type": "error", "id": id, "payload": [error] }));
        }
        // A new subscription spends the caller's request budget like a query.
        if let Err(wait) = self.state.rate_limits.check(principal) {
            let error = json!({
                "message": format!("too many requests; retry in {} s", wait.secs()),
                "extensions": { "code": crate::graphql::errors::code::RATE_LIMITED, "retryAfter": wait.secs() },
            });
            return self.send(json!({ "type": "error", "id": id, "payload": [error] }));
        }
        let stream = self
            .state
            .schema
            .execute_stream(principal.clone(), request)
            .map(Some)
            .chain(futures::stream::once(async { None }))
            .boxed();
        subs.insert(id, stream);
        Ok(())
    }
}

/// Queue a message for the writer; a full queue means the client is too slow.
fn enqueue(out: &tokio::sync::mpsc::Sender<Message>, text: String) -> Result<(), Closing> {
    use tokio::sync::mpsc::error::TrySendError;
    match out.try_send(Message::text(text)) {
        Ok(()) => Ok(()),
        Err(TrySendError::Full(_)) => Err(closing(
            close::SLOW_CONSUMER,
            format!("Too slow: {SEND_QUEUE} messages not read; reconnect and resume after your last cursor"),
        )),
        // The writer ended: the client is gone or stopped reading long ago.
        Err(TrySendError::Closed(_)) => Err(closing(close::GOING_AWAY, "not reading")),
    }
}

/// A `next`/`data` message, serialised as it is written.
#[derive(Serialize)]
struct Outgoing<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    payload: &'a Response,
}

/// The writer task of a socket: sends what is queued, one message at a time.
/// A close frame (sent when the session ends on the server's initiative) drops
/// whatever is still queued. Each send has [`SEND_TIMEOUT`]: a client that reads
/// nothing at all loses its socket then.
async fn write<S>(
    mut sink: S,
    mut queue: tokio::sync::mpsc::Receiver<Message>,
    close: tokio::sync::oneshot::Receiver<CloseFrame>,
) where
    S: Sink<Message> + Unpin,
{
    use futures::FutureExt;
    // Fused: once the session has dropped it unused, it is never ready again.
    let mut close = close.fuse();
    loop {
        let msg = tokio::select! {
            biased;
            Ok(frame) = &mut close => Err(frame),
            msg = queue.recv() => match msg {
                Some(msg) => Ok(msg),
                None => return,
            },
        };
        let frame = match msg {
            Err(frame) => frame,
            Ok(msg) => {
                let sent = tokio::select! {
                    biased;
                    Ok(frame) = &mut close => Err(frame),
                    sent = tokio::time::timeout(SEND_TIMEOUT, sink.send(msg)) => Ok(sent),
                };
                match sent {
                    Ok(Ok(Ok(()))) => continue,
                    // Gone, or not reading at all.
                    Ok(_) => return,
                    Err(frame) => frame,
                }
            }
        };
        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
        return;
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

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use super::*;

    /// A client: records what it reads, or reads nothing at all.
    #[derive(Clone, Default)]
    struct Client {
        stuck: bool,
        read: Arc<Mutex<Vec<Message>>>,
    }

    impl Sink<Message> for Client {
        type Error = std::convert::Infallible;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.stuck {
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        }
        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            self.read.lock().unwrap().push(item);
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.poll_ready(cx)
        }
        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.poll_ready(cx)
        }
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed_as_too_slow_instead_of_queueing_without_bound() {
        let client = Client {
            stuck: true,
            ..Client::default()
        };
        let (out, queue) = tokio::sync::mpsc::channel(SEND_QUEUE);
        let (_close, close_rx) = tokio::sync::oneshot::channel();
        let writer = tokio::spawn(write(client, queue, close_rx));

        let mut queued = 0;
        let refused = loop {
            match enqueue(&out, format!("{{\"n\":{queued}}}")) {
                Ok(()) => queued += 1,
                Err(c) => break c,
            }
            tokio::task::yield_now().await;
            assert!(queued <= SEND_QUEUE + 1, "the queue grows without bound");
        };
        assert_eq!(refused.0, close::SLOW_CONSUMER);
        assert!(queued >= SEND_QUEUE, "refused after only {queued} messages");
        writer.abort();
    }

    #[tokio::test]
    async fn a_reading_client_gets_every_message_in_order_then_the_close_frame() {
        let client = Client::default();
        let (out, queue) = tokio::sync::mpsc::channel(SEND_QUEUE);
        let (close, close_rx) = tokio::sync::oneshot::channel();
        let writer = tokio::spawn(write(client.clone(), queue, close_rx));
        for n in 0..3 {
            enqueue(&out, n.to_string()).unwrap();
        }
        // The session waits for nothing: wait here until the writer has sent them.
        while client.read.lock().unwrap().len() < 3 {
            tokio::task::yield_now().await;
        }
        close
            .send(CloseFrame {
                code: close::GOING_AWAY,
                reason: "Going away".into(),
            })
            .unwrap();
        writer.await.unwrap();
        let read = client.read.lock().unwrap();
        let texts: Vec<_> = read[..3]
            .iter()
            .map(|m| m.to_text().unwrap().to_owned())
            .collect();
        assert_eq!(texts, ["0", "1", "2"]);
        assert!(
            matches!(&read[3], Message::Close(Some(f)) if f.code == close::GOING_AWAY),
            "{:?}",
            read[3]
        );
    }
}
