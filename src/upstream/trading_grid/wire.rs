//! Wire models of the Trading Grid / Active Community REST API (`openapi/trading-grid.yaml`).
//!
//! These are what the platform sends and accepts, field for field. They never leave
//! `upstream/`: `map.rs` turns them into domain types. Enums keep an `Unknown` arm so a
//! tenant that adds a value does not break every read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One page of a list endpoint: `GET /v1/{resource}?limit=&cursor=`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque; pass back as `cursor` for the next page. Absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Machine-readable, e.g. `not_found`, `invalid_request`, `unauthorized`, `rate_limited`.
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartnerTier {
    Strategic,
    Preferred,
    Standard,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partner {
    pub id: String,
    pub name: String,
    pub tier: PartnerTier,
    pub community_id: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub contact_email: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Community {
    pub id: String,
    pub name: String,
    pub description: String,
    pub partner_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscussionKind {
    ShipmentDiscrepancy,
    InvoiceDiscrepancy,
    OrderDiscrepancy,
    ComplianceQuestion,
    Support,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscussionStatus {
    Open,
    Escalated,
    Resolved,
    Closed,
    #[serde(other)]
    Unknown,
}

/// A community discussion thread, opened by or about one trading partner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Discussion {
    pub id: String,
    pub community_id: String,
    pub partner_id: String,
    pub title: String,
    pub kind: DiscussionKind,
    pub status: DiscussionStatus,
    pub tags: Vec<String>,
    /// B2B transactions the thread is about.
    pub transaction_ids: Vec<String>,
    /// The Core Case case tracking this thread, once escalated.
    #[serde(default)]
    pub linked_case_id: Option<String>,
    pub message_count: u32,
    pub created_by: Author,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorRole {
    /// A person at the trading partner.
    Partner,
    /// A person of the hub (operations) team.
    Operator,
    /// An integration posting on the hub's behalf.
    System,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Author {
    pub id: String,
    pub name: String,
    pub role: AuthorRole,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub discussion_id: String,
    pub author: Author,
    pub body: String,
    /// Documents attached to this message.
    pub document_ids: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Invoice,
    PackingList,
    ProofOfDelivery,
    ComplianceCertificate,
    PurchaseOrder,
    Other,
    #[serde(other)]
    Unknown,
}

/// A document shared in the community. Bytes at `GET /v1/documents/{id}/content`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub id: String,
    pub partner_id: String,
    #[serde(default)]
    pub discussion_id: Option<String>,
    pub name: String,
    pub kind: DocumentKind,
    pub content_type: String,
    pub size_bytes: u64,
    /// Lower-case hex SHA-256 of the content.
    pub sha256: String,
    pub uploaded_by: Author,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EdiStandard {
    X12,
    Edifact,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Inbound,
    Outbound,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransactionStatus {
    Delivered,
    Failed,
    Rejected,
    AwaitingAck,
    AckOverdue,
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionError {
    pub code: String,
    pub message: String,
    /// EDI segment the error points at, e.g. `BIG*02`.
    #[serde(default)]
    pub segment: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BusinessRefs {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub po_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
}

/// One B2B/EDI interchange exchanged with a partner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transaction {
    pub id: String,
    pub partner_id: String,
    pub standard: EdiStandard,
    /// `850`, `810`, `856`, `997` (X12) or `ORDERS`, `INVOIC`, `DESADV`, `CONTRL` (EDIFACT).
    pub document_type: String,
    pub direction: Direction,
    pub control_number: String,
    pub status: TransactionStatus,
    pub errors: Vec<TransactionError>,
    pub business_refs: BusinessRefs,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// One entry of `GET /v1/events`: what changed on the platform, in order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    /// Monotonic position in the feed; pass the last seen as `after`.
    pub sequence: u64,
    /// e.g. `discussion.created`, `message.created`, `document.created`,
    /// `transaction.failed`, `transaction.ack_overdue`, `discussion.updated`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

/// `POST /v1/discussions`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewDiscussion {
    pub partner_id: String,
    pub title: String,
    pub kind: DiscussionKind,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub transaction_ids: Vec<String>,
    pub body: String,
    pub author: Author,
}

/// `PATCH /v1/discussions/{id}`: only the fields present change.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DiscussionPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DiscussionStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_case_id: Option<String>,
}

/// `POST /v1/discussions/{id}/messages`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewMessage {
    pub author: Author,
    pub body: String,
    #[serde(default)]
    pub document_ids: Vec<String>,
}

/// `POST /v1/documents` (JSON with base64 content; documents are small business papers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewDocument {
    pub partner_id: String,
    #[serde(default)]
    pub discussion_id: Option<String>,
    pub name: String,
    pub kind: DocumentKind,
    pub content_type: String,
    /// Standard base64 of the bytes.
    pub content_base64: String,
    pub uploaded_by: Author,
}
