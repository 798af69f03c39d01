//! The records resolvers work with, converted from each platform's wire models at
//! the connector boundary (`upstream/*/map.rs`).

use async_graphql::Enum;
use chrono::{DateTime, Utc};

use super::ids::*;
use super::milestone::CaseStatus;

/// Which platform a record lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum Platform {
    /// OpenText Active Community – Trading Grid.
    TradingGrid,
    /// OpenText Core Case.
    CoreCase,
}

impl Platform {
    pub fn slug(self) -> &'static str {
        match self {
            Platform::TradingGrid => "trading-grid",
            Platform::CoreCase => "core-case",
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.slug())
    }
}

/// One page of an upstream list, with the opaque cursor for the next one.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn empty() -> Self {
        Self {
            items: vec![],
            next_cursor: None,
        }
    }
}

/// What to ask an upstream list for.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PageRequest {
    pub limit: usize,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// A trading partner's commercial tier.
pub enum PartnerTier {
    /// Key partner with a dedicated relationship manager.
    Strategic,
    /// Preferred partner.
    Preferred,
    /// Standard terms.
    Standard,
    /// A tier this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Partner {
    pub id: PartnerId,
    pub name: String,
    pub tier: PartnerTier,
    pub community_id: String,
    pub country: String,
    pub contact_email: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// What a partner issue is about.
pub enum IssueKind {
    /// Goods arrived short, damaged or late against the shipment notice.
    ShipmentDiscrepancy,
    /// Invoice amounts, quantities or terms disagree with the order or receipt.
    InvoiceDiscrepancy,
    /// The order was changed, duplicated or not confirmed as sent.
    OrderDiscrepancy,
    /// A compliance question or policy exception.
    ComplianceQuestion,
    /// General support.
    Support,
    /// A kind this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// Where a discussion stands on Trading Grid.
pub enum IssueStatus {
    /// The conversation is active.
    Open,
    /// A case tracks the issue.
    Escalated,
    /// The issue is resolved.
    Resolved,
    /// The thread is closed.
    Closed,
    /// A status this gateway does not know yet.
    Other,
}

/// A partner issue: a Trading Grid community discussion.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Issue {
    pub id: IssueId,
    pub partner_id: PartnerId,
    pub community_id: String,
    pub title: String,
    pub kind: IssueKind,
    pub status: IssueStatus,
    pub tags: Vec<String>,
    pub transaction_ids: Vec<TransactionId>,
    pub case_id: Option<CaseId>,
    pub message_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// Which side of the relationship a message author is on.
pub enum AuthorRole {
    /// Someone at the trading partner.
    Partner,
    /// Someone on the operations team.
    Operator,
    /// An integration posting on the operations team's behalf.
    System,
    /// A role this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub id: String,
    pub issue_id: IssueId,
    pub author_name: String,
    pub author_role: AuthorRole,
    pub body: String,
    pub document_ids: Vec<TgDocumentId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// What kind of business document a document is.
pub enum DocumentKind {
    /// A commercial invoice.
    Invoice,
    /// What was packed in a shipment.
    PackingList,
    /// Signed proof that goods were delivered.
    ProofOfDelivery,
    /// A certificate of conformity, origin or similar.
    ComplianceCertificate,
    /// A purchase order.
    PurchaseOrder,
    /// Anything else (also kinds this gateway does not know yet).
    Other,
}

/// A document on either platform. Community documents (`DOC-…`) belong to a
/// partner and may sit in a discussion; case documents uploaded to Core Case
/// (`EV-…`) belong to one case and are internal.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Document {
    pub id: DocumentId,
    pub partner_id: PartnerId,
    pub issue_id: Option<IssueId>,
    /// For Core Case documents: the case they were uploaded to.
    pub case_id: Option<CaseId>,
    pub name: String,
    pub kind: DocumentKind,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl Document {
    pub fn platform(&self) -> Platform {
        match self.id {
            DocumentId::TradingGrid(_) => Platform::TradingGrid,
            DocumentId::CoreCase(_) => Platform::CoreCase,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// The EDI standard of a transaction.
pub enum EdiStandard {
    /// ANSI ASC X12.
    X12,
    /// UN/EDIFACT.
    Edifact,
    /// A standard this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// Which way a transaction travelled.
pub enum Direction {
    /// From the partner to us.
    Inbound,
    /// From us to the partner.
    Outbound,
    /// A direction this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// Delivery status of a transaction.
pub enum TransactionStatus {
    /// Delivered and, where expected, acknowledged.
    Delivered,
    /// Could not be delivered or processed.
    Failed,
    /// The receiver rejected it (e.g. a negative 997/CONTRL).
    Rejected,
    /// Sent; the functional acknowledgement has not arrived yet.
    AwaitingAcknowledgement,
    /// Sent; the functional acknowledgement is past due.
    AcknowledgementOverdue,
    /// A status this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TransactionError {
    pub code: String,
    pub message: String,
    pub segment: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Transaction {
    pub id: TransactionId,
    pub partner_id: PartnerId,
    pub standard: EdiStandard,
    pub document_type: String,
    pub direction: Direction,
    pub control_number: String,
    pub status: TransactionStatus,
    pub errors: Vec<TransactionError>,
    pub po_number: Option<String>,
    pub invoice_number: Option<String>,
    pub shipment_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// What kind of case a case is.
pub enum CaseType {
    /// A shipment, invoice or order dispute raised by a partner.
    Dispute,
    /// A failed, rejected or unacknowledged B2B transaction.
    TransactionException,
    /// A compliance question or policy exception under review.
    ComplianceReview,
    /// A thread escalated for investigation or approval.
    SupportEscalation,
    /// A type this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// Internal case priority.
pub enum Priority {
    /// Handle when time allows.
    Low,
    /// Normal priority.
    Medium,
    /// Handle before normal work.
    High,
    /// Business-critical: handle now.
    Critical,
    /// A priority this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// A team cases and tasks are routed to.
pub enum Team {
    /// Legal review.
    Legal,
    /// Compliance and audit.
    Compliance,
    /// B2B operations.
    Operations,
    /// Finance (invoicing, credit notes).
    Finance,
    /// Customer service.
    CustomerService,
    /// A team this gateway does not know yet.
    Other,
}

/// What a case was opened from, on Trading Grid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum CaseOrigin {
    Issue(IssueId),
    Transactions(Vec<TransactionId>),
    Other,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub number: String,
    pub case_type: CaseType,
    pub status: CaseStatus,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    pub assignee: Option<String>,
    pub team: Team,
    pub sla_due_at: Option<DateTime<Utc>>,
    pub partner_id: PartnerId,
    pub origin: CaseOrigin,
    pub transaction_ids: Vec<TransactionId>,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// Revision of the record on Core Case (0 when the platform does not say).
    pub version: u64,
}

/// A document attached to a case: either a link to a community document or bytes
/// uploaded to Core Case.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub id: EvidenceId,
    pub case_id: CaseId,
    /// The community document this entry links to, when it was linked.
    pub source: Option<TgDocumentId>,
    pub name: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
/// Progress of a case task.
pub enum TaskState {
    /// Not started.
    Open,
    /// Being worked on.
    InProgress,
    /// Finished.
    Done,
    /// No longer needed.
    Cancelled,
    /// A state this gateway does not know yet.
    Other,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Task {
    pub id: String,
    pub case_id: CaseId,
    pub title: String,
    pub team: Team,
    pub state: TaskState,
    pub assignee: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Note {
    pub id: String,
    pub case_id: CaseId,
    pub author: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    pub case_id: CaseId,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub from_status: Option<CaseStatus>,
    pub to_status: Option<CaseStatus>,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Resolution {
    pub id: String,
    pub case_id: CaseId,
    pub summary: String,
    pub root_cause: String,
    pub corrective_actions: Vec<String>,
    pub resolved_at: DateTime<Utc>,
    pub shared_with_partner: bool,
}

/// Filters on partner issues (all optional, combined with AND).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct IssueFilter {
    pub partner_id: Option<PartnerId>,
    pub kinds: Vec<IssueKind>,
    pub statuses: Vec<IssueStatus>,
    pub tag: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct CaseFilter {
    pub partner_id: Option<PartnerId>,
    pub statuses: Vec<CaseStatus>,
    pub types: Vec<CaseType>,
    pub opened_after: Option<DateTime<Utc>>,
    pub opened_before: Option<DateTime<Utc>>,
    /// Changed at or after (any change: status, notes, evidence…).
    pub updated_after: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct TransactionFilter {
    pub partner_id: Option<PartnerId>,
    pub statuses: Vec<TransactionStatus>,
    pub document_type: Option<String>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    /// Status changed at or after.
    pub updated_after: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct ResolutionFilter {
    pub search: String,
    /// Only resolutions of this partner's cases.
    pub partner_id: Option<PartnerId>,
    pub shared_only: bool,
}
