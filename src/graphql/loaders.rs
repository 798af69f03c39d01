//! Per-request DataLoaders: every by-id (and by-parent) lookup in a request is
//! collected for a tick, deduplicated, and sent as one batch call per resource
//! and platform. One loader per platform, one `Loader` impl per key type.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};

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

pub(crate) struct TgLoader(pub Arc<dyn TradingGrid>);
pub(crate) struct CcLoader(pub Arc<dyn CoreCase>);

/// Index records by id, keeping only the requested keys.
fn by_key<K, V>(items: Vec<V>, key: impl Fn(&V) -> K) -> HashMap<K, V>
where
    K: std::hash::Hash + Eq,
{
    items.into_iter().map(|v| (key(&v), v)).collect()
}

/// Group records under their parent key; every requested key gets an entry (maybe
/// empty) so the per-request cache remembers "none" too.
fn grouped<K, P, V>(keys: &[K], items: Vec<V>, parent: impl Fn(&V) -> Vec<P>, wrap: impl Fn(P) -> K) -> HashMap<K, Vec<V>>
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

macro_rules! loader {
    ($loader:ty, $key:ty => $value:ty, |$this:ident, $keys:ident| $body:expr) => {
        impl Loader<$key> for $loader {
            type Value = $value;
            type Error = LoadError;
            async fn load(&self, $keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                let $this = &self.0;
                $body.map_err(Arc::new)
            }
        }
    };
}

loader!(TgLoader, PartnerId => Partner, |tg, keys| tg
    .partners(keys)
    .await
    .map(|v| by_key(v, |p| p.id.clone())));

loader!(TgLoader, IssueId => Issue, |tg, keys| tg
    .issues(keys)
    .await
    .map(|v| by_key(v, |i| i.id.clone())));

loader!(TgLoader, TgDocumentId => Document, |tg, keys| tg
    .documents(keys)
    .await
    .map(|v| by_key(v, |d| match &d.id {
        DocumentId::TradingGrid(id) => id.clone(),
        DocumentId::CoreCase(id) => TgDocumentId::from_upstream(id.to_string()),
    })));

loader!(TgLoader, TransactionId => Transaction, |tg, keys| tg
    .transactions(keys)
    .await
    .map(|v| by_key(v, |t| t.id.clone())));

loader!(TgLoader, DocsOfIssue => Vec<Document>, |tg, keys| {
    let ids: Vec<IssueId> = keys.iter().map(|k| k.0.clone()).collect();
    tg.documents_of(&ids)
        .await
        .map(|v| grouped(keys, v, |d| d.issue_id.iter().cloned().collect(), DocsOfIssue))
});

loader!(TgLoader, MessagesOfIssue => Vec<Message>, |tg, keys| {
    let ids: Vec<IssueId> = keys.iter().map(|k| k.0.clone()).collect();
    tg.messages_of(&ids)
        .await
        .map(|v| grouped(keys, v, |m| vec![m.issue_id.clone()], MessagesOfIssue))
});

loader!(TgLoader, IssuesOfTransaction => Vec<Issue>, |tg, keys| {
    let ids: Vec<TransactionId> = keys.iter().map(|k| k.0.clone()).collect();
    tg.issues_by_transactions(&ids)
        .await
        .map(|v| grouped(keys, v, |i| i.transaction_ids.clone(), IssuesOfTransaction))
});

loader!(CcLoader, CaseId => Case, |cc, keys| cc
    .cases(keys)
    .await
    .map(|v| by_key(v, |c| c.id.clone())));

loader!(CcLoader, EvidenceId => Evidence, |cc, keys| cc
    .evidence(keys)
    .await
    .map(|v| by_key(v, |e| e.id.clone())));

loader!(CcLoader, EvidenceOfCase => Vec<Evidence>, |cc, keys| {
    let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.evidence_of(&ids)
        .await
        .map(|v| grouped(keys, v, |e| vec![e.case_id.clone()], EvidenceOfCase))
});

loader!(CcLoader, EvidenceOfDocument => Vec<Evidence>, |cc, keys| {
    let ids: Vec<TgDocumentId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.evidence_by_source(&ids)
        .await
        .map(|v| grouped(keys, v, |e| e.source.iter().cloned().collect(), EvidenceOfDocument))
});

loader!(CcLoader, TasksOfCase => Vec<Task>, |cc, keys| {
    let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.tasks_of(&ids)
        .await
        .map(|v| grouped(keys, v, |t| vec![t.case_id.clone()], TasksOfCase))
});

loader!(CcLoader, NotesOfCase => Vec<Note>, |cc, keys| {
    let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.notes_of(&ids)
        .await
        .map(|v| grouped(keys, v, |n| vec![n.case_id.clone()], NotesOfCase))
});

loader!(CcLoader, HistoryOfCase => Vec<HistoryEntry>, |cc, keys| {
    let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.history_of(&ids)
        .await
        .map(|v| grouped(keys, v, |h| vec![h.case_id.clone()], HistoryOfCase))
});

loader!(CcLoader, ResolutionOfCase => Resolution, |cc, keys| {
    let ids: Vec<CaseId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.resolutions_of(&ids)
        .await
        .map(|v| by_key(v, |r| ResolutionOfCase(r.case_id.clone())))
});

loader!(CcLoader, CasesOfTransaction => Vec<Case>, |cc, keys| {
    let ids: Vec<TransactionId> = keys.iter().map(|k| k.0.clone()).collect();
    cc.cases_by_transactions(&ids)
        .await
        .map(|v| grouped(keys, v, |c| c.transaction_ids.clone(), CasesOfTransaction))
});

/// The loaders of one request. Built fresh per request so nothing one caller
/// loaded is ever served to another.
pub(crate) struct Loaders {
    pub tg: DataLoader<TgLoader, HashMapCache>,
    pub cc: DataLoader<CcLoader, HashMapCache>,
}

impl Loaders {
    pub fn new(tg: Arc<dyn TradingGrid>, cc: Arc<dyn CoreCase>) -> Self {
        Self {
            tg: DataLoader::with_cache(TgLoader(tg), tokio::spawn, HashMapCache::default())
                .max_batch_size(trading_grid::MAX_IDS),
            cc: DataLoader::with_cache(CcLoader(cc), tokio::spawn, HashMapCache::default())
                .max_batch_size(core_case::MAX_IDS),
        }
    }
}
