//! Subscriptions many sockets hold alike run once. Ten thousand portals listening
//! to `caseMilestones` ask the same document of the same audience: executing it
//! once per event and socket made most of a milestone's fan-out cost and most of
//! a listening socket's memory. Here the first socket of an operation starts one
//! execution (a *source*); later sockets asking the same thing join it and get
//! each event already serialised, as one shared allocation.
//!
//! The same thing means: the same document, operation and variables, asked by
//! the same audience (role, and partner for a partner). What a resolver decides
//! from the principal (which partner's events pass) is therefore the same for
//! every socket of a source. A subscription that resumes from a cursor replays
//! its own history and runs alone. A source lives while one socket listens to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use async_graphql::{Response, ServerError, Value};
use futures::stream::{BoxStream, StreamExt};
use tokio::sync::broadcast;

use crate::auth::{Principal, Role};
use crate::domain::PartnerId;
use crate::metrics::Metrics;

/// Events a source holds for the sockets that have not taken them yet. A
/// subscription whose session task falls further behind is ended with
/// `FELL_BEHIND` rather than skipping events unseen; a socket whose client
/// reads slowly is the session's bound, not this.
const BACKLOG: usize = 1024;

/// What is sent instead of a response that could not be serialised.
pub(crate) const UNSERIALISABLE: &str =
    r#"{"errors":[{"message":"internal error","extensions":{"code":"INTERNAL"}}]}"#;

/// One execution result, serialised once for every socket that receives it.
#[derive(Debug)]
pub(crate) struct Outcome {
    /// The response (`{"data":…}`), as JSON.
    pub json: Box<str>,
    /// For an error about the request itself (no data, no error with a path):
    /// the errors, as a JSON array. The subscription ends with it.
    pub request_errors: Option<Box<str>>,
    /// The `cursor` of the root field's object, when the operation selected it
    /// (the SSE event id).
    pub cursor: Option<Box<str>>,
    /// The subscription fell behind and was ended ([`Outcome::fell_behind`]).
    pub behind: bool,
}

impl Outcome {
    pub fn new(response: &Response) -> Self {
        let json = serde_json::to_string(response).unwrap_or_else(|e| {
            tracing::error!(error = %e, "could not serialise a GraphQL response");
            UNSERIALISABLE.into()
        });
        let request_errors = is_request_error(response).then(|| {
            serde_json::to_string(&response.errors)
                .unwrap_or_else(|_| {
                    r#"[{"message":"internal error","extensions":{"code":"INTERNAL"}}]"#.into()
                })
                .into_boxed_str()
        });
        Self {
            json: json.into_boxed_str(),
            request_errors,
            cursor: cursor_of(&response.data),
            behind: false,
        }
    }
}

/// The `cursor` of the root field's object, when the operation selected it.
fn cursor_of(data: &Value) -> Option<Box<str>> {
    let Value::Object(root) = data else {
        return None;
    };
    root.values().find_map(|field| match field {
        Value::Object(o) => match o.get("cursor") {
            Some(Value::String(c)) => Some(c.as_str().into()),
            _ => None,
        },
        _ => None,
    })
}

impl Outcome {
    /// Ends a subscription that fell `skipped` events behind: a request error,
    /// so the socket is told which one and may resume it from its last cursor.
    fn fell_behind(skipped: u64) -> Self {
        let errors = serde_json::json!([{
            "message": format!(
                "this subscription fell {skipped} events behind and was ended; \
                 subscribe again with `after` set to the last cursor received"
            ),
            "extensions": { "code": super::errors::code::FELL_BEHIND },
        }]);
        Self {
            json: serde_json::json!({ "errors": errors })
                .to_string()
                .into_boxed_str(),
            request_errors: Some(errors.to_string().into_boxed_str()),
            cursor: None,
            behind: true,
        }
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

/// What makes two subscriptions the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    role: Role,
    partner: Option<PartnerId>,
    query: String,
    operation: Option<String>,
    /// The variables as JSON, keys sorted: the same values in another order
    /// are the same subscription.
    variables: String,
}

impl Key {
    /// The key of `request` for `principal`; `None` when it must run alone (it
    /// resumes from a cursor, or its root is not plain fields).
    pub fn of(principal: &Principal, request: &mut async_graphql::Request) -> Option<Self> {
        use async_graphql::parser::types::{DocumentOperations, Selection};
        // Resuming from `Last-Event-ID` (SSE) replays its own history.
        let resumes = std::any::TypeId::of::<super::ResumeAfter>();
        if request.data.contains_key(&resumes) {
            return None;
        }
        // Through `serde_json::Value`, whose maps are sorted.
        let variables = serde_json::to_value(&request.variables).ok()?.to_string();
        let operation = request.operation_name.clone();
        let given = request.variables.clone();
        let doc = request.parsed_query().ok()?;
        let op = match (&doc.operations, &operation) {
            (DocumentOperations::Single(op), _) => op,
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name.as_str())?,
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next()?,
            _ => return None,
        };
        // An `after` left out, null, or a variable not given: no replay.
        let plain = op
            .node
            .selection_set
            .node
            .items
            .iter()
            .all(|s| match &s.node {
                Selection::Field(f) => f.node.arguments.iter().all(|(name, value)| {
                    name.node != "after"
                        || value
                            .node
                            .clone()
                            .into_const_with(|v| {
                                Ok::<_, ()>(given.get(&v).cloned().unwrap_or(Value::Null))
                            })
                            .is_ok_and(|v| v == Value::Null)
                }),
                _ => false,
            });
        plain.then(|| Self {
            role: principal.role(),
            partner: principal.partner().cloned(),
            query: request.query.clone(),
            operation,
            variables,
        })
    }
}

/// The running sources, by key.
pub(crate) struct Hub {
    sources: Arc<Mutex<HashMap<Key, Weak<Source>>>>,
    metrics: Arc<Metrics>,
}

/// One execution, and what its sockets join.
struct Source {
    /// Weak: the pump holds the only sender, so when it ends its sockets see the
    /// channel close, and a new socket sees it cannot join.
    tx: broadcast::WeakSender<Arc<Outcome>>,
    /// The last result when the execution ended with an error: a socket that
    /// joined too late to receive it gets it instead of an empty stream.
    ended_with: Arc<OnceLock<Arc<Outcome>>>,
    /// Set once the pump runs (right after the source is listed).
    pump: OnceLock<tokio::task::AbortHandle>,
    key: Key,
    sources: Weak<Mutex<HashMap<Key, Weak<Source>>>>,
}

impl Drop for Source {
    fn drop(&mut self) {
        if let Some(pump) = self.pump.get() {
            pump.abort();
        }
        if let Some(sources) = self.sources.upgrade() {
            let mut sources = sources.lock().unwrap_or_else(|e| e.into_inner());
            // Its own entry, unless a new source of the key has taken it over.
            if sources
                .get(&self.key)
                .is_some_and(|s| s.strong_count() == 0)
            {
                sources.remove(&self.key);
            }
        }
    }
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            sources: Arc::default(),
            metrics,
        }
    }

    /// The results of the subscription `key`: of its running source, or of one
    /// started now with `start`.
    pub fn join(
        &self,
        key: Key,
        start: impl FnOnce() -> BoxStream<'static, Response>,
    ) -> BoxStream<'static, Arc<Outcome>> {
        let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        let found = sources.get(&key).and_then(Weak::upgrade);
        if let Some(source) = found {
            if let Some(tx) = source.tx.upgrade() {
                let rx = tx.subscribe();
                drop(tx);
                drop(sources);
                return self.listen(rx, source);
            }
            // Its execution has ended: start another. Released without the lock
            // held, since a source's drop takes it.
            drop(sources);
            drop(source);
            sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
        }
        let (tx, rx) = broadcast::channel(BACKLOG);
        let ended_with = Arc::new(OnceLock::new());
        let source = Arc::new(Source {
            tx: tx.downgrade(),
            ended_with: ended_with.clone(),
            pump: OnceLock::new(),
            key: key.clone(),
            sources: Arc::downgrade(&self.sources),
        });
        sources.insert(key, Arc::downgrade(&source));
        drop(sources);
        // Polled once before the caller answers its client, as an execution of
        // its own would be: the subscription is then listening (with the
        // in-process bus), so nothing published from now on is missed. Sockets
        // joining meanwhile listen already. The pump polls it from then on,
        // with its own waker; a panic here ends this execution, not the caller.
        let mut results = start();
        let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            results.poll_next_unpin(&mut std::task::Context::from_waker(
                futures::task::noop_waker_ref(),
            ))
        }))
        .unwrap_or_else(|_| {
            tracing::error!("a subscription failed as it started");
            std::task::Poll::Ready(None)
        });
        let pump = tokio::spawn(pump(results, first, tx, ended_with));
        let _ = source.pump.set(pump.abort_handle());
        self.listen(rx, source)
    }

    /// One socket's view of a source, counted in `gridcase_subscription_listeners`
    /// while it lives.
    fn listen(
        &self,
        rx: broadcast::Receiver<Arc<Outcome>>,
        source: Arc<Source>,
    ) -> BoxStream<'static, Arc<Outcome>> {
        let listening = self.metrics.in_flight("gridcase_subscription_listeners");
        let state = Listener {
            rx,
            source,
            received: false,
            _listening: listening,
        };
        futures::stream::unfold(Some(state), |state| async move {
            let mut l = state?;
            match l.rx.recv().await {
                Ok(outcome) => {
                    l.received = true;
                    Some((outcome, Some(l)))
                }
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::warn!(
                        skipped = n,
                        "a subscriber fell behind; ending its subscription"
                    );
                    Some((Arc::new(Outcome::fell_behind(n)), None))
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let last = l.source.ended_with.get().filter(|_| !l.received).cloned();
                    last.map(|last| (last, None))
                }
            }
        })
        .boxed()
    }
}

/// Run one execution, handing every result to the source's sockets.
async fn pump(
    mut results: BoxStream<'static, Response>,
    first: std::task::Poll<Option<Response>>,
    tx: broadcast::Sender<Arc<Outcome>>,
    ended_with: Arc<OnceLock<Arc<Outcome>>>,
) {
    let mut last = None;
    let mut first = match first {
        std::task::Poll::Ready(r) => Some(r),
        std::task::Poll::Pending => None,
    };
    loop {
        let next = match first.take() {
            Some(r) => r,
            None => results.next().await,
        };
        let Some(response) = next else {
            break;
        };
        let failed = response.data == Value::Null && !response.errors.is_empty();
        let outcome = Arc::new(Outcome::new(&response));
        last = failed.then(|| outcome.clone());
        // No socket listening right now is fine: the source ends when its last
        // socket leaves.
        let _ = tx.send(outcome);
    }
    if let Some(last) = last {
        let _ = ended_with.set(last);
    }
}

/// What a socket listening to a source holds.
struct Listener {
    rx: broadcast::Receiver<Arc<Outcome>>,
    source: Arc<Source>,
    /// Whether anything reached this socket yet.
    received: bool,
    _listening: crate::metrics::InFlight,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_graphql::{Pos, ServerError};
    use tokio::sync::mpsc;
    use tokio_stream::wrappers::UnboundedReceiverStream;

    use super::*;

    fn key(query: &str) -> Key {
        Key {
            role: Role::Agent,
            partner: None,
            query: query.into(),
            operation: None,
            variables: "{}".into(),
        }
    }

    fn listeners(metrics: &Metrics) -> f64 {
        metrics
            .render()
            .lines()
            .find_map(|l| l.strip_prefix("gridcase_subscription_listeners{} "))
            .map_or(0.0, |v| v.parse().unwrap())
    }

    #[tokio::test]
    async fn sockets_asking_the_same_share_one_execution_and_one_serialisation() {
        let metrics = Arc::new(Metrics::new());
        let hub = Hub::new(metrics.clone());
        let (tx, rx) = mpsc::unbounded_channel::<Response>();
        let mut a = hub.join(key("q"), move || UnboundedReceiverStream::new(rx).boxed());
        let mut b = hub.join(key("q"), || panic!("the same subscription started twice"));
        assert_eq!(listeners(&metrics), 2.0);

        tx.send(Response::new(Value::from(1))).unwrap();
        let (got_a, got_b) = (a.next().await.unwrap(), b.next().await.unwrap());
        assert_eq!(&*got_a.json, r#"{"data":1}"#);
        assert!(Arc::ptr_eq(&got_a, &got_b), "serialised once for both");

        // Another question runs apart.
        let started = AtomicUsize::new(0);
        let _c = hub.join(key("other"), || {
            started.fetch_add(1, Ordering::Relaxed);
            futures::stream::pending().boxed()
        });
        assert_eq!(started.load(Ordering::Relaxed), 1);

        // The execution is dropped with its last socket.
        drop(a);
        assert!(!tx.is_closed(), "one socket still listens");
        drop(b);
        tx.closed().await;
        assert_eq!(listeners(&metrics), 1.0);
        let sources = hub.sources.lock().unwrap();
        assert!(!sources.contains_key(&key("q")), "{:?}", sources.keys());
    }

    #[tokio::test]
    async fn a_socket_joining_an_execution_that_failed_gets_the_error_and_a_later_one_starts_afresh(
    ) {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let mut error =
            Response::from_errors(vec![ServerError::new("forbidden", Some(Pos::default()))]);
        error.errors[0].path = vec![async_graphql::PathSegment::Field("caseMilestones".into())];
        let (end_tx, end_rx) = tokio::sync::oneshot::channel::<()>();
        let failing = futures::stream::once(async { error })
            .chain(futures::stream::once(end_rx).filter_map(|_| async { None }));
        let mut early = hub.join(key("q"), move || failing.boxed());
        let failed = early.next().await.unwrap();
        assert!(failed.json.contains("forbidden"), "{}", failed.json);
        assert!(
            failed.request_errors.is_none(),
            "a field error, not a request error"
        );

        // Joined after the error went out, before the execution ended.
        let mut late = hub.join(key("q"), || panic!("joins the running one"));
        end_tx.send(()).unwrap();
        assert!(early.next().await.is_none());
        assert!(Arc::ptr_eq(&late.next().await.unwrap(), &failed));
        assert!(late.next().await.is_none());

        // The ended execution is not joined again.
        let restarted = AtomicUsize::new(0);
        let _again = hub.join(key("q"), || {
            restarted.fetch_add(1, Ordering::Relaxed);
            futures::stream::pending().boxed()
        });
        assert_eq!(restarted.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_new_execution_is_listening_before_its_first_socket_is_answered() {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let polled = Arc::new(AtomicUsize::new(0));
        let counted = polled.clone();
        let _socket = hub.join(key("q"), move || {
            futures::stream::poll_fn(move |_| {
                counted.fetch_add(1, Ordering::Relaxed);
                std::task::Poll::<Option<Response>>::Pending
            })
            .boxed()
        });
        // No task has run yet: the caller may answer its client now.
        assert_eq!(polled.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_socket_that_falls_behind_is_told_so_instead_of_missing_events_unseen() {
        let hub = Hub::new(Arc::new(Metrics::new()));
        let (tx, rx) = mpsc::unbounded_channel::<Response>();
        let mut slow = hub.join(key("q"), move || UnboundedReceiverStream::new(rx).boxed());
        let mut keeping_up = hub.join(key("q"), || panic!("joins the running one"));
        for n in 0..=BACKLOG {
            tx.send(Response::new(Value::from(n))).unwrap();
            let got = keeping_up.next().await.unwrap();
            assert_eq!(&*got.json, format!(r#"{{"data":{n}}}"#));
        }

        let ended = slow.next().await.unwrap();
        let errors: serde_json::Value =
            serde_json::from_str(ended.request_errors.as_deref().expect("a request error"))
                .unwrap();
        assert_eq!(errors[0]["extensions"]["code"], "FELL_BEHIND", "{errors}");
        assert!(slow.next().await.is_none(), "the subscription has ended");

        tx.send(Response::new(Value::from("next"))).unwrap();
        let got = keeping_up.next().await.unwrap();
        assert_eq!(&*got.json, r#"{"data":"next"}"#, "the others go on");
    }

    fn key_of(principal: &Principal, query: &str, variables: serde_json::Value) -> Option<Key> {
        let mut request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        Key::of(principal, &mut request)
    }

    #[test]
    fn the_same_subscription_is_one_per_audience_and_a_resumed_one_runs_alone() {
        const Q: &str = "subscription($after: String) { caseMilestones(after: $after) { cursor } }";
        let partner = |subject: &str, id: &str| Principal::Partner {
            subject: subject.into(),
            partner: PartnerId::from_upstream(id.into()),
        };
        let agent = Principal::Agent {
            subject: "ops".into(),
        };
        let none = serde_json::json!({});
        let alice = key_of(&partner("alice", "TP-1"), Q, none.clone()).expect("shared");
        let bob = key_of(&partner("bob", "TP-1"), Q, none.clone()).expect("shared");
        assert_eq!(alice, bob, "people of one partner share");
        assert_ne!(
            alice,
            key_of(&partner("carol", "TP-2"), Q, none.clone()).unwrap()
        );
        assert_ne!(alice, key_of(&agent, Q, none.clone()).unwrap());
        assert_ne!(
            alice,
            key_of(
                &partner("alice", "TP-1"),
                Q,
                serde_json::json!({ "after": null })
            )
            .unwrap(),
            "other variables, another subscription"
        );

        let in_order = |json: &str| {
            let mut request = async_graphql::Request::new(Q)
                .variables(serde_json::from_str(json).expect("variables"));
            Key::of(&agent, &mut request).expect("shared")
        };
        assert_eq!(
            in_order(r#"{"partnerId":"TP-1","filter":{"a":1,"b":2}}"#),
            in_order(r#"{"filter":{"b":2,"a":1},"partnerId":"TP-1"}"#),
            "the same variables in another order"
        );

        let mut from_last_event_id =
            async_graphql::Request::new(Q).data(super::super::ResumeAfter("17".into()));
        assert!(Key::of(&agent, &mut from_last_event_id).is_none());

        let resumed = serde_json::json!({ "after": "17" });
        assert!(key_of(&agent, Q, resumed).is_none());
        let literal = r#"subscription { caseMilestones(after: "17") { cursor } }"#;
        assert!(key_of(&agent, literal, none.clone()).is_none());
        let spread =
            "subscription { ...F } fragment F on Subscription { caseMilestones { cursor } }";
        assert!(key_of(&agent, spread, none).is_none());
    }
}
