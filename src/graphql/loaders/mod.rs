//! Per-request loaders: every by-id (and by-parent) lookup in a request is
//! collected while keys keep arriving, deduplicated, and sent as one batch call per
//! resource and platform. One loader per platform, one batcher per key type.

use std::collections::HashMap;
use std::sync::Arc;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use futures::task::AtomicWaker;

use crate::cache::EntityCache;
use crate::domain::*;
use crate::upstream::{core_case, trading_grid, CoreCase, TradingGrid, UpstreamError};

mod batch;

pub(crate) use batch::Dispatch;
use batch::*;

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
    V: serde::Serialize + serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
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
