//! Core Case connector: the trait resolvers use, the HTTP client that implements
//! it, and the wire ↔ domain mapping.

mod client;
mod map;
pub mod wire;

use async_trait::async_trait;

pub(crate) use client::CoreCaseClient;

use super::{Content, Result};
use crate::domain::*;

/// Batch endpoints accept at most this many ids per call.
pub const MAX_IDS: usize = 50;

/// Everything the gateway reads from Core Case.
#[async_trait]
pub trait CoreCase: Send + Sync + 'static {
    async fn cases(&self, ids: &[CaseId]) -> Result<Vec<Case>>;
    async fn list_cases(&self, filter: &CaseFilter, page: PageRequest) -> Result<Page<Case>>;
    /// Cases covering any of these transactions.
    async fn cases_by_transactions(&self, ids: &[TransactionId]) -> Result<Vec<Case>>;
    async fn evidence(&self, ids: &[EvidenceId]) -> Result<Vec<Evidence>>;
    async fn evidence_of(&self, cases: &[CaseId]) -> Result<Vec<Evidence>>;
    /// Evidence entries linking any of these community documents.
    async fn evidence_by_source(&self, documents: &[TgDocumentId]) -> Result<Vec<Evidence>>;
    async fn tasks_of(&self, cases: &[CaseId]) -> Result<Vec<Task>>;
    async fn notes_of(&self, cases: &[CaseId]) -> Result<Vec<Note>>;
    async fn history_of(&self, cases: &[CaseId]) -> Result<Vec<HistoryEntry>>;
    async fn resolutions_of(&self, cases: &[CaseId]) -> Result<Vec<Resolution>>;
    async fn search_resolutions(
        &self,
        filter: &ResolutionFilter,
        page: PageRequest,
    ) -> Result<Page<Resolution>>;
    async fn evidence_content(&self, id: &EvidenceId) -> Result<Content>;
    /// A cheap authenticated call, for readiness.
    async fn check(&self) -> Result<()>;
}
