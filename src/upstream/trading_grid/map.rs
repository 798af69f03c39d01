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

/// Trading Grid error bodies: `{"error": {"code", "message"}}`.
pub(super) fn error(body: &[u8]) -> Option<(String, String)> {
    let body: wire::ErrorBody = serde_json::from_slice(body).ok()?;
    Some((body.error.code, body.error.message))
}
