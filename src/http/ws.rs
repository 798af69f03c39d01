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
//! gateway's memory. Sockets asking the same subscription share one execution
//! (`graphql::shared`): an event is serialised once, however many receive it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::Extension;
use futures::stream::BoxStream;
use futures::{Sink, SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::StreamMap;

use super::server::ConnectionSlot;
use super::AppState;
use crate::auth::Principal;
use crate::graphql::shared::Outcome;

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
    stream: WhenWoken<futures::stream::SplitStream<WebSocket>>,
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
            stream: WhenWoken::new(stream),
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
        let mut subs: StreamMap<String, BoxStream<'static, Option<Arc<Outcome>>>> =
            StreamMap::new();
        let expiry = async move {
            match expires {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(expiry);
        // Made once: a fresh one per event would register with the token again.
        let going_away = self.state.going_away.clone().cancelled_owned();
        tokio::pin!(going_away);
        loop {
            // In this order: an event ready to send does not wait on, nor pay
            // for, an attempt to read the socket (ten thousand sockets per event).
            tokio::select! {
                biased;
                () = &mut going_away => return Err(closing(close::GOING_AWAY, "Going away")),
                () = &mut expiry => return Err(closing(close::FORBIDDEN, "Forbidden: the token has expired")),
                Some((id, item)) = subs.next(), if !subs.is_empty() => match item {
                    Some(outcome) => match &outcome.request_errors {
                        Some(errors) => {
                            subs.remove(&id);
                            self.send_text(message("error", &id, errors))?;
                        }
                        None => self.send_text(message(self.protocol.next(), &id, &outcome.json))?,
                    },
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
        subs: &mut StreamMap<String, BoxStream<'static, Option<Arc<Outcome>>>>,
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
            .execute_shared(principal.clone(), request)
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

/// A message carrying `payload` (JSON already), built as text: the payload is
/// serialised once for every socket that receives it.
fn message(kind: &str, id: &str, payload: &str) -> String {
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".into());
    let mut text = String::with_capacity(kind.len() + id.len() + payload.len() + 32);
    text.push_str(r#"{"type":""#);
    text.push_str(kind);
    text.push_str(r#"","id":"#);
    text.push_str(&id);
    text.push_str(r#","payload":"#);
    text.push_str(payload);
    text.push('}');
    text
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

/// A stream polled again only once it has woken its task (or has just yielded):
/// the session task wakes for every event it sends, and reading the socket
/// each time, to find nothing, costs a zero-filled read buffer per socket and
/// event (tungstenite clears its buffer on every read).
struct WhenWoken<S> {
    inner: S,
    wake: Arc<Woken>,
    waker: std::task::Waker,
}

#[derive(Default)]
struct Woken {
    /// Set when the inner stream wakes the task, or may have more ready.
    due: std::sync::atomic::AtomicBool,
    task: futures::task::AtomicWaker,
}

impl std::task::Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.due.store(true, std::sync::atomic::Ordering::Release);
        self.task.wake();
    }
}

impl<S> WhenWoken<S> {
    fn new(inner: S) -> Self {
        let wake = Arc::new(Woken::default());
        wake.due.store(true, std::sync::atomic::Ordering::Relaxed);
        Self {
            inner,
            waker: std::task::Waker::from(wake.clone()),
            wake,
        }
    }
}

impl<S: futures::Stream + Unpin> futures::Stream for WhenWoken<S> {
    type Item = S::Item;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<S::Item>> {
        use std::sync::atomic::Ordering;
        let this = &mut *self;
        // Registered first: a wake from now on reaches this task.
        this.wake.task.register(cx.waker());
        if !this.wake.due.swap(false, Ordering::AcqRel) {
            return std::task::Poll::Pending;
        }
        let polled = this
            .inner
            .poll_next_unpin(&mut std::task::Context::from_waker(&this.waker));
        if polled.is_ready() {
            // It may hold more than the one it gave.
            this.wake.due.store(true, Ordering::Release);
        }
        polled
    }
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

    #[tokio::test]
    async fn the_socket_is_read_again_only_once_it_has_woken_the_session() {
        /// Counts its polls; yields what is sent to it.
        struct Counted(tokio::sync::mpsc::UnboundedReceiver<u32>, Arc<Mutex<usize>>);
        impl futures::Stream for Counted {
            type Item = u32;
            fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<u32>> {
                *self.1.lock().unwrap() += 1;
                self.0.poll_recv(cx)
            }
        }
        let polls = Arc::new(Mutex::new(0));
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut stream = WhenWoken::new(Counted(rx, polls.clone()));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);

        assert!(stream.poll_next_unpin(&mut cx).is_pending());
        // The session wakes for other reasons: the socket is left alone.
        for _ in 0..5 {
            assert!(stream.poll_next_unpin(&mut cx).is_pending());
        }
        assert_eq!(*polls.lock().unwrap(), 1);

        tx.send(7).unwrap();
        tx.send(8).unwrap();
        assert_eq!(stream.poll_next_unpin(&mut cx), Poll::Ready(Some(7)));
        // After an item it is asked again: it may have more.
        assert_eq!(stream.poll_next_unpin(&mut cx), Poll::Ready(Some(8)));
        assert!(stream.poll_next_unpin(&mut cx).is_pending());
        assert!(stream.poll_next_unpin(&mut cx).is_pending());
        assert_eq!(*polls.lock().unwrap(), 4);
    }
}
