//! What the workflows ask the platforms to create or change, and the platform
//! events they react to, in the gateway's own terms.

use chrono::{DateTime, Utc};

use super::ids::*;
use super::milestone::CaseStatus;
use super::records::*;

/// Who a community post appears to come from.
#[derive(Debug, Clone)]
pub struct Poster {
    pub id: String,
    pub name: String,
}

/// A discussion the gateway opens (for transaction exceptions).
#[derive(Debug, Clone)]
pub struct NewIssue {
    pub partner_id: PartnerId,
    pub title: String,
    pub kind: IssueKind,
    pub tags: Vec<String>,
    pub transaction_ids: Vec<TransactionId>,
    pub body: String,
    pub author: Poster,
}

#[derive(Debug, Clone, Default)]
pub struct IssuePatch {
    pub status: Option<IssueStatus>,
    pub case_id: Option<CaseId>,
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct NewCase {
    pub case_type: CaseType,
    pub priority: Priority,
    pub team: Team,
    pub title: String,
    pub description: String,
    pub partner_id: PartnerId,
    pub origin: CaseOrigin,
    pub transaction_ids: Vec<TransactionId>,
}

/// `create_case` either creates, or finds the open case with the same origin.
#[derive(Debug, Clone)]
pub enum CaseCreation {
    Created(Box<Case>),
    Exists(CaseId),
}

/// A document to attach to a case: a link to a community document.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct EvidenceLink {
    pub document_id: String,
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct NewResolution {
    pub summary: String,
    pub root_cause: String,
    pub corrective_actions: Vec<String>,
    pub shared_with_partner: bool,
}

/// Something that happened on a platform (from a webhook or an events feed).
#[derive(Debug, Clone)]
pub struct PlatformEvent {
    pub platform: Platform,
    pub id: String,
    pub sequence: u64,
    pub occurred_at: DateTime<Utc>,
    pub kind: EventKind,
    /// The `Idempotency-Key` of the write that caused it, when the platform says:
    /// how the gateway recognises the echo of its own writes.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    IssueOpened(Issue),
    IssueUpdated(Issue),
    MessagePosted(Message),
    DocumentShared(Document),
    /// A transaction failed, was rejected, or its acknowledgement is overdue.
    TransactionFailed(Transaction),
    CaseCreated(Case),
    CaseStatusChanged {
        case: Case,
        from: CaseStatus,
        to: CaseStatus,
    },
    CaseResolved {
        case: Case,
        resolution: Resolution,
    },
    /// An event this gateway has no rule for (kept for the log).
    Other(String),
}
