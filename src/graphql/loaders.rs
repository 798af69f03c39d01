//! Per-request loaders: every by-id (and by-parent) lookup in a request is
//! collected while keys keep arriving, deduplicated, and sent as one batch call per
//! resource and platform. One loader per platform, one batcher per key type.

use std::collections::HashMap;
use std::sync::Arc;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::task::AtomicWaker;

use crate::cache::EntityCache;
use crate::domain::*;
use crate::upstream::{core_case, trading_grid, CoreCase, TradingGrid, UpstreamError};

pub(crate) type LoadError = super::errors::FetchError;

/// Documents shared in an issue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DocsOfIssue(pub IssueId);
/// Messages of an issue.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MessagesOfIssue(pub IssueId);
/// Issues referencing a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct IssuesOfTransaction(pub TransactionId);
/// Evidence attached to a case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EvidenceOfCase(pub CaseId);
/// Evidence entries linking a community document.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct EvidenceOfDocument(pub TgDocumentId);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TasksOfCase(pub CaseId);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct NotesOfCase(pub CaseId);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct HistoryOfCase(pub CaseId);
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ResolutionOfCase(pub CaseId);
/// Cases covering a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CasesOfTransaction(pub TransactionId);

/// Fallback only, for loads outside a driven execution (see [`Dispatch`]): how
/// long a batch stays open after the last key joined it.
const QUIET: Duration = Duration::from_millis(2);
/// Fallback only: longest a batch waits for more keys, however steadily they arrive.
const MAX_WAIT: Duration = Duration::from_millis(25);

type BatchResult<K, V> = Result<Arc<HashMap<K, V>>, LoadError>;
type Batch<K, V> = Shared<BoxFuture<'static, BatchResult<K, V>>>;
type FetchFn<K, V> =
    Arc<dyn Fn(Vec<K>) -> BoxFuture<'static, Result<HashMap<K, V>, LoadError>> + Send + Sync>;

/// When the batches of one request go out.
///
/// A GraphQL execution is one future: every resolver of the request is polled
/// inside it. [`Dispatch::drive`] wraps it and sends the open batches only when the
/// whole execution is stuck — polled to `Pending` without waking itself — *and* no
/// upstream call of the request is in flight (no batch, no tracked list call).
/// At that point every key the data can produce without another upstream answer
/// has been asked for, so each wave of the query is one call per resource,
/// whatever the machine's load: the number of calls depends on the data alone.
/// Batches opened outside a driven execution fall back to a quiet-time window.
pub(crate) struct Dispatch {
    /// Set while an execution is driven; then no timer ever sends a batch.
    driving: AtomicBool,
    /// Two executions shared these loaders at once (several subscriptions on one
    /// connection): the timer sends batches again, as the driver cannot see both.
    shared: AtomicBool,
    /// Upstream calls of this request under way.
    in_flight: AtomicUsize,
    /// Set by any wake-up of the driven execution.
    woken: AtomicBool,
    /// The task driving the execution.
    driver: AtomicWaker,
    /// Every batcher of the request, to send their open batches. Weak: batchers
    /// hold this dispatch, so strong references both ways would keep every
    /// request's loaded records alive forever.
    senders: Mutex<Vec<std::sync::Weak<dyn SendOpen>>>,
}

impl std::task::Wake for Dispatch {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref()
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.driver.wake();
    }
}

trait SendOpen: Send + Sync {
    /// Send the open batch, if any; true when one was sent.
    fn send_open(&self) -> bool;
}

/// Counts an upstream call as in flight until dropped, then wakes the driver.
struct InFlight(Arc<Dispatch>);

impl InFlight {
    fn start(d: &Arc<Dispatch>) -> Self {
        d.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(d.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        std::task::Wake::wake_by_ref(&self.0);
    }
}

impl Dispatch {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            driving: AtomicBool::new(false),
            shared: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            woken: AtomicBool::new(false),
            driver: AtomicWaker::new(),
            senders: Mutex::new(Vec::new()),
        })
    }

    fn register(&self, s: Arc<dyn SendOpen>) {
        self.senders
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::downgrade(&s));
    }

    fn is_driven(&self) -> bool {
        self.driving.load(Ordering::SeqCst) && !self.shared.load(Ordering::SeqCst)
    }

    /// Run `fut` (a GraphQL execution), sending batches whenever it can make no
    /// progress without them.
    pub async fn drive<F: Future>(self: &Arc<Self>, fut: F) -> F::Output {
        if self
            .driving
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            self.shared.store(true, Ordering::SeqCst);
            return fut.await;
        }
        struct Driving<'a>(&'a Dispatch);
        impl Drop for Driving<'_> {
            fn drop(&mut self) {
                self.0.driving.store(false, Ordering::SeqCst);
            }
        }
        let _driving = Driving(self);
        // Out of tokio's cooperative budget: an exhausted budget makes tokio's
        // primitives return `Pending` with a wake-up *deferred* past this poll,
        // which would look like a stuck execution. (async-graphql's own yields
        // wake at once, so they are seen.)
        let mut fut = std::pin::pin!(tokio::task::unconstrained(fut));
        let waker = std::task::Waker::from(self.clone());
        std::future::poll_fn(|cx| {
            self.driver.register(cx.waker());
            self.woken.store(false, Ordering::SeqCst);
            let mut inner = std::task::Context::from_waker(&waker);
            if let Poll::Ready(out) = fut.as_mut().poll(&mut inner) {
                return Poll::Ready(out);
            }
            // In-flight first: a call finishing sets `woken` before it stops
            // counting, so seeing none in flight and no wake-up means every
            // answer so far has been handled.
            if self.in_flight.load(Ordering::SeqCst) > 0 || self.woken.load(Ordering::SeqCst) {
                return Poll::Pending;
            }
            let senders: Vec<Arc<dyn SendOpen>> = self
                .senders
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .filter_map(std::sync::Weak::upgrade)
                .collect();
            for s in senders {
                s.send_open();
            }
            // Sent batches wake the execution when they answer.
            Poll::Pending
        })
        .await
    }

    /// Count a non-batched upstream call (a list page) as in flight, so no batch
    /// goes out while its answer could still add keys.
    pub async fn track<T>(self: &Arc<Self>, call: impl Future<Output = T>) -> T {
        let _in_flight = InFlight::start(self);
        call.await
    }
}

/// Per-request batching for one key type: collects keys until the request's
/// [`Dispatch`] sends them, makes one upstream call per batch, and remembers every
/// key's batch for the rest of the request, so a key asked again (or while its
/// batch is in flight) never costs another call.
pub(crate) struct Batcher<K, V> {
    inner: Arc<BatcherInner<K, V>>,
}

struct BatcherInner<K, V> {
    platform: Platform,
    fetch: FetchFn<K, V>,
    max_batch: usize,
    dispatch: Arc<Dispatch>,
    // A std mutex: held for a few map operations, never across an await.
    state: Mutex<BatchState<K, V>>,
}

struct BatchState<K, V> {
    known: HashMap<K, Batch<K, V>>,
    open: Option<OpenBatch<K, V>>,
    next_id: u64,
}

struct OpenBatch<K, V> {
    id: u64,
    keys: Vec<K>,
    batch: Batch<K, V>,
    answer: tokio::sync::oneshot::Sender<Result<HashMap<K, V>, LoadError>>,
    first: Instant,
    last: Instant,
}

impl<K, V> SendOpen for BatcherInner<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn send_open(&self) -> bool {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        self.close(&mut st)
    }
}

impl<K, V> BatcherInner<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// Send the open batch: its call runs as a task of its own, so it finishes
    /// (and stops counting as in flight) even if every caller waiting on it is
    /// dropped.
    fn close(&self, st: &mut BatchState<K, V>) -> bool {
        let Some(open) = st.open.take() else {
            return false;
        };
        let in_flight = InFlight::start(&self.dispatch);
        let call = (self.fetch)(open.keys);
        // The call runs in a task of its own but belongs to the request's trace.
        let span = tracing::Span::current();
        tokio::spawn(tracing::Instrument::instrument(
            async move {
                let answer = call.await;
                // Answer before `in_flight` drops: see `Dispatch::drive`.
                let _ = open.answer.send(answer);
                drop(in_flight);
            },
            span,
        ));
        true
    }
}

impl<K, V> Batcher<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(
        platform: Platform,
        max_batch: usize,
        dispatch: &Arc<Dispatch>,
        fetch: FetchFn<K, V>,
    ) -> Self {
        let inner = Arc::new(BatcherInner {
            platform,
            fetch,
            max_batch,
            dispatch: dispatch.clone(),
            state: Mutex::new(BatchState {
                known: HashMap::new(),
                open: None,
                next_id: 0,
            }),
        });
        dispatch.register(inner.clone());
        Self { inner }
    }

    pub async fn load_one(&self, key: K) -> Result<Option<V>, LoadError> {
        Ok(self.load_many([key.clone()]).await?.remove(&key))
    }

    pub async fn load_many(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<HashMap<K, V>, LoadError> {
        let keys: Vec<K> = keys.into_iter().collect();
        let mut batches: Vec<Batch<K, V>> = Vec::new();
        {
            let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
            for k in &keys {
                let batch = match st.known.get(k) {
                    Some(b) => b.clone(),
                    None => {
                        let b = self.join_open(&mut st, k.clone());
                        st.known.insert(k.clone(), b.clone());
                        b
                    }
                };
                if !batches.iter().any(|x| x.ptr_eq(&batch)) {
                    batches.push(batch);
                }
            }
        }
        let mut out = HashMap::with_capacity(keys.len());
        for batch in batches {
            let found = batch.await?;
            for k in &keys {
                if let Some(v) = found.get(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(out)
    }

    /// Records already at hand (e.g. from a list call): later loads of these keys
    /// need no upstream call.
    pub async fn feed_many(&self, values: impl IntoIterator<Item = (K, V)>) {
        let values: HashMap<K, V> = values.into_iter().collect();
        let ready: Batch<K, V> = futures::future::ready(Ok(Arc::new(values.clone())))
            .boxed()
            .shared();
        let mut st = self.inner.state.lock().unwrap_or_else(|e| e.into_inner());
        for k in values.into_keys() {
            st.known.entry(k).or_insert_with(|| ready.clone());
        }
    }

    /// Add a key to the open batch (opening one if needed); returns that batch.
    fn join_open(&self, st: &mut BatchState<K, V>, key: K) -> Batch<K, V> {
        let inner = &self.inner;
        let now = Instant::now();
        if let Some(open) = st.open.as_mut() {
            open.keys.push(key);
            open.last = now;
            let batch = open.batch.clone();
            if open.keys.len() >= inner.max_batch {
                inner.close(st);
            }
            return batch;
        }
        let (answer, receive) = tokio::sync::oneshot::channel::<Result<HashMap<K, V>, LoadError>>();
        let platform = inner.platform;
        let batch: Batch<K, V> = async move {
            match receive.await {
                Ok(answer) => answer.map(Arc::new),
                Err(_) => Err(LoadError::from(UpstreamError::Decode {
                    platform,
                    operation: "batch",
                    detail: "the batch was dropped before it was answered".into(),
                })),
            }
        }
        .boxed()
        .shared();
        st.next_id += 1;
        let id = st.next_id;
        st.open = Some(OpenBatch {
            id,
            keys: vec![key],
            batch: batch.clone(),
            answer,
            first: now,
            last: now,
        });
        if inner.max_batch <= 1 {
            inner.close(st);
            return batch;
        }
        if inner.dispatch.is_driven() {
            return batch;
        }
        // Not driven: send the batch once no key has joined it for `QUIET`.
        let inner = inner.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(QUIET).await;
                let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                let Some(open) = st.open.as_ref().filter(|o| o.id == id) else {
                    return; // already sent
                };
                if open.last.elapsed() >= QUIET || open.first.elapsed() >= MAX_WAIT {
                    inner.close(&mut st);
                    return;
                }
            }
        });
        batch
    }
}

/// Index records by id, keeping only the requested keys.
fn by_key<K, V>(items: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, V>
where
    K: std::hash::Hash + Eq,
{
    items.into_iter().map(|v| (key(&v), v)).collect()
}

/// Group records under their parent key; every requested key gets an entry (maybe
/// empty) so the per-request cache remembers "none" too.
fn grouped<K, P, V>(
    keys: &[K],
    items: Vec<V>,
    parent: impl Fn(&V) -> Vec<P>,
    wrap: impl Fn(P) -> K,
) -> HashMap<K, Vec<V>>
where
    K: std::hash::Hash + Eq + Clone,
    V: Clone,
{
    let mut map: HashMap<K, Vec<V>> = keys.iter().map(|k| (k.clone(), Vec::new())).collect();
    for item in items {
        for p in parent(&item) {
            if let Some(list) = map.get_mut(&wrap(p)) {
                list.push(item.clone());
            }
        }
    }
    map
}

/// A platform's batchers, one per key type; `load_one`/`load_many`/`feed_many`
/// pick the batcher by key type.
pub(crate) trait Keyed<K> {
    type Value;
    fn batcher(&self) -> &Batcher<K, Self::Value>;
}

/// How a loader key names its cache entry (the id part of the key).
pub(crate) trait CacheId {
    fn cache_id(&self) -> String;
}

macro_rules! cache_ids {
    (ids: $($id:ty),*; relations: $($rel:ident),*) => {
        $(impl CacheId for $id {
            fn cache_id(&self) -> String {
                self.to_string()
            }
        })*
        $(impl CacheId for $rel {
            fn cache_id(&self) -> String {
                self.0.to_string()
            }
        })*
    };
}

cache_ids!(
    ids: PartnerId, IssueId, TgDocumentId, TransactionId, CaseId, EvidenceId;
    relations: DocsOfIssue, MessagesOfIssue, IssuesOfTransaction, EvidenceOfCase,
        EvidenceOfDocument, TasksOfCase, NotesOfCase, HistoryOfCase, ResolutionOfCase,
        CasesOfTransaction
);

/// A batch call that first looks in the entity cache (when it is on) and asks
/// the platform only for the misses.
fn cached<K, V, Fut>(
    cache: &Arc<EntityCache>,
    platform: Platform,
    kind: &'static str,
    class: &'static str,
    fetch: impl Fn(Vec<K>) -> Fut + Send + Sync + 'static,
) -> FetchFn<K, V>
where
    K: CacheId + std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: serde::Serialize + serde::de::DeserializeOwned + Send + 'static,
    Fut: Future<Output = Result<HashMap<K, V>, LoadError>> + Send + 'static,
{
    let cache = cache.clone();
    let fetch = Arc::new(fetch);
    Arc::new(move |keys: Vec<K>| {
        let (cache, fetch) = (cache.clone(), fetch.clone());
        async move {
            if !cache.is_on() {
                return fetch(keys).await;
            }
            let by_id: HashMap<String, K> = keys.into_iter().map(|k| (k.cache_id(), k)).collect();
            let ids: Vec<String> = by_id.keys().cloned().collect();
            let wanted = by_id.clone();
            let found = cache
                .load(platform, kind, class, ids, move |ids| {
                    let keys: Vec<K> = ids.iter().filter_map(|i| wanted.get(i).cloned()).collect();
                    let call = fetch(keys);
                    async move {
                        call.await
                            .map(|m| {
                                m.into_iter()
                                    .map(|(k, v)| (k.cache_id(), v))
                                    .collect::<HashMap<_, _>>()
                            })
                            .map_err(LoadError::into_shared)
                    }
                })
                .await
                .map_err(LoadError::from)?;
            Ok(found
                .into_iter()
                .filter_map(|(id, v)| by_id.get(&id).map(|k| (k.clone(), v)))
                .collect())
        }
        .boxed()
    })
}

macro_rules! loaders {
    ($loader:ident($conn:ty, $platform:expr, $max:expr) {
        $($field:ident: $key:ty => $value:ty as $kind:literal, $class:literal = |$client:ident, $keys:ident| $body:expr;)*
    }) => {
        pub(crate) struct $loader {
            $($field: Batcher<$key, $value>,)*
        }

        impl $loader {
            fn new(client: Arc<$conn>, dispatch: &Arc<Dispatch>, cache: &Arc<EntityCache>) -> Self {
                Self {
                    $($field: Batcher::new($platform, $max, dispatch, {
                        let client = client.clone();
                        cached(cache, $platform, $kind, $class, move |keys: Vec<$key>| {
                            let $client = client.clone();
                            async move {
                                let $keys = &keys[..];
                                $body.map_err(LoadError::from)
                            }
                        })
                    }),)*
                }
            }

            pub async fn load_one<K>(&self, key: K) -> Result<Option<<Self as Keyed<K>>::Value>, LoadError>
            where
                Self: Keyed<K>,
                K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
                <Self as Keyed<K>>::Value: Clone + Send + Sync + 'static,
            {
                self.batcher().load_one(key).await
            }

            pub async fn load_many<K>(
                &self,
                keys: impl IntoIterator<Item = K>,
            ) -> Result<HashMap<K, <Self as Keyed<K>>::Value>, LoadError>
            where
                Self: Keyed<K>,
                K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
                <Self as Keyed<K>>::Value: Clone + Send + Sync + 'static,
            {
                self.batcher().load_many(keys).await
            }

            #[allow(dead_code)] // not every platform has records to prime with
            pub async fn feed_many<K>(&self, values: impl IntoIterator<Item = (K, <Self as Keyed<K>>::Value)>)
            where
                Self: Keyed<K>,
                K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
                <Self as Keyed<K>>::Value: Clone + Send + Sync + 'static,
            {
                self.batcher().feed_many(values).await
            }
        }

        $(
            impl Keyed<$key> for $loader {
                type Value = $value;
                fn batcher(&self) -> &Batcher<$key, $value> {
                    &self.$field
                }
            }
        )*
    };
}

loaders!(TgLoader(dyn TradingGrid, Platform::TradingGrid, trading_grid::MAX_IDS) {
    partners: PartnerId => Partner as "partner", "record" = |tg, keys| tg
        .partners(keys)
        .await
        .map(|v| by_key(v, |p| p.id.clone()));
    issues: IssueId => Issue as "issue", "record" = |tg, keys| tg
        .issues(keys)
        .await
        .map(|v| by_key(v, |i| i.id.clone()));
    documents: TgDocumentId => Document as "document", "record" = |tg, keys| tg
        .documents(keys)
        .await
        .map(|v| v
            .into_iter()
            .filter_map(|d| match &d.id {
                DocumentId::TradingGrid(id) => Some((id.clone(), d)),
                DocumentId::CoreCase(_) => None,
            })
            .collect());
    transactions: TransactionId => Transaction as "transaction", "record" = |tg, keys| tg
        .transactions(keys)
        .await
        .map(|v| by_key(v, |t| t.id.clone()));
    docs_of_issue: DocsOfIssue => Vec<Document> as "issue-documents", "relation" = |tg, keys| {
        let ids: Vec<IssueId> = keys.iter().map(|k| k.0.clone()).collect();
        tg.documents_of(&ids)
            .await
            .map(|v| grouped(keys, v, |d| d.issue_id.iter().cloned().collect(), DocsOfIssue))
    };
    messages_of_issue: MessagesOfIssue => Vec<Message> as "issue-messages", "relation" = |tg, keys| {
        let ids: Vec<IssueId> = keys.iter().map(|k| k.0.clone()).collect();
        tg.messages_of(&ids)
            .await
            .map(|v| grouped(keys, v, |m| vec![m.issue_id.clone()], MessagesOfIssue))
    };
    issues_of_transaction: IssuesOfTransaction => Vec<Issue> as "transaction-issues", "relation" = |tg, keys| {
        let ids: Vec<TransactionId> = keys.iter().map(|k| k.0.clone()).collect();
        tg.issues_by_transactions(&ids)
            .await
            .map(|v| grouped(keys, v, |i| i.transaction_ids.clone(), IssuesOfTransaction))
    };
});

loaders!(CcLoader(dyn CoreCase, Platform::CoreCase, core_case::MAX_IDS) {
    cases: CaseId => Case as "case", "record" = |cc, keys| cc
        .cases(keys)
        .await
        .map(|v| by_key(v, |c| c.id.clone()));
    evidence: EvidenceId => Evidence as "evidence", "record" = |cc, keys| cc
        .evidence(keys)
        .await
        .map(|v| by_key(v, |e| e.id.clone()));
    evidence_of_case: EvidenceOfCase => Vec<Evidence> as "case-evidence", "relation" = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.evidence_of(&ids)
            .await
            .map(|v| grouped(keys, v, |e| vec![e.case_id.clone()], EvidenceOfCase))
    };
    evidence_of_document: EvidenceOfDocument => Vec<Evidence> as "document-evidence", "relation" = |cc, keys| {
        let ids: Vec<TgDocumentId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.evidence_by_source(&ids)
            .await
            .map(|v| grouped(keys, v, |e| e.source.iter().cloned().collect(), EvidenceOfDocument))
    };
    tasks_of_case: TasksOfCase => Vec<Task> as "case-tasks", "relation" = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.tasks_of(&ids)
            .await
            .map(|v| grouped(keys, v, |t| vec![t.case_id.clone()], TasksOfCase))
    };
    notes_of_case: NotesOfCase => Vec<Note> as "case-notes", "relation" = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.notes_of(&ids)
            .await
            .map(|v| grouped(keys, v, |n| vec![n.case_id.clone()], NotesOfCase))
    };
    history_of_case: HistoryOfCase => Vec<HistoryEntry> as "case-history", "relation" = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.history_of(&ids)
            .await
            .map(|v| grouped(keys, v, |h| vec![h.case_id.clone()], HistoryOfCase))
    };
    resolution_of_case: ResolutionOfCase => Resolution as "case-resolution", "relation" = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.resolutions_of(&ids)
            .await
            .map(|v| by_key(v, |r| ResolutionOfCase(r.case_id.clone())))
    };
    cases_of_transaction: CasesOfTransaction => Vec<Case> as "transaction-cases", "relation" = |cc, keys| {
        let ids: Vec<TransactionId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.cases_by_transactions(&ids)
            .await
            .map(|v| grouped(keys, v, |c| c.transaction_ids.clone(), CasesOfTransaction))
    };
});

/// Drives every execution (query, mutation, subscription event) with its
/// request's [`Dispatch`], so batches go out per wave instead of per time window.
pub(crate) struct PlannedBatching;

impl async_graphql::extensions::ExtensionFactory for PlannedBatching {
    fn create(&self) -> Arc<dyn async_graphql::extensions::Extension> {
        Arc::new(PlannedBatching)
    }
}

#[async_trait::async_trait]
impl async_graphql::extensions::Extension for PlannedBatching {
    async fn execute(
        &self,
        ctx: &async_graphql::extensions::ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        match ctx.data_opt::<super::RequestScope>() {
            Some(scope) => {
                let dispatch = scope.loaders.dispatch.clone();
                dispatch.drive(next.run(ctx, operation_name)).await
            }
            None => next.run(ctx, operation_name).await,
        }
    }
}

/// The loaders of one request. Built fresh per request so nothing one caller
/// loaded is ever served to another.
pub(crate) struct Loaders {
    pub tg: TgLoader,
    pub cc: CcLoader,
    pub dispatch: Arc<Dispatch>,
}

impl Loaders {
    pub fn new(tg: Arc<dyn TradingGrid>, cc: Arc<dyn CoreCase>, cache: &Arc<EntityCache>) -> Self {
        let dispatch = Dispatch::new();
        Self {
            tg: TgLoader::new(tg, &dispatch, cache),
            cc: CcLoader::new(cc, &dispatch, cache),
            dispatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A batcher over `k -> k * 10` that counts calls and keys, and waits for
    /// `gate` before answering.
    fn counting(
        max: usize,
        gate: tokio::sync::watch::Receiver<bool>,
    ) -> (Batcher<u32, u32>, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let keys_fetched = Arc::new(AtomicUsize::new(0));
        let (c, k) = (calls.clone(), keys_fetched.clone());
        let fetch: FetchFn<u32, u32> = Arc::new(move |keys: Vec<u32>| {
            let (c, k, mut gate) = (c.clone(), k.clone(), gate.clone());
            async move {
                c.fetch_add(1, Ordering::SeqCst);
                k.fetch_add(keys.len(), Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                Ok(keys.into_iter().map(|k| (k, k * 10)).collect())
            }
            .boxed()
        });
        (
            Batcher::new(Platform::TradingGrid, max, &Dispatch::new(), fetch),
            calls,
            keys_fetched,
        )
    }

    /// Give way once, waking at once (as async-graphql's list resolution does).
    async fn yield_now() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                return Poll::Ready(());
            }
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }

    #[tokio::test]
    async fn a_driven_wave_goes_out_in_one_call_however_slow_the_turns() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        let dispatch = b.inner.dispatch.clone();
        let out = dispatch
            .drive(futures::future::join_all((0..50u32).map(|k| {
                let b = &b;
                async move {
                    // A busy executor: keys arrive over many turns, far apart.
                    for _ in 0..k % 7 {
                        yield_now().await;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    b.load_one(k).await
                }
            })))
            .await;
        for (k, v) in out.into_iter().enumerate() {
            assert_eq!(v.unwrap(), Some(k as u32 * 10));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_batch_goes_out_while_a_tracked_call_can_still_add_keys() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, keys) = counting(100, gate);
        let dispatch = b.inner.dispatch.clone();
        let (list_done, list_wait) = tokio::sync::oneshot::channel::<Vec<u32>>();
        let out = dispatch
            .drive(async {
                // One branch asks for keys at once; another only once its list
                // page (answered from outside, later) is in.
                let early = async { b.load_many([1, 2]).await };
                let late = async {
                    let ids = dispatch.track(list_wait).await.unwrap_or_default();
                    b.load_many(ids).await
                };
                let answer = async {
                    for _ in 0..20 {
                        yield_now().await;
                    }
                    let _ = list_done.send(vec![2, 3, 4]);
                };
                let (e, l, ()) = futures::join!(early, late, answer);
                (e.unwrap().len(), l.unwrap().len())
            })
            .await;
        assert_eq!(out, (2, 3));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(keys.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn each_wave_of_a_driven_execution_is_one_call() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        let dispatch = b.inner.dispatch.clone();
        let total = dispatch
            .drive(futures::future::join_all((0..10u32).map(|k| {
                let b = &b;
                async move {
                    let first = b.load_one(k).await.unwrap().unwrap_or_default();
                    // The second wave's keys depend on the first wave's answers.
                    b.load_one(first + 1).await.unwrap().unwrap_or_default()
                }
            })))
            .await;
        assert_eq!(total.len(), 10);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_key_asked_for_while_its_batch_is_in_flight_is_not_fetched_again() {
        let (release, gate) = tokio::sync::watch::channel(false);
        let (b, calls, keys) = counting(100, gate);
        let b = Arc::new(b);
        let first = {
            let b = b.clone();
            tokio::spawn(async move { b.load_many([1, 2]).await })
        };
        // Let the batch go out and wait at the gate.
        tokio::time::sleep(QUIET * 3).await;
        let second = {
            let b = b.clone();
            tokio::spawn(async move { b.load_many([2, 3]).await })
        };
        tokio::time::sleep(QUIET * 3).await;
        release.send(true).unwrap();
        assert_eq!(first.await.unwrap().unwrap()[&2], 20);
        let second = second.await.unwrap().unwrap();
        assert_eq!((second[&2], second[&3]), (20, 30));
        // 1 and 2, then only 3.
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        assert_eq!(keys.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_full_batch_goes_out_at_once_and_the_rest_in_the_next() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(3, gate);
        let found = b.load_many(0..7u32).await.unwrap();
        assert_eq!(found.len(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn fed_records_need_no_call() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        b.feed_many([(7, 70), (8, 80)]).await;
        assert_eq!(b.load_many([7, 8]).await.unwrap()[&8], 80);
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }
}
