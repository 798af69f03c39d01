//! `GET /graphql/ws`: subscriptions over graphql-transport-ws (and the legacy
//! graphql-ws). Every socket is bounded: it must authenticate within a deadline,
//! holds a capped number of subscriptions with unique ids, takes messages up to a
//! size, is closed when its token expires, and is told `1001 Going away` when the
//! gateway shuts down. Close codes are the ones graphql-transport-ws defines.
//!
//! Memory and work per socket are kept small, since one gateway holds thousands
//! of them: one task per socket, which reads and writes it; a small read buffer,
//! read only when it has woken the task; no write batching, and what the client
//! has not taken yet waits in a bounded queue. A client that does not read fast
//! enough fills its queue and is closed with `1013 Try again later`; it may
//! reconnect and resume with the last `cursor` it received. Its backlog never
//! grows the gateway's memory. Sockets asking the same subscription share one
//! execution (`graphql::shared`): an event is serialised once, however many
//! receive it.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::Extension;
use futures::stream::BoxStream;
use futures::{Sink, SinkExt, Stream, StreamExt};
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

/// A socket that takes nothing of what it is sent for this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes read from the socket at a time. Client messages are small (init,
/// subscribe, ping); the default of 128 KiB, zero-filled per socket, made most of
/// a subscriber's memory.
const READ_BUFFER: usize = 4 * 1024;

/// Messages the client has not taken yet: more than this and it is too slow.
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

/// Why the session ended on the server's initiative: the close code and
/// reason, and whether what is queued goes out first (otherwise it is dropped).
#[derive(Debug)]
struct Closing(u16, String, bool);

fn closing(code: u16, reason: impl Into<String>) -> Closing {
    Closing(code, reason.into(), false)
}

struct Session {
    state: AppState,
    protocol: Protocol,
    socket: Socket<WebSocket>,
}

impl Session {
    fn new(state: AppState, protocol: Protocol, socket: WebSocket) -> Self {
        Self {
            state,
            protocol,
            socket: Socket::new(socket),
        }
    }

    async fn run(mut self) {
        let outcome = match self.init().await {
            Ok(Some((principal, expires))) => self.serve(principal, expires).await,
            Ok(None) => Ok(()),
            Err(c) => Err(c),
        };
        let closing = outcome.err().map(|Closing(code, reason, after_queued)| {
            let frame = CloseFrame {
                code,
                reason: reason.into(),
            };
            (frame, after_queued)
        });
        self.socket.end(closing).await;
    }

    fn send(&mut self, value: serde_json::Value) -> Result<(), Closing> {
        self.send_text(value.to_string())
    }

    /// Queue a message for the client, or give up on a client that is not reading.
    fn send_text(&mut self, text: String) -> Result<(), Closing> {
        self.socket.push(text)
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
                msg = self.socket.recv() => msg,
            };
            let text = match msg {
                None | Some(Message::Close(_)) => return Ok(None),
                Some(Message::Text(t)) => t,
                Some(Message::Binary(_)) => {
                    return Err(closing(close::INVALID_MESSAGE, "Invalid message"))
                }
                Some(_) => continue,
            };
            let Ok(m) = serde_json::from_str::<ClientMessage>(&text) else {
                return Err(closing(close::INVALID_MESSAGE, "Invalid message"));
            };
            match m.kind.as_str() {
                "connection_init" => {
                    return match Self::authenticate(&self.state, m.payload.as_ref()).await {
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
                            // After the connection_error: the client is told why.
                            Err(Closing(close::FORBIDDEN, "Forbidden".into(), true))
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
        state: &AppState,
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
        let verified = state.verifier.verify(token).await.map_err(|e| {
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
            // In this order: what is queued is written before the next event is
            // taken, so a burst of events fills the queue only when the client
            // does not read; the socket itself is read only when it has woken us.
            tokio::select! {
                biased;
                () = &mut going_away => return Err(closing(close::GOING_AWAY, "Going away")),
                () = &mut expiry => return Err(closing(close::FORBIDDEN, "Forbidden: the token has expired")),
                msg = self.socket.recv() => {
                    let text = match msg {
                        None | Some(Message::Close(_)) => return Ok(()),
                        Some(Message::Text(t)) => t,
                        Some(Message::Binary(_)) => return Err(closing(close::INVALID_MESSAGE, "Invalid message")),
                        Some(_) => continue,
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

/// A socket read and written by its session's task. What the client has not
/// taken yet waits in a bounded queue, written as far as the socket accepts
/// whenever the session waits for the client; a client that takes nothing for
/// [`SEND_TIMEOUT`] loses its socket.
struct Socket<S> {
    inner: WhenWoken<S>,
    queue: VecDeque<Message>,
    /// Messages handed to the socket since it was last flushed.
    unflushed: bool,
    /// The deadline of a stall: made at the first, reset at each later one.
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The socket is accepting nothing more right now.
    stalled: bool,
    /// The socket failed, or its client stopped taking anything: it is done.
    broken: bool,
    /// The client sent its close frame: nothing more can be sent but the reply.
    closed_by_client: bool,
}

impl<S, E> Socket<S>
where
    S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
{
    fn new(inner: S) -> Self {
        Self {
            inner: WhenWoken::new(inner),
            queue: VecDeque::new(),
            unflushed: false,
            stall: None,
            stalled: false,
            broken: false,
            closed_by_client: false,
        }
    }

    /// Queue a message; a full queue means the client is too slow.
    fn push(&mut self, text: String) -> Result<(), Closing> {
        if self.broken {
            return Err(closing(close::GOING_AWAY, "not reading"));
        }
        if self.queue.len() >= SEND_QUEUE {
            return Err(closing(
                close::SLOW_CONSUMER,
                format!("Too slow: {SEND_QUEUE} messages not read; reconnect and resume after your last cursor"),
            ));
        }
        self.queue.push_back(Message::text(text));
        Ok(())
    }

    /// Write what is queued, as far as the socket takes it. Ready once all of
    /// it is written and flushed; `Err` once the socket is broken.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ()>> {
        if self.broken {
            return Poll::Ready(Err(()));
        }
        let mut sink = Pin::new(&mut self.inner);
        let mut progressed = false;
        let mut blocked = false;
        while !self.queue.is_empty() {
            match sink.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {
                    let Some(msg) = self.queue.pop_front() else {
                        break;
                    };
                    if sink.as_mut().start_send(msg).is_err() {
                        self.broken = true;
                        return Poll::Ready(Err(()));
                    }
                    self.unflushed = true;
                    progressed = true;
                }
                Poll::Ready(Err(_)) => {
                    self.broken = true;
                    return Poll::Ready(Err(()));
                }
                Poll::Pending => {
                    blocked = true;
                    break;
                }
            }
        }
        if !blocked && self.unflushed {
            match sink.as_mut().poll_flush(cx) {
                Poll::Ready(Ok(())) => self.unflushed = false,
                Poll::Ready(Err(_)) => {
                    self.broken = true;
                    return Poll::Ready(Err(()));
                }
                Poll::Pending => blocked = true,
            }
        }
        if !blocked {
            self.stalled = false;
            return Poll::Ready(Ok(()));
        }
        // Stalled: the client has SEND_TIMEOUT from its last progress.
        let deadline = tokio::time::Instant::now() + SEND_TIMEOUT;
        let fresh = !self.stalled || progressed;
        self.stalled = true;
        let stall = match &mut self.stall {
            Some(stall) => {
                if fresh {
                    stall.as_mut().reset(deadline);
                }
                stall
            }
            None => self
                .stall
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if stall.as_mut().poll(cx).is_ready() {
            self.broken = true;
            return Poll::Ready(Err(()));
        }
        Poll::Pending
    }

    /// The next message from the client, writing what is queued meanwhile.
    /// `None`: the client has gone (or takes nothing any more).
    async fn recv(&mut self) -> Option<Message> {
        std::future::poll_fn(|cx| {
            if let Poll::Ready(Err(())) = self.poll_write(cx) {
                return Poll::Ready(None);
            }
            match self.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(msg))) => {
                    self.closed_by_client |= matches!(msg, Message::Close(_));
                    Poll::Ready(Some(msg))
                }
                Poll::Ready(None | Some(Err(_))) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Done with the socket. With a close frame (the server's initiative) what
    /// is still queued is dropped, or written first when asked, and the frame
    /// sent. Without, what is queued is written; after the client's own close
    /// frame nothing more can be, and only the reply it is owed is flushed.
    async fn end(mut self, closing: Option<(CloseFrame, bool)>) {
        if self.broken {
            return;
        }
        if self.closed_by_client {
            self.queue.clear();
        }
        match closing {
            Some((frame, after_queued)) => {
                if after_queued {
                    let _ = std::future::poll_fn(|cx| self.poll_write(cx)).await;
                }
                self.queue.clear();
                if self.broken {
                    return;
                }
                let _ = tokio::time::timeout(
                    SEND_TIMEOUT,
                    self.inner.send(Message::Close(Some(frame))),
                )
                .await;
            }
            None => {
                self.unflushed = true;
                let _ = std::future::poll_fn(|cx| self.poll_write(cx)).await;
            }
        }
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

/// Writes go straight through, waking the task as the socket asks.
impl<S: Sink<M> + Unpin, M> Sink<M> for WhenWoken<S> {
    type Error = S::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: M) -> Result<(), S::Error> {
        Pin::new(&mut self.inner).start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::sync::{Arc, Mutex};
    use std::task::{Context, Poll};

    use super::*;

    /// A client: records what it reads, or reads nothing at all (and wakes the
    /// writer once it reads again, as a socket turning writable does); sends
    /// nothing.
    #[derive(Clone, Default)]
    struct Client {
        stuck: Arc<std::sync::atomic::AtomicBool>,
        writer: Arc<Mutex<Option<std::task::Waker>>>,
        read: Arc<Mutex<Vec<Message>>>,
        got: Arc<tokio::sync::Notify>,
        /// Sends its close frame; from then on only a flush (of the reply) works.
        closing: Arc<std::sync::atomic::AtomicBool>,
        flushes: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Sink<Message> for Client {
        type Error = &'static str;
        fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if self.stuck.load(std::sync::atomic::Ordering::Relaxed) {
                *self.writer.lock().unwrap() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(Ok(()))
            }
        }
        fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Self::Error> {
            if self.closing.load(std::sync::atomic::Ordering::Relaxed) {
                return Err("send after closing");
            }
            self.read.lock().unwrap().push(item);
            self.got.notify_one();
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.flushes
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.poll_ready(cx)
        }
        fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.poll_ready(cx)
        }
    }

    impl Stream for Client {
        type Item = Result<Message, &'static str>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            use std::sync::atomic::Ordering;
            if self.closing.load(Ordering::Relaxed) && self.flushes.load(Ordering::Relaxed) == 0 {
                return Poll::Ready(Some(Ok(Message::Close(None))));
            }
            Poll::Pending
        }
    }

    impl Client {
        fn stuck() -> Self {
            let client = Self::default();
            client.set_stuck(true);
            client
        }
        fn set_stuck(&self, stuck: bool) {
            self.stuck
                .store(stuck, std::sync::atomic::Ordering::Relaxed);
            if let Some(writer) = self.writer.lock().unwrap().take() {
                writer.wake();
            }
        }
        fn texts(&self) -> Vec<String> {
            let read = self.read.lock().unwrap();
            read.iter()
                .filter_map(|m| match m {
                    Message::Text(t) => Some(t.to_string()),
                    _ => None,
                })
                .collect()
        }
    }

    /// Let the socket write what it can, as the session does while it waits.
    async fn wait_once<S, E>(socket: &mut Socket<S>)
    where
        S: Stream<Item = Result<Message, E>> + Sink<Message> + Unpin,
    {
        assert!(futures::poll!(std::pin::pin!(socket.recv())).is_pending());
    }

    #[tokio::test]
    async fn a_client_that_stops_reading_is_closed_as_too_slow_instead_of_queueing_without_bound() {
        let client = Client::stuck();
        let mut socket = Socket::new(client.clone());
        let mut queued = 0;
        let refused = loop {
            match socket.push(format!("{{\"n\":{queued}}}")) {
                Ok(()) => queued += 1,
                Err(c) => break c,
            }
            wait_once(&mut socket).await;
            assert!(queued <= SEND_QUEUE, "the queue grows without bound");
        };
        assert_eq!(refused.0, close::SLOW_CONSUMER);
        assert_eq!(queued, SEND_QUEUE);
        assert!(client.texts().is_empty());
    }

    #[tokio::test]
    async fn a_reading_client_gets_every_message_in_order_then_the_close_frame() {
        let client = Client::default();
        let mut socket = Socket::new(client.clone());
        // More than the queue holds: each is written while the session waits.
        for n in 0..SEND_QUEUE * 2 {
            socket.push(n.to_string()).unwrap();
            wait_once(&mut socket).await;
        }
        socket.push("dropped".into()).unwrap();
        socket
            .end(Some((
                CloseFrame {
                    code: close::GOING_AWAY,
                    reason: "Going away".into(),
                },
                false,
            )))
            .await;
        let expected: Vec<String> = (0..SEND_QUEUE * 2).map(|n| n.to_string()).collect();
        assert_eq!(
            client.texts(),
            expected,
            "a close frame drops what is queued"
        );
        let read = client.read.lock().unwrap();
        assert!(
            matches!(read.last(), Some(Message::Close(Some(f))) if f.code == close::GOING_AWAY),
            "{:?}",
            read.last()
        );
    }

    #[tokio::test]
    async fn a_client_that_leaves_still_gets_what_was_queued_for_it() {
        let client = Client::default();
        let mut socket = Socket::new(client.clone());
        for n in 0..3 {
            socket.push(n.to_string()).unwrap();
        }
        socket.end(None).await;
        assert_eq!(client.texts(), ["0", "1", "2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_takes_nothing_loses_its_socket_after_the_send_timeout() {
        let client = Client::stuck();
        let mut socket = Socket::new(client);
        socket.push("one".into()).unwrap();
        let started = tokio::time::Instant::now();
        assert!(socket.recv().await.is_none(), "the client is gone");
        assert!(started.elapsed() >= SEND_TIMEOUT);
        // Nothing more is tried on it, not even a close frame.
        assert_eq!(socket.push("two".into()).unwrap_err().0, close::GOING_AWAY);
        tokio::time::timeout(Duration::from_millis(1), socket.end(None))
            .await
            .expect("ends at once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_stalled_once_gets_the_whole_send_timeout_when_it_stalls_again() {
        let client = Client::stuck();
        let mut socket = Socket::new(client.clone());
        socket.push("one".into()).unwrap();
        wait_once(&mut socket).await;
        client.set_stuck(false);
        wait_once(&mut socket).await;
        tokio::time::advance(SEND_TIMEOUT * 2).await;

        client.set_stuck(true);
        socket.push("two".into()).unwrap();
        wait_once(&mut socket).await;
        let stalled = tokio::time::Instant::now();
        tokio::time::advance(SEND_TIMEOUT / 2).await;
        wait_once(&mut socket).await;
        // And this stall runs its whole course.
        assert!(socket.recv().await.is_none(), "the client is gone");
        assert_eq!(stalled.elapsed(), SEND_TIMEOUT);
        assert_eq!(client.texts(), ["one"]);
    }

    #[tokio::test]
    async fn a_session_waiting_on_its_client_writes_as_soon_as_the_client_reads_again() {
        let client = Client::stuck();
        let mut socket = Socket::new(client.clone());
        for n in 0..3 {
            socket.push(n.to_string()).unwrap();
        }
        // The session waits, as it does for its next event or message.
        let session = tokio::spawn(async move {
            let _ = socket.recv().await;
        });
        let got = client.got.notified();
        tokio::pin!(got);
        got.as_mut().enable();
        while client.writer.lock().unwrap().is_none() {
            tokio::task::yield_now().await;
        }
        assert!(client.texts().is_empty());

        client.set_stuck(false);
        let written = async {
            loop {
                got.as_mut().await;
                if client.texts().len() == 3 {
                    break;
                }
                got.set(client.got.notified());
                got.as_mut().enable();
            }
        };
        tokio::time::timeout(Duration::from_secs(10), written)
            .await
            .expect("the wake reached the session");
        assert_eq!(client.texts(), ["0", "1", "2"]);
        session.abort();
    }

    #[tokio::test]
    async fn a_client_that_closed_gets_its_close_reply_flushed_though_messages_were_queued() {
        let client = Client::default();
        let mut socket = Socket::new(client.clone());
        client
            .closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        assert!(matches!(socket.recv().await, Some(Message::Close(None))));
        // An event arrived meanwhile: it can no longer be sent.
        socket.push("late".into()).unwrap();
        socket.end(None).await;
        assert!(client.texts().is_empty());
        assert_eq!(
            client.flushes.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "the reply the client is owed is flushed"
        );
    }

    #[tokio::test]
    async fn a_close_that_asks_for_it_goes_out_after_what_is_queued() {
        let client = Client::default();
        let mut socket = Socket::new(client.clone());
        socket.push("connection_error".into()).unwrap();
        socket
            .end(Some((
                CloseFrame {
                    code: close::FORBIDDEN,
                    reason: "Forbidden".into(),
                },
                true,
            )))
            .await;
        assert_eq!(client.texts(), ["connection_error"]);
        let read = client.read.lock().unwrap();
        assert!(
            matches!(read.last(), Some(Message::Close(Some(f))) if f.code == close::FORBIDDEN),
            "{read:?}"
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
