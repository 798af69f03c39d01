//! Wire models of the Core Case REST API (`openapi/core-case.yaml`).
//!
//! Core Case pages differently from Trading Grid (`page_size`/`page_token`, a `data`
//! array and a `total`), which is why each platform has its own wire module.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One page of a list endpoint: `GET /api/v2/{resource}?page_size=&page_token=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    /// Opaque; pass back as `page_token`. Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Number of records matching the filter, over all pages.
    pub total: u64,
}

/// Error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable, e.g. `NOT_FOUND`, `VALIDATION_FAILED`, `UNAUTHORIZED`, `RATE_LIMITED`, `CONFLICT`.
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Structured context; a 409 on `POST /api/v2/cases` carries `{"existing_case_id": "..."}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseType {
    Dispute,
    TransactionException,
    ComplianceReview,
    SupportEscalation,
    #[serde(other)]
    Unknown,
}

/// The internal workflow status. Partners never see it; they see the milestone derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    New,
    Triage,
    InProgress,
    WaitingOnPartner,
    OnHold,
    Resolved,
    Closed,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Team {
    Legal,
    Compliance,
    Operations,
    Finance,
    CustomerService,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UserRef {
    pub id: String,
    pub name: String,
}

/// Where a case came from, on another system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExternalRef {
    /// `trading-grid`.
    pub system: String,
    /// `discussion` or `transaction`.
    pub kind: String,
    /// For `transaction` cases covering several transactions: the ids joined by `,`, sorted.
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    pub id: String,
    /// Human-facing number, e.g. `CC-2026-000123`.
    pub number: String,
    #[serde(rename = "type")]
    pub case_type: CaseType,
    pub status: CaseStatus,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    #[serde(default)]
    pub assignee: Option<UserRef>,
    pub team: Team,
    #[serde(default)]
    pub sla_due_at: Option<DateTime<Utc>>,
    pub partner_id: String,
    #[serde(default)]
    pub external_ref: Option<ExternalRef>,
    pub transaction_ids: Vec<String>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
    /// Revision of the case record: starts at 1 and grows by one with every change,
    /// so of two copies of a case (in events delivered out of order) the higher
    /// version is the newer.
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Open,
    InProgress,
    Done,
    Cancelled,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub id: String,
    pub case_id: String,
    pub title: String,
    pub team: Team,
    pub state: TaskState,
    #[serde(default)]
    pub assignee: Option<UserRef>,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Where an evidence document's bytes live when they were linked rather than uploaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentSource {
    /// `trading-grid`.
    pub system: String,
    pub document_id: String,
}

/// A document attached to a case as evidence. Linked documents carry a `source`
/// and no bytes of their own; uploaded ones have bytes at
/// `GET /api/v2/case-documents/{id}/content`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseDocument {
    pub id: String,
    pub case_id: String,
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    #[serde(default)]
    pub source: Option<DocumentSource>,
    pub linked_by: UserRef,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Note {
    pub id: String,
    pub case_id: String,
    pub author: UserRef,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    pub case_id: String,
    pub at: DateTime<Utc>,
    pub actor: UserRef,
    /// e.g. `created`, `status_changed`, `assigned`, `document_linked`, `task_created`, `resolved`.
    pub action: String,
    #[serde(default)]
    pub from_status: Option<CaseStatus>,
    #[serde(default)]
    pub to_status: Option<CaseStatus>,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolution {
    pub id: String,
    pub case_id: String,
    pub summary: String,
    pub root_cause: String,
    pub corrective_actions: Vec<String>,
    pub resolved_by: UserRef,
    pub resolved_at: DateTime<Utc>,
    /// Whether the resolution was shared with the partner (partners only ever see shared ones).
    pub shared_with_partner: bool,
}

/// One entry of `GET /api/v2/events`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub sequence: u64,
    /// e.g. `case.created`, `case.status_changed`, `case.document_linked`, `case.resolved`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub case_id: String,
    pub data: serde_json::Value,
    /// The `Idempotency-Key` of the API request that caused the event, when it had
    /// one: how a client recognises the echo of its own write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// `POST /api/v2/cases`. A case whose `external_ref` matches an open case answers 409
/// with that case's id in the message, so a creator can find the one already there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewCase {
    #[serde(rename = "type")]
    pub case_type: CaseType,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    pub team: Team,
    pub partner_id: String,
    #[serde(default)]
    pub external_ref: Option<ExternalRef>,
    #[serde(default)]
    pub transaction_ids: Vec<String>,
}

/// `PATCH /api/v2/cases/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CasePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<CaseStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Team>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserRef>,
}

/// `POST /api/v2/cases/{id}/tasks`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewTask {
    pub title: String,
    pub team: Team,
    #[serde(default)]
    pub due_at: Option<DateTime<Utc>>,
}

/// `POST /api/v2/cases/{id}/documents`: link a document from another system
/// (`source` set, no content) or upload bytes (`content_base64` set). Linking a
/// document whose sha256 is already evidence on the case answers 200 with the
/// existing entry instead of 201.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewCaseDocument {
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    #[serde(default)]
    pub source: Option<DocumentSource>,
    #[serde(default)]
    pub content_base64: Option<String>,
}

/// `POST /api/v2/cases/{id}/notes`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewNote {
    pub body: String,
}

/// `PUT /api/v2/cases/{id}/resolution`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewResolution {
    pub summary: String,
    pub root_cause: String,
    pub corrective_actions: Vec<String>,
    pub shared_with_partner: bool,
}
