//! The one place Trading Grid wire models become domain records (and back for
//! filters). A tenant whose payloads differ changes this file.

use super::wire;
use crate::domain::*;

fn author_role(role: wire::AuthorRole) -> AuthorRole {
    match role {
        wire::AuthorRole::Partner => AuthorRole::Partner,
        wire::AuthorRole::Operator => AuthorRole::Operator,
        wire::AuthorRole::System => AuthorRole::System,
        wire::AuthorRole::Unknown => AuthorRole::Other,
    }
}

pub(super) fn partner(p: wire::Partner) -> Partner {
    Partner {
        id: PartnerId::from_upstream(p.id),
        name: p.name,
        tier: match p.tier {
            wire::PartnerTier::Strategic => PartnerTier::Strategic,
            wire::PartnerTier::Preferred => PartnerTier::Preferred,
            wire::PartnerTier::Standard => PartnerTier::Standard,
            wire::PartnerTier::Unknown => PartnerTier::Other,
        },
        community_id: p.community_id,
        country: p.country,
        contact_email: p.contact_email,
        created_at: p.created_at,
    }
}

pub(super) fn issue_kind(kind: wire::DiscussionKind) -> IssueKind {
    match kind {
        wire::DiscussionKind::ShipmentDiscrepancy => IssueKind::ShipmentDiscrepancy,
        wire::DiscussionKind::InvoiceDiscrepancy => IssueKind::InvoiceDiscrepancy,
        wire::DiscussionKind::OrderDiscrepancy => IssueKind::OrderDiscrepancy,
        wire::DiscussionKind::ComplianceQuestion => IssueKind::ComplianceQuestion,
        wire::DiscussionKind::Support => IssueKind::Support,
        wire::DiscussionKind::Unknown => IssueKind::Other,
    }
}

pub(super) fn issue_kind_param(kind: IssueKind) -> Option<&'static str> {
    Some(match kind {
        IssueKind::ShipmentDiscrepancy => "shipment_discrepancy",
        IssueKind::InvoiceDiscrepancy => "invoice_discrepancy",
        IssueKind::OrderDiscrepancy => "order_discrepancy",
        IssueKind::ComplianceQuestion => "compliance_question",
        IssueKind::Support => "support",
        IssueKind::Other => return None,
    })
}

pub(super) fn issue_status_param(status: IssueStatus) -> Option<&'static str> {
    Some(match status {
        IssueStatus::Open => "open",
        IssueStatus::Escalated => "escalated",
        IssueStatus::Resolved => "resolved",
        IssueStatus::Closed => "closed",
        IssueStatus::Other => return None,
    })
}

pub(super) fn issue(d: wire::Discussion) -> Issue {
    Issue {
        id: IssueId::from_upstream(d.id),
        partner_id: PartnerId::from_upstream(d.partner_id),
        community_id: d.community_id,
        title: d.title,
        kind: issue_kind(d.kind),
        status: match d.status {
            wire::DiscussionStatus::Open => IssueStatus::Open,
            wire::DiscussionStatus::Escalated => IssueStatus::Escalated,
            wire::DiscussionStatus::Resolved => IssueStatus::Resolved,
            wire::DiscussionStatus::Closed => IssueStatus::Closed,
            wire::DiscussionStatus::Unknown => IssueStatus::Other,
        },
        tags: d.tags,
        transaction_ids: d
            .transaction_ids
            .into_iter()
            .map(TransactionId::from_upstream)
            .collect(),
        case_id: d.linked_case_id.map(CaseId::from_upstream),
        message_count: d.message_count,
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

pub(super) fn message(m: wire::Message) -> Message {
    Message {
        id: m.id,
        issue_id: IssueId::from_upstream(m.discussion_id),
        author_name: m.author.name,
        author_role: author_role(m.author.role),
        body: m.body,
        document_ids: m
            .document_ids
            .into_iter()
            .map(TgDocumentId::from_upstream)
            .collect(),
        created_at: m.created_at,
    }
}

pub(super) fn document(d: wire::Document) -> Document {
    Document {
        id: DocumentId::TradingGrid(TgDocumentId::from_upstream(d.id)),
        partner_id: PartnerId::from_upstream(d.partner_id),
        issue_id: d.discussion_id.map(IssueId::from_upstream),
        case_id: None,
        name: d.name,
        kind: match d.kind {
            wire::DocumentKind::Invoice => DocumentKind::Invoice,
            wire::DocumentKind::PackingList => DocumentKind::PackingList,
            wire::DocumentKind::ProofOfDelivery => DocumentKind::ProofOfDelivery,
            wire::DocumentKind::ComplianceCertificate => DocumentKind::ComplianceCertificate,
            wire::DocumentKind::PurchaseOrder => DocumentKind::PurchaseOrder,
            wire::DocumentKind::Other | wire::DocumentKind::Unknown => DocumentKind::Other,
        },
        content_type: d.content_type,
        size_bytes: d.size_bytes,
        sha256: d.sha256,
        created_at: d.created_at,
    }
}

pub(super) fn transaction_status_param(status: TransactionStatus) -> Option<&'static str> {
    Some(match status {
        TransactionStatus::Delivered => "delivered",
        TransactionStatus::Failed => "failed",
        TransactionStatus::Rejected => "rejected",
        TransactionStatus::AwaitingAcknowledgement => "awaiting_ack",
        TransactionStatus::AcknowledgementOverdue => "ack_overdue",
        TransactionStatus::Other => return None,
    })
}

pub(super) fn transaction(t: wire::Transaction) -> Transaction {
    Transaction {
        id: TransactionId::from_upstream(t.id),
        partner_id: PartnerId::from_upstream(t.partner_id),
        standard: match t.standard {
            wire::EdiStandard::X12 => EdiStandard::X12,
            wire::EdiStandard::Edifact => EdiStandard::Edifact,
            wire::EdiStandard::Unknown => EdiStandard::Other,
        },
        document_type: t.document_type,
        direction: match t.direction {
            wire::Direction::Inbound => Direction::Inbound,
            wire::Direction::Outbound => Direction::Outbound,
            wire::Direction::Unknown => Direction::Other,
        },
        control_number: t.control_number,
        status: match t.status {
            wire::TransactionStatus::Delivered => TransactionStatus::Delivered,
            wire::TransactionStatus::Failed => TransactionStatus::Failed,
            wire::TransactionStatus::Rejected => TransactionStatus::Rejected,
            wire::TransactionStatus::AwaitingAck => TransactionStatus::AwaitingAcknowledgement,
            wire::TransactionStatus::AckOverdue => TransactionStatus::AcknowledgementOverdue,
            wire::TransactionStatus::Unknown => TransactionStatus::Other,
        },
        errors: t
            .errors
            .into_iter()
            .map(|e| TransactionError {
                code: e.code,
                message: e.message,
                segment: e.segment,
            })
            .collect(),
        po_number: t.business_refs.po_number,
        invoice_number: t.business_refs.invoice_number,
        shipment_id: t.business_refs.shipment_id,
        created_at: t.created_at,
        updated_at: t.updated_at,
        acknowledged_at: t.acknowledged_at,
    }
}

fn issue_kind_wire(kind: IssueKind) -> wire::DiscussionKind {
    match kind {
        IssueKind::ShipmentDiscrepancy => wire::DiscussionKind::ShipmentDiscrepancy,
        IssueKind::InvoiceDiscrepancy => wire::DiscussionKind::InvoiceDiscrepancy,
        IssueKind::OrderDiscrepancy => wire::DiscussionKind::OrderDiscrepancy,
        IssueKind::ComplianceQuestion => wire::DiscussionKind::ComplianceQuestion,
        IssueKind::Support | IssueKind::Other => wire::DiscussionKind::Support,
    }
}

fn issue_status_wire(status: IssueStatus) -> Option<wire::DiscussionStatus> {
    Some(match status {
        IssueStatus::Open => wire::DiscussionStatus::Open,
        IssueStatus::Escalated => wire::DiscussionStatus::Escalated,
        IssueStatus::Resolved => wire::DiscussionStatus::Resolved,
        IssueStatus::Closed => wire::DiscussionStatus::Closed,
        IssueStatus::Other => return None,
    })
}

pub(super) fn author(p: &Poster) -> wire::Author {
    wire::Author {
        id: p.id.clone(),
        name: p.name.clone(),
        role: wire::AuthorRole::Operator,
    }
}

pub(super) fn new_discussion(i: &NewIssue) -> wire::NewDiscussion {
    wire::NewDiscussion {
        partner_id: i.partner_id.to_string(),
        title: i.title.clone(),
        kind: issue_kind_wire(i.kind),
        tags: i.tags.clone(),
        transaction_ids: i.transaction_ids.iter().map(|t| t.to_string()).collect(),
        body: i.body.clone(),
        author: author(&i.author),
    }
}

pub(super) fn discussion_patch(p: &IssuePatch) -> wire::DiscussionPatch {
    wire::DiscussionPatch {
        status: p.status.and_then(issue_status_wire),
        tags: p.tags.clone(),
        linked_case_id: p.case_id.as_ref().map(|c| c.to_string()),
    }
}

/// Event types the rules act on.
const KNOWN: [&str; 7] = [
    "discussion.created",
    "discussion.updated",
    "message.created",
    "document.created",
    "transaction.failed",
    "transaction.rejected",
    "transaction.ack_overdue",
];

/// A Trading Grid event (webhook body or feed entry) in the gateway's terms.
pub(crate) fn event(e: wire::Event) -> Result<PlatformEvent, String> {
    fn data<T: serde::de::DeserializeOwned>(v: &serde_json::Value) -> Option<T> {
        serde_json::from_value(v.clone()).ok()
    }
    let kind = match e.event_type.as_str() {
        "discussion.created" => data(&e.data).map(|d| EventKind::IssueOpened(issue(d))),
        "discussion.updated" => data(&e.data).map(|d| EventKind::IssueUpdated(issue(d))),
        "message.created" => data(&e.data).map(|m| EventKind::MessagePosted(message(m))),
        "document.created" => data(&e.data).map(|d| EventKind::DocumentShared(document(d))),
        "transaction.failed" | "transaction.rejected" | "transaction.ack_overdue" => {
            data(&e.data).map(|t| EventKind::TransactionFailed(transaction(t)))
        }
        _ => None,
    }
    .unwrap_or(EventKind::Other(e.event_type));
    if let EventKind::Other(kind) = &kind {
        if KNOWN.contains(&kind.as_str()) {
            // A type we act on whose data we cannot read: never acknowledge it as
            // handled (a failed transaction would vanish); the caller refuses it.
            return Err(format!("`{kind}` event with unreadable data"));
        }
    }
    Ok(PlatformEvent {
        platform: Platform::TradingGrid,
        id: e.id,
        sequence: e.sequence,
        occurred_at: e.occurred_at,
        kind,
        idempotency_key: None,
    })
}

/// Parse a webhook body.
pub(crate) fn parse_event(body: &[u8]) -> Result<PlatformEvent, String> {
    serde_json::from_slice::<wire::Event>(body)
        .map_err(|e| e.to_string())
        .and_then(event)
}

/// Trading Grid error bodies: `{"error": {"code", "message"}}`.
pub(super) fn error(body: &[u8]) -> Option<(String, String)> {
    let body: wire::ErrorBody = serde_json::from_slice(body).ok()?;
    Some((body.error.code, body.error.message))
}
