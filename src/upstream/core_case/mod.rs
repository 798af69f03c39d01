//! Core Case connector: the trait resolvers use, the HTTP client that implements
//! it, and the wire ↔ domain mapping.

mod client;
mod map;
pub mod wire;

use async_trait::async_trait;

pub(crate) use client::CoreCaseClient;
pub(crate) use map::parse_event;

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
    /// Cases opened from this origin (the natural key of an escalation).
    async fn cases_by_origin(&self, origin: &CaseOrigin) -> Result<Vec<Case>>;

    // Writes. `key` is the write's idempotency key.
    async fn create_case(&self, case: &NewCase, key: &str) -> Result<CaseCreation>;
    async fn set_case_status(&self, id: &CaseId, status: CaseStatus, key: &str) -> Result<Case>;
    async fn create_task(&self, case: &CaseId, title: &str, team: Team, key: &str) -> Result<Task>;
    async fn add_note(&self, case: &CaseId, body: &str, key: &str) -> Result<Note>;
    /// Link a community document; the same bytes linked twice are one entry.
    async fn link_evidence(
        &self,
        case: &CaseId,
        link: &EvidenceLink,
        key: &str,
    ) -> Result<Evidence>;
    async fn put_resolution(
        &self,
        case: &CaseId,
        resolution: &NewResolution,
        key: &str,
    ) -> Result<Resolution>;

    /// Events after `sequence`, oldest first (one page).
    async fn events_after(&self, sequence: u64) -> Result<Vec<PlatformEvent>>;
    /// A cheap authenticated call, for readiness.
    async fn check(&self) -> Result<()>;
}
