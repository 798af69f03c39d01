//! What goes stale when something changes on a platform, and the two places
//! changes are seen: platform events (webhooks, events feeds) and the gateway's
//! own upstream writes (connectors wrapped by [`EvictingTradingGrid`] /
//! [`EvictingCoreCase`], which the workflows use).

use std::sync::Arc;

use async_trait::async_trait;

use super::EntityCache;
use crate::domain::*;
use crate::upstream::{Content, CoreCase, Result, TradingGrid};

const TG: Platform = Platform::TradingGrid;
const CC: Platform = Platform::CoreCase;

/// Keys and groups to evict.
#[derive(Default)]
struct Stale {
    keys: Vec<String>,
    groups: Vec<String>,
}

impl Stale {
    fn key(&mut self, c: &EntityCache, p: Platform, kind: &str, id: impl std::fmt::Display) {
        self.keys.push(c.key(p, kind, &id.to_string()));
    }

    /// Every cached page of `kind` of this partner, and of every partner.
    fn lists(&mut self, c: &EntityCache, p: Platform, kind: &str, partner: Option<&PartnerId>) {
        match partner {
            Some(partner) => {
                self.groups.push(c.key(p, kind, &format!("{partner}:")));
                self.groups.push(c.key(p, kind, "all:"));
            }
            None => self.groups.push(c.key(p, kind, "")),
        }
    }

    fn issue(&mut self, c: &EntityCache, i: &Issue) {
        self.key(c, TG, "issue", &i.id);
        self.key(c, TG, "issue-messages", &i.id);
        self.key(c, TG, "issue-documents", &i.id);
        for t in &i.transaction_ids {
            self.key(c, TG, "transaction-issues", t);
        }
        self.lists(c, TG, "issue-list", Some(&i.partner_id));
    }

    fn case_only(&mut self, c: &EntityCache, id: &CaseId) {
        for kind in [
            "case",
            "case-evidence",
            "case-resolution",
            "case-tasks",
            "case-notes",
            "case-history",
        ] {
            self.key(c, CC, kind, id);
        }
    }

    fn case(&mut self, c: &EntityCache, case: &Case) {
        self.case_only(c, &case.id);
        for t in &case.transaction_ids {
            self.key(c, CC, "transaction-cases", t);
        }
        self.lists(c, CC, "case-list", Some(&case.partner_id));
        self.lists(c, CC, "resolution-search", None);
    }

    fn evidence(&mut self, c: &EntityCache, e: &Evidence) {
        self.case_only(c, &e.case_id);
        self.key(c, CC, "evidence", &e.id);
        if let Some(d) = &e.source {
            self.key(c, CC, "document-evidence", d);
        }
    }

    fn message(&mut self, c: &EntityCache, m: &Message) {
        self.key(c, TG, "issue", &m.issue_id);
        self.key(c, TG, "issue-messages", &m.issue_id);
        self.key(c, TG, "issue-documents", &m.issue_id);
        // The discussion's activity moved: its partner is not in the message.
        self.lists(c, TG, "issue-list", None);
    }

    async fn apply(self, c: &EntityCache) {
        c.evict(&self.keys, &self.groups).await;
    }
}

impl EntityCache {
    /// Evict what `event` changed. Runs before the event is acknowledged, so no
    /// read after the acknowledgement sees the older state.
    pub async fn evict_for_event(&self, event: &PlatformEvent) {
        if !self.is_on() {
            return;
        }
        let mut s = Stale::default();
        match &event.kind {
            EventKind::IssueOpened(i) | EventKind::IssueUpdated(i) => s.issue(self, i),
            EventKind::MessagePosted(m) => s.message(self, m),
            EventKind::DocumentShared(d) => {
                if let DocumentId::TradingGrid(id) = &d.id {
                    s.key(self, TG, "document", id);
                }
                if let Some(i) = &d.issue_id {
                    s.key(self, TG, "issue-documents", i);
                    s.key(self, TG, "issue", i);
                }
            }
            EventKind::TransactionFailed(t) => {
                s.key(self, TG, "transaction", &t.id);
                s.lists(self, TG, "transaction-list", Some(&t.partner_id));
            }
            EventKind::CaseCreated(case)
            | EventKind::CaseStatusChanged { case, .. }
            | EventKind::CaseResolved { case, .. } => s.case(self, case),
            EventKind::Other(_) => {}
        }
        s.apply(self).await;
    }
}

/// Trading Grid for the workflows: every write evicts what it changed.
pub(crate) struct EvictingTradingGrid {
    pub inner: Arc<dyn TradingGrid>,
    pub cache: Arc<EntityCache>,
}

/// Core Case for the workflows: every write evicts what it changed.
pub(crate) struct EvictingCoreCase {
    pub inner: Arc<dyn CoreCase>,
    pub cache: Arc<EntityCache>,
}

#[async_trait]
impl TradingGrid for EvictingTradingGrid {
    async fn partners(&self, ids: &[PartnerId]) -> Result<Vec<Partner>> {
        self.inner.partners(ids).await
    }
    async fn list_partners(&self, page: PageRequest) -> Result<Page<Partner>> {
        self.inner.list_partners(page).await
    }
    async fn issues(&self, ids: &[IssueId]) -> Result<Vec<Issue>> {
        self.inner.issues(ids).await
    }
    async fn list_issues(&self, filter: &IssueFilter, page: PageRequest) -> Result<Page<Issue>> {
        self.inner.list_issues(filter, page).await
    }
    async fn issues_by_transactions(&self, ids: &[TransactionId]) -> Result<Vec<Issue>> {
        self.inner.issues_by_transactions(ids).await
    }
    async fn messages_of(&self, issues: &[IssueId]) -> Result<Vec<Message>> {
        self.inner.messages_of(issues).await
    }
    async fn documents(&self, ids: &[TgDocumentId]) -> Result<Vec<Document>> {
        self.inner.documents(ids).await
    }
    async fn documents_of(&self, issues: &[IssueId]) -> Result<Vec<Document>> {
        self.inner.documents_of(issues).await
    }
    async fn transactions(&self, ids: &[TransactionId]) -> Result<Vec<Transaction>> {
        self.inner.transactions(ids).await
    }
    async fn list_transactions(
        &self,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> Result<Page<Transaction>> {
        self.inner.list_transactions(filter, page).await
    }
    async fn document_content(&self, id: &TgDocumentId) -> Result<Content> {
        self.inner.document_content(id).await
    }
    async fn issues_of_case(&self, case: &CaseId) -> Result<Vec<Issue>> {
        self.inner.issues_of_case(case).await
    }
    async fn open_issue(&self, issue: &NewIssue, key: &str) -> Result<Issue> {
        let i = self.inner.open_issue(issue, key).await?;
        let mut s = Stale::default();
        s.issue(&self.cache, &i);
        s.apply(&self.cache).await;
        Ok(i)
    }
    async fn update_issue(&self, id: &IssueId, patch: &IssuePatch, key: &str) -> Result<Issue> {
        let i = self.inner.update_issue(id, patch, key).await?;
        let mut s = Stale::default();
        s.issue(&self.cache, &i);
        s.apply(&self.cache).await;
        Ok(i)
    }
    async fn post_message(
        &self,
        issue: &IssueId,
        body: &str,
        author: &Poster,
        key: &str,
    ) -> Result<Message> {
        let m = self.inner.post_message(issue, body, author, key).await?;
        let mut s = Stale::default();
        s.message(&self.cache, &m);
        s.apply(&self.cache).await;
        Ok(m)
    }
    async fn events_after(&self, sequence: u64) -> Result<Vec<PlatformEvent>> {
        let events = self.inner.events_after(sequence).await?;
        for e in &events {
            self.cache.evict_for_event(e).await;
        }
        Ok(events)
    }
    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}

#[async_trait]
impl CoreCase for EvictingCoreCase {
    async fn cases(&self, ids: &[CaseId]) -> Result<Vec<Case>> {
        self.inner.cases(ids).await
    }
    async fn list_cases(&self, filter: &CaseFilter, page: PageRequest) -> Result<Page<Case>> {
        self.inner.list_cases(filter, page).await
    }
    async fn cases_by_transactions(&self, ids: &[TransactionId]) -> Result<Vec<Case>> {
        self.inner.cases_by_transactions(ids).await
    }
    async fn evidence(&self, ids: &[EvidenceId]) -> Result<Vec<Evidence>> {
        self.inner.evidence(ids).await
    }
    async fn evidence_of(&self, cases: &[CaseId]) -> Result<Vec<Evidence>> {
        self.inner.evidence_of(cases).await
    }
    async fn evidence_by_source(&self, documents: &[TgDocumentId]) -> Result<Vec<Evidence>> {
        self.inner.evidence_by_source(documents).await
    }
    async fn tasks_of(&self, cases: &[CaseId]) -> Result<Vec<Task>> {
        self.inner.tasks_of(cases).await
    }
    async fn notes_of(&self, cases: &[CaseId]) -> Result<Vec<Note>> {
        self.inner.notes_of(cases).await
    }
    async fn history_of(&self, cases: &[CaseId]) -> Result<Vec<HistoryEntry>> {
        self.inner.history_of(cases).await
    }
    async fn resolutions_of(&self, cases: &[CaseId]) -> Result<Vec<Resolution>> {
        self.inner.resolutions_of(cases).await
    }
    async fn search_resolutions(
        &self,
        filter: &ResolutionFilter,
        page: PageRequest,
    ) -> Result<Page<Resolution>> {
        self.inner.search_resolutions(filter, page).await
    }
    async fn evidence_content(&self, id: &EvidenceId) -> Result<Content> {
        self.inner.evidence_content(id).await
    }
    async fn cases_by_origin(&self, origin: &CaseOrigin) -> Result<Vec<Case>> {
        self.inner.cases_by_origin(origin).await
    }
    async fn create_case(&self, case: &NewCase, key: &str) -> Result<CaseCreation> {
        let created = self.inner.create_case(case, key).await?;
        let mut s = Stale::default();
        match &created {
            CaseCreation::Created(c) => s.case(&self.cache, c),
            CaseCreation::Exists(id) => s.case_only(&self.cache, id),
        }
        s.apply(&self.cache).await;
        Ok(created)
    }
    async fn set_case_status(&self, id: &CaseId, status: CaseStatus, key: &str) -> Result<Case> {
        let c = self.inner.set_case_status(id, status, key).await?;
        let mut s = Stale::default();
        s.case(&self.cache, &c);
        s.apply(&self.cache).await;
        Ok(c)
    }
    async fn create_task(&self, case: &CaseId, title: &str, team: Team, key: &str) -> Result<Task> {
        let t = self.inner.create_task(case, title, team, key).await?;
        let mut s = Stale::default();
        s.case_only(&self.cache, case);
        s.apply(&self.cache).await;
        Ok(t)
    }
    async fn add_note(&self, case: &CaseId, body: &str, key: &str) -> Result<Note> {
        let n = self.inner.add_note(case, body, key).await?;
        let mut s = Stale::default();
        s.case_only(&self.cache, case);
        s.apply(&self.cache).await;
        Ok(n)
    }
    async fn link_evidence(
        &self,
        case: &CaseId,
        link: &EvidenceLink,
        key: &str,
    ) -> Result<Evidence> {
        let e = self.inner.link_evidence(case, link, key).await?;
        let mut s = Stale::default();
        s.evidence(&self.cache, &e);
        s.apply(&self.cache).await;
        Ok(e)
    }
    async fn put_resolution(
        &self,
        case: &CaseId,
        resolution: &NewResolution,
        key: &str,
    ) -> Result<Resolution> {
        let r = self.inner.put_resolution(case, resolution, key).await?;
        let mut s = Stale::default();
        s.case_only(&self.cache, case);
        // The case's status (and so the lists it appears in) moved with it.
        s.lists(&self.cache, CC, "case-list", None);
        s.lists(&self.cache, CC, "resolution-search", None);
        s.apply(&self.cache).await;
        Ok(r)
    }
    async fn events_after(&self, sequence: u64) -> Result<Vec<PlatformEvent>> {
        let events = self.inner.events_after(sequence).await?;
        for e in &events {
            self.cache.evict_for_event(e).await;
        }
        Ok(events)
    }
    async fn check(&self) -> Result<()> {
        self.inner.check().await
    }
}
