//! Trading Grid / Active Community connector: the trait resolvers use, the HTTP
//! client that implements it, and the wire ↔ domain mapping.

mod client;
mod map;
pub mod wire;

use async_trait::async_trait;

pub(crate) use client::TradingGridClient;
pub(crate) use map::parse_event;

use super::{Content, Result};
use crate::domain::*;

/// Batch endpoints accept at most this many ids per call.
pub const MAX_IDS: usize = 100;

/// Everything the gateway reads from Trading Grid. Batch methods take many ids and
/// return what exists (unknown ids are simply absent).
#[async_trait]
pub trait TradingGrid: Send + Sync + 'static {
    async fn partners(&self, ids: &[PartnerId]) -> Result<Vec<Partner>>;
    async fn list_partners(&self, page: PageRequest) -> Result<Page<Partner>>;
    async fn issues(&self, ids: &[IssueId]) -> Result<Vec<Issue>>;
    async fn list_issues(&self, filter: &IssueFilter, page: PageRequest) -> Result<Page<Issue>>;
    /// Issues referencing any of these transactions.
    async fn issues_by_transactions(&self, ids: &[TransactionId]) -> Result<Vec<Issue>>;
    /// Messages of these issues, oldest first within each issue.
    async fn messages_of(&self, issues: &[IssueId]) -> Result<Vec<Message>>;
    async fn documents(&self, ids: &[TgDocumentId]) -> Result<Vec<Document>>;
    /// Documents shared in these issues.
    async fn documents_of(&self, issues: &[IssueId]) -> Result<Vec<Document>>;
    async fn transactions(&self, ids: &[TransactionId]) -> Result<Vec<Transaction>>;
    async fn list_transactions(
        &self,
        filter: &TransactionFilter,
        page: PageRequest,
    ) -> Result<Page<Transaction>>;
    async fn document_content(&self, id: &TgDocumentId) -> Result<Content>;
    /// Issues linked to a case.
    async fn issues_of_case(&self, case: &CaseId) -> Result<Vec<Issue>>;

    // Writes. `key` is the write's idempotency key: repeating a write with the
    // same key does nothing more upstream.
    async fn open_issue(&self, issue: &NewIssue, key: &str) -> Result<Issue>;
    async fn update_issue(&self, id: &IssueId, patch: &IssuePatch, key: &str) -> Result<Issue>;
    async fn post_message(
        &self,
        issue: &IssueId,
        body: &str,
        author: &Poster,
        key: &str,
    ) -> Result<Message>;

    /// Events after `sequence`, oldest first (one page).
    async fn events_after(&self, sequence: u64) -> Result<Vec<PlatformEvent>>;
    /// A cheap authenticated call, for readiness.
    async fn check(&self) -> Result<()>;
}
