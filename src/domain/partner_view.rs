//! What may be said to a partner about a case. [`PartnerCaseView`] is built from a
//! case and has no internal field to leak (no notes, assignee, internal status,
//! tasks, description); every community message and milestone event is rendered
//! from it plus text an agent wrote *for* the partner. The discussion the gateway
//! opens for a transaction exception is written here too, from the transactions
//! alone. Pure functions: the workflows decide when, this module says what.

use super::milestone::Milestone;
use super::records::{Case, CaseType, DocumentKind, Transaction};

/// The partner-safe face of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerCaseView {
    pub number: String,
    pub milestone: Milestone,
    pub case_type: CaseType,
}

impl From<&Case> for PartnerCaseView {
    fn from(c: &Case) -> Self {
        Self {
            number: c.number.clone(),
            milestone: c.status.milestone(),
            case_type: c.case_type,
        }
    }
}

pub fn milestone_label(m: Milestone) -> &'static str {
    match m {
        Milestone::Received => "Received",
        Milestone::UnderReview => "Under review",
        Milestone::AwaitingDocuments => "Awaiting documents",
        Milestone::Resolved => "Resolved",
    }
}

fn kind_label(k: DocumentKind) -> &'static str {
    match k {
        DocumentKind::Invoice => "invoice",
        DocumentKind::PackingList => "packing list",
        DocumentKind::ProofOfDelivery => "proof of delivery",
        DocumentKind::ComplianceCertificate => "compliance certificate",
        DocumentKind::PurchaseOrder => "purchase order",
        DocumentKind::Other => "supporting document",
    }
}

fn what(v: &PartnerCaseView) -> &'static str {
    match v.case_type {
        CaseType::Dispute => "dispute",
        CaseType::TransactionException => "transaction exception",
        CaseType::ComplianceReview => "compliance review",
        CaseType::SupportEscalation | CaseType::Other => "request",
    }
}

/// Posted when a case is opened for a partner's issue.
pub fn received_message(v: &PartnerCaseView) -> String {
    format!(
        "We have opened case {} for this {}. Status: {}. We will keep you posted here.",
        v.number,
        what(v),
        milestone_label(v.milestone)
    )
}

/// Posted when the milestone is published, with an optional note for the partner.
pub fn milestone_message(v: &PartnerCaseView, note: Option<&str>) -> String {
    let mut s = format!(
        "Case {} status: {}.",
        v.number,
        milestone_label(v.milestone)
    );
    if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
        s.push(' ');
        s.push_str(n);
    }
    s
}

/// Posted when a resolved case is moved back to work.
pub fn reopened_note() -> &'static str {
    "This case has been reopened."
}

/// The title of the discussion opened for a transaction exception.
pub fn exception_discussion_title(txs: &[Transaction]) -> String {
    format!(
        "Transaction exception: {}",
        txs.iter()
            .map(|t| format!("{} {} ({:?})", t.document_type, t.control_number, t.status))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The first message of the discussion opened for a transaction exception.
pub fn exception_discussion_body(txs: &[Transaction]) -> String {
    format!(
        "We detected a problem with the following transaction(s) and are looking into it:\n{}",
        txs.iter()
            .map(|t| format!(
                "- {} {} control number {}",
                t.id, t.document_type, t.control_number
            ))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Asks the partner for documents.
pub fn documents_requested_message(
    v: &PartnerCaseView,
    kinds: &[DocumentKind],
    note: &str,
) -> String {
    let list: Vec<&str> = kinds.iter().map(|k| kind_label(*k)).collect();
    format!(
        "Case {} status: {}. To continue we need: {}. {} Please attach them in this discussion.",
        v.number,
        milestone_label(Milestone::AwaitingDocuments),
        list.join(", "),
        note.trim()
    )
}

/// The closing message: what was decided, why, and what changes.
pub fn resolution_message(
    v: &PartnerCaseView,
    summary: &str,
    root_cause: &str,
    actions: &[String],
) -> String {
    let mut s = format!(
        "Case {} is resolved.\n\nSummary: {}\nRoot cause: {}",
        v.number,
        summary.trim(),
        root_cause.trim()
    );
    if !actions.is_empty() {
        s.push_str("\nCorrective actions:");
        for a in actions {
            s.push_str("\n- ");
            s.push_str(a.trim());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;

    #[test]
    fn messages_carry_the_milestone_and_nothing_internal() {
        let case = Case {
            id: CaseId::from_upstream("CASE-1".into()),
            number: "CC-1".into(),
            case_type: CaseType::Dispute,
            status: CaseStatus::OnHold,
            priority: Priority::High,
            title: "[internal] carrier blamed".into(),
            description: "[internal] do not share".into(),
            assignee: Some("Dana Internal".into()),
            team: Team::Finance,
            sla_due_at: None,
            partner_id: PartnerId::from_upstream("TP-1".into()),
            origin: CaseOrigin::Other,
            transaction_ids: vec![],
            opened_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            resolved_at: None,
            version: 1,
        };
        let v = PartnerCaseView::from(&case);
        for m in [
            received_message(&v),
            milestone_message(&v, Some("Thanks for your patience.")),
            documents_requested_message(&v, &[DocumentKind::Invoice], "For the March shipment."),
        ] {
            assert!(m.contains("CC-1"));
            assert!(!m.contains("internal") && !m.contains("Dana") && !m.contains("ON_HOLD"));
        }
        assert!(milestone_message(&v, None).contains("Under review"));
    }

    fn failed(id: &str, control: &str) -> Transaction {
        Transaction {
            id: TransactionId::from_upstream(id.into()),
            partner_id: PartnerId::from_upstream("TP-1".into()),
            standard: EdiStandard::X12,
            document_type: "856".into(),
            direction: Direction::Outbound,
            control_number: control.into(),
            status: TransactionStatus::Rejected,
            errors: vec![TransactionError {
                code: "E42".into(),
                message: "[internal] parser stack trace".into(),
                segment: None,
            }],
            po_number: None,
            invoice_number: None,
            shipment_id: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
            acknowledged_at: None,
        }
    }

    #[test]
    fn an_exception_discussion_names_each_transaction_and_no_internal_error() {
        let txs = [failed("TX-1", "000101"), failed("TX-2", "000102")];
        assert_eq!(
            exception_discussion_title(&txs),
            "Transaction exception: 856 000101 (Rejected), 856 000102 (Rejected)"
        );
        let body = exception_discussion_body(&txs);
        assert!(body.starts_with("We detected a problem"));
        assert!(body.contains("- TX-1 856 control number 000101\n- TX-2 856 control number 000102"));
        assert!(!body.contains("E42") && !body.contains("internal"));
    }

    #[test]
    fn a_resolution_lists_its_corrective_actions_trimmed() {
        let v = PartnerCaseView {
            number: "CC-9".into(),
            milestone: Milestone::Resolved,
            case_type: CaseType::Dispute,
        };
        assert_eq!(
            resolution_message(&v, " Credited ", "Wrong rate", &[" Fix the rate table ".into()]),
            "Case CC-9 is resolved.\n\nSummary: Credited\nRoot cause: Wrong rate\nCorrective actions:\n- Fix the rate table"
        );
        assert_eq!(
            milestone_message(&v, Some(reopened_note())),
            "Case CC-9 status: Resolved. This case has been reopened."
        );
    }
}
