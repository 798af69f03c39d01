//! Per-request DataLoaders: every by-id (and by-parent) lookup in a request is
//! collected for a tick, deduplicated, and sent as one batch call per resource
//! and platform. One loader per platform, one `Loader` impl per key type.

use std::collections::HashMap;
use std::sync::Arc;

use std::sync::Mutex;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
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

/// Batches of one key type started in this request, by key: a key asked for
/// while its batch is in flight waits on that batch instead of starting another
/// fetch. (A DataLoader dispatches a batch after a short delay; keys that arrive
/// later, e.g. from list items polled in a later tick, would otherwise refetch.)
pub(crate) struct Coalescer<K, V> {
    inflight: Mutex<HashMap<K, Batch<K, V>>>,
}

type Batch<K, V> = Shared<BoxFuture<'static, Result<Arc<HashMap<K, V>>, LoadError>>>;

impl<K, V> Default for Coalescer<K, V> {
    fn default() -> Self {
        Self {
            inflight: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, V> Coalescer<K, V>
where
    K: std::hash::Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    async fn load<F>(
        &self,
        keys: &[K],
        fetch: impl FnOnce(Vec<K>) -> F,
    ) -> Result<HashMap<K, V>, LoadError>
    where
        F: std::future::Future<Output = Result<HashMap<K, V>, LoadError>> + Send + 'static,
    {
        let mut batches: Vec<Batch<K, V>> = Vec::new();
        {
            // Check and register under one lock so two loads never both fetch a key.
            let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            let mut fresh = Vec::new();
            for k in keys {
                match inflight.get(k) {
                    Some(b) => {
                        if !batches.iter().any(|x| x.ptr_eq(b)) {
                            batches.push(b.clone());
                        }
                    }
                    None => fresh.push(k.clone()),
                }
            }
            if !fresh.is_empty() {
                let batch = fetch(fresh.clone())
                    .map(|r| r.map(Arc::new))
                    .boxed()
                    .shared();
                for k in fresh {
                    inflight.insert(k, batch.clone());
                }
                batches.push(batch);
            }
        }
        let mut out = HashMap::with_capacity(keys.len());
        for batch in batches {
            let found = match batch.clone().await {
                Ok(found) => found,
                Err(e) => {
                    // A later load in this request may try again.
                    self.inflight
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .retain(|_, b| !b.ptr_eq(&batch));
                    return Err(e);
                }
            };
            for k in keys {
                if let Some(v) = found.get(k) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        Ok(out)
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

macro_rules! loaders {
    ($loader:ident($conn:ty) {
        $($field:ident: $key:ty => $value:ty = |$client:ident, $keys:ident| $body:expr;)*
    }) => {
        pub(crate) struct $loader {
            client: Arc<$conn>,
            $($field: Coalescer<$key, $value>,)*
        }

        impl $loader {
            fn new(client: Arc<$conn>) -> Self {
                Self {
                    client,
                    $($field: Coalescer::default(),)*
                }
            }
        }

        $(
            impl Loader<$key> for $loader {
                type Value = $value;
                type Error = LoadError;
                async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                    let $client = self.client.clone();
                    self.$field
                        .load(keys, move |$keys: Vec<$key>| async move {
                            let $keys = &$keys[..];
                            $body.map_err(Arc::new)
                        })
                        .await
                }
            }
        )*
    };
}

loaders!(TgLoader(dyn TradingGrid) {
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

loaders!(CcLoader(dyn CoreCase) {
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

/// How long a loader collects keys before it calls the platform. GraphQL lists
/// are resolved in slices (the executor yields every 32 items), so a window of
/// 1 ms sometimes closes before the last items of a 50-item page ask; 3 ms keeps
/// one call per resource and costs that once per level of the query.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(3);

/// The loaders of one request. Built fresh per request so nothing one caller
/// loaded is ever served to another.
pub(crate) struct Loaders {
    pub tg: DataLoader<TgLoader, HashMapCache>,
    pub cc: DataLoader<CcLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(tg: Arc<dyn TradingGrid>, cc: Arc<dyn CoreCase>) -> Self {
        Self {
            tg: DataLoader::with_cache(TgLoader::new(tg), tokio::spawn, HashMapCache::default())
                .delay(BATCH_WINDOW)
                .max_batch_size(trading_grid::MAX_IDS),
            cc: DataLoader::with_cache(CcLoader::new(cc), tokio::spawn, HashMapCache::default())
                .delay(BATCH_WINDOW)
                .max_batch_size(core_case::MAX_IDS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_key_asked_for_while_its_batch_is_in_flight_is_not_fetched_again() {
        let coalescer: Arc<Coalescer<u32, u32>> = Arc::default();
        let fetched = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let fetch = |fetched: Arc<AtomicUsize>, mut gate: tokio::sync::watch::Receiver<bool>| {
            move |keys: Vec<u32>| async move {
                fetched.fetch_add(keys.len(), Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                Ok(keys.into_iter().map(|k| (k, k * 10)).collect())
            }
        };
        let first = {
            let (c, f, g) = (coalescer.clone(), fetched.clone(), gate.clone());
            tokio::spawn(async move { c.load(&[1, 2], fetch(f, g)).await })
        };
        tokio::task::yield_now().await;
        let second = {
            let (c, f, g) = (coalescer.clone(), fetched.clone(), gate.clone());
            tokio::spawn(async move { c.load(&[2, 3], fetch(f, g)).await })
        };
        tokio::task::yield_now().await;
        release.send(true).unwrap();
        let first = first.await.unwrap().unwrap();
        let second = second.await.unwrap().unwrap();
        assert_eq!(first[&2], 20);
        assert_eq!(second[&2], 20);
        assert_eq!(second[&3], 30);
        // Keys 1, 2 and 3 were each fetched once.
        assert_eq!(fetched.load(Ordering::SeqCst), 3);
    }
}
