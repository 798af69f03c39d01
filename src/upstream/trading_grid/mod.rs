//! Trading Grid / Active Community connector: the trait resolvers use, the HTTP
//! client that implements it, and the wire ↔ domain mapping.

mod client;
mod map;
pub mod wire;

use async_trait::async_trait;

pub(crate) use client::TradingGridClient;

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
    /// A cheap authenticated call, for readiness.
    async fn check(&self) -> Result<()>;
}
