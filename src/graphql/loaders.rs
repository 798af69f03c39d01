//! Per-request loaders: every by-id (and by-parent) lookup in a request is
//! collected while keys keep arriving, deduplicated, and sent as one batch call per
//! resource and platform. One loader per platform, one batcher per key type.

use std::collections::HashMap;
use std::sync::Arc;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::domain::*;
use crate::upstream::{core_case, trading_grid, CoreCase, TradingGrid, UpstreamError};

pub(crate) type LoadError = Arc<UpstreamError>;

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

/// How long a batch stays open after the last key joined it. List items are
/// resolved in slices (the executor yields every 32 items), so keys of one level
/// of a query arrive over several executor turns; a window counted from the
/// *first* key closes too early when a slice takes longer than the window (slow
/// machines, debug builds). Counting from the *last* key keeps one batch per
/// level while keys are still coming.
const QUIET: Duration = Duration::from_millis(2);
/// Longest a batch waits for more keys, however steadily they arrive.
const MAX_WAIT: Duration = Duration::from_millis(25);

type BatchResult<K, V> = Result<Arc<HashMap<K, V>>, LoadError>;
type Batch<K, V> = Shared<BoxFuture<'static, BatchResult<K, V>>>;
type FetchFn<K, V> =
    Arc<dyn Fn(Vec<K>) -> BoxFuture<'static, Result<HashMap<K, V>, LoadError>> + Send + Sync>;

/// Per-request batching for one key type: collects keys while they keep
/// arriving, sends one upstream call per batch, and remembers every key's batch
/// for the rest of the request, so a key asked again (or while its batch is in
/// flight) never costs another call.
pub(crate) struct Batcher<K, V> {
    inner: Arc<BatcherInner<K, V>>,
}

struct BatcherInner<K, V> {
    platform: Platform,
    fetch: FetchFn<K, V>,
    max_batch: usize,
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
    send: tokio::sync::oneshot::Sender<Vec<K>>,
    first: Instant,
    last: Instant,
}

impl<K, V> Batcher<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn new(platform: Platform, max_batch: usize, fetch: FetchFn<K, V>) -> Self {
        Self {
            inner: Arc::new(BatcherInner {
                platform,
                fetch,
                max_batch,
                state: Mutex::new(BatchState {
                    known: HashMap::new(),
                    open: None,
                    next_id: 0,
                }),
            }),
        }
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
            let inner = &self.inner;
            let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
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
        let now = Instant::now();
        if let Some(open) = st.open.as_mut() {
            open.keys.push(key);
            open.last = now;
            let batch = open.batch.clone();
            if open.keys.len() >= self.inner.max_batch {
                close(st);
            }
            return batch;
        }
        let (send, receive) = tokio::sync::oneshot::channel::<Vec<K>>();
        let fetch = self.inner.fetch.clone();
        let platform = self.inner.platform;
        // Lazy: runs in whichever caller awaits it first, once the keys are sent.
        let batch: Batch<K, V> = async move {
            let keys = receive.await.map_err(|_| {
                Arc::new(UpstreamError::Decode {
                    platform,
                    operation: "batch",
                    detail: "the batch was dropped before it was sent".into(),
                })
            })?;
            fetch(keys).await.map(Arc::new)
        }
        .boxed()
        .shared();
        st.next_id += 1;
        let id = st.next_id;
        st.open = Some(OpenBatch {
            id,
            keys: vec![key],
            batch: batch.clone(),
            send,
            first: now,
            last: now,
        });
        if self.inner.max_batch <= 1 {
            close(st);
            return batch;
        }
        // Send the batch once no key has joined it for `QUIET`.
        let inner = self.inner.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(QUIET).await;
                let mut st = inner.state.lock().unwrap_or_else(|e| e.into_inner());
                let Some(open) = st.open.as_ref().filter(|o| o.id == id) else {
                    return; // already sent because it was full
                };
                if open.last.elapsed() >= QUIET || open.first.elapsed() >= MAX_WAIT {
                    close(&mut st);
                    return;
                }
            }
        });
        batch
    }
}

fn close<K, V>(st: &mut BatchState<K, V>) {
    if let Some(open) = st.open.take() {
        let _ = open.send.send(open.keys);
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

macro_rules! loaders {
    ($loader:ident($conn:ty, $platform:expr, $max:expr) {
        $($field:ident: $key:ty => $value:ty = |$client:ident, $keys:ident| $body:expr;)*
    }) => {
        pub(crate) struct $loader {
            $($field: Batcher<$key, $value>,)*
        }

        impl $loader {
            fn new(client: Arc<$conn>) -> Self {
                Self {
                    $($field: Batcher::new($platform, $max, {
                        let client = client.clone();
                        Arc::new(move |keys: Vec<$key>| {
                            let $client = client.clone();
                            async move {
                                let $keys = &keys[..];
                                $body.map_err(Arc::new)
                            }
                            .boxed()
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
    partners: PartnerId => Partner = |tg, keys| tg
        .partners(keys)
        .await
        .map(|v| by_key(v, |p| p.id.clone()));
    issues: IssueId => Issue = |tg, keys| tg
        .issues(keys)
        .await
        .map(|v| by_key(v, |i| i.id.clone()));
    documents: TgDocumentId => Document = |tg, keys| tg
        .documents(keys)
        .await
        .map(|v| v
            .into_iter()
            .filter_map(|d| match &d.id {
                DocumentId::TradingGrid(id) => Some((id.clone(), d)),
                DocumentId::CoreCase(_) => None,
            })
            .collect());
    transactions: TransactionId => Transaction = |tg, keys| tg
        .transactions(keys)
        .await
        .map(|v| by_key(v, |t| t.id.clone()));
    docs_of_issue: DocsOfIssue => Vec<Document> = |tg, keys| {
        let ids: Vec<IssueId> = keys.iter().map(|k| k.0.clone()).collect();
        tg.documents_of(&ids)
            .await
            .map(|v| grouped(keys, v, |d| d.issue_id.iter().cloned().collect(), DocsOfIssue))
    };
    messages_of_issue: MessagesOfIssue => Vec<Message> = |tg, keys| {
        let ids: Vec<IssueId> = keys.iter().map(|k| k.0.clone()).collect();
        tg.messages_of(&ids)
            .await
            .map(|v| grouped(keys, v, |m| vec![m.issue_id.clone()], MessagesOfIssue))
    };
    issues_of_transaction: IssuesOfTransaction => Vec<Issue> = |tg, keys| {
        let ids: Vec<TransactionId> = keys.iter().map(|k| k.0.clone()).collect();
        tg.issues_by_transactions(&ids)
            .await
            .map(|v| grouped(keys, v, |i| i.transaction_ids.clone(), IssuesOfTransaction))
    };
});

loaders!(CcLoader(dyn CoreCase, Platform::CoreCase, core_case::MAX_IDS) {
    cases: CaseId => Case = |cc, keys| cc
        .cases(keys)
        .await
        .map(|v| by_key(v, |c| c.id.clone()));
    evidence: EvidenceId => Evidence = |cc, keys| cc
        .evidence(keys)
        .await
        .map(|v| by_key(v, |e| e.id.clone()));
    evidence_of_case: EvidenceOfCase => Vec<Evidence> = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.evidence_of(&ids)
            .await
            .map(|v| grouped(keys, v, |e| vec![e.case_id.clone()], EvidenceOfCase))
    };
    evidence_of_document: EvidenceOfDocument => Vec<Evidence> = |cc, keys| {
        let ids: Vec<TgDocumentId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.evidence_by_source(&ids)
            .await
            .map(|v| grouped(keys, v, |e| e.source.iter().cloned().collect(), EvidenceOfDocument))
    };
    tasks_of_case: TasksOfCase => Vec<Task> = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.tasks_of(&ids)
            .await
            .map(|v| grouped(keys, v, |t| vec![t.case_id.clone()], TasksOfCase))
    };
    notes_of_case: NotesOfCase => Vec<Note> = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.notes_of(&ids)
            .await
            .map(|v| grouped(keys, v, |n| vec![n.case_id.clone()], NotesOfCase))
    };
    history_of_case: HistoryOfCase => Vec<HistoryEntry> = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.history_of(&ids)
            .await
            .map(|v| grouped(keys, v, |h| vec![h.case_id.clone()], HistoryOfCase))
    };
    resolution_of_case: ResolutionOfCase => Resolution = |cc, keys| {
        let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.resolutions_of(&ids)
            .await
            .map(|v| by_key(v, |r| ResolutionOfCase(r.case_id.clone())))
    };
    cases_of_transaction: CasesOfTransaction => Vec<Case> = |cc, keys| {
        let ids: Vec<TransactionId> = keys.iter().map(|k| k.0.clone()).collect();
        cc.cases_by_transactions(&ids)
            .await
            .map(|v| grouped(keys, v, |c| c.transaction_ids.clone(), CasesOfTransaction))
    };
});

/// The loaders of one request. Built fresh per request so nothing one caller
/// loaded is ever served to another.
pub(crate) struct Loaders {
    pub tg: TgLoader,
    pub cc: CcLoader,
}

impl Loaders {
    pub fn new(tg: Arc<dyn TradingGrid>, cc: Arc<dyn CoreCase>) -> Self {
        Self {
            tg: TgLoader::new(tg),
            cc: CcLoader::new(cc),
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
            Batcher::new(Platform::TradingGrid, max, fetch),
            calls,
            keys_fetched,
        )
    }

    #[tokio::test]
    async fn keys_arriving_over_several_turns_go_out_in_one_call() {
        let (_open, gate) = tokio::sync::watch::channel(true);
        let (b, calls, _) = counting(100, gate);
        let b = Arc::new(b);
        let mut tasks = Vec::new();
        for k in 0..50u32 {
            let b = b.clone();
            tasks.push(tokio::spawn(async move { b.load_one(k).await }));
            // A slow executor: between turns it works (blocking this thread) for
            // less than the quiet window, but the whole run takes several windows.
            if k % 10 == 9 {
                std::thread::sleep(Duration::from_micros(1500));
                tokio::task::yield_now().await;
            }
        }
        for (k, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), Some(k as u32 * 10));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
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
