//! The one place Core Case wire models become domain records (and back for
//! filters). A tenant whose payloads differ changes this file.

use super::wire;
use crate::domain::*;

pub(super) fn status(s: wire::CaseStatus) -> CaseStatus {
    match s {
        wire::CaseStatus::New => CaseStatus::New,
        wire::CaseStatus::Triage => CaseStatus::Triage,
        wire::CaseStatus::InProgress => CaseStatus::InProgress,
        wire::CaseStatus::WaitingOnPartner => CaseStatus::WaitingOnPartner,
        wire::CaseStatus::OnHold => CaseStatus::OnHold,
        wire::CaseStatus::Resolved => CaseStatus::Resolved,
        wire::CaseStatus::Closed => CaseStatus::Closed,
        wire::CaseStatus::Unknown => CaseStatus::Other,
    }
}

pub(super) fn status_param(s: CaseStatus) -> Option<&'static str> {
    Some(match s {
        CaseStatus::New => "new",
        CaseStatus::Triage => "triage",
        CaseStatus::InProgress => "in_progress",
        CaseStatus::WaitingOnPartner => "waiting_on_partner",
        CaseStatus::OnHold => "on_hold",
        CaseStatus::Resolved => "resolved",
        CaseStatus::Closed => "closed",
        CaseStatus::Other => return None,
    })
}

pub(super) fn type_param(t: CaseType) -> Option<&'static str> {
    Some(match t {
        CaseType::Dispute => "dispute",
        CaseType::TransactionException => "transaction_exception",
        CaseType::ComplianceReview => "compliance_review",
        CaseType::SupportEscalation => "support_escalation",
        CaseType::Other => return None,
    })
}

fn team(t: wire::Team) -> Team {
    match t {
        wire::Team::Legal => Team::Legal,
        wire::Team::Compliance => Team::Compliance,
        wire::Team::Operations => Team::Operations,
        wire::Team::Finance => Team::Finance,
        wire::Team::CustomerService => Team::CustomerService,
        wire::Team::Unknown => Team::Other,
    }
}

const TRADING_GRID: &str = "trading-grid";

fn origin(r: Option<wire::ExternalRef>) -> CaseOrigin {
    match r {
        Some(r) if r.system == TRADING_GRID && r.kind == "discussion" => {
            CaseOrigin::Issue(IssueId::from_upstream(r.id))
        }
        Some(r) if r.system == TRADING_GRID && r.kind == "transaction" => CaseOrigin::Transactions(
            r.id.split(',')
                .map(|id| TransactionId::from_upstream(id.to_owned()))
                .collect(),
        ),
        _ => CaseOrigin::Other,
    }
}

pub(super) fn case(c: wire::Case) -> Case {
    Case {
        id: CaseId::from_upstream(c.id),
        number: c.number,
        case_type: match c.case_type {
            wire::CaseType::Dispute => CaseType::Dispute,
            wire::CaseType::TransactionException => CaseType::TransactionException,
            wire::CaseType::ComplianceReview => CaseType::ComplianceReview,
            wire::CaseType::SupportEscalation => CaseType::SupportEscalation,
            wire::CaseType::Unknown => CaseType::Other,
        },
        status: status(c.status),
        priority: match c.priority {
            wire::Priority::Low => Priority::Low,
            wire::Priority::Medium => Priority::Medium,
            wire::Priority::High => Priority::High,
            wire::Priority::Critical => Priority::Critical,
            wire::Priority::Unknown => Priority::Other,
        },
        title: c.title,
        description: c.description,
        assignee: c.assignee.map(|a| a.name),
        team: team(c.team),
        sla_due_at: c.sla_due_at,
        partner_id: PartnerId::from_upstream(c.partner_id),
        origin: origin(c.external_ref),
        transaction_ids: c
            .transaction_ids
            .into_iter()
            .map(TransactionId::from_upstream)
            .collect(),
        opened_at: c.opened_at,
        updated_at: c.updated_at,
        resolved_at: c.resolved_at,
    }
}

pub(super) fn evidence(d: wire::CaseDocument) -> Evidence {
    Evidence {
        id: EvidenceId::from_upstream(d.id),
        case_id: CaseId::from_upstream(d.case_id),
        source: d
            .source
            .filter(|s| s.system == TRADING_GRID)
            .map(|s| TgDocumentId::from_upstream(s.document_id)),
        name: d.name,
        content_type: d.content_type,
        size_bytes: d.size_bytes,
        sha256: d.sha256,
        linked_at: d.linked_at,
    }
}

pub(super) fn task(t: wire::Task) -> Task {
    Task {
        id: t.id,
        case_id: CaseId::from_upstream(t.case_id),
        title: t.title,
        team: team(t.team),
        state: match t.state {
            wire::TaskState::Open => TaskState::Open,
            wire::TaskState::InProgress => TaskState::InProgress,
            wire::TaskState::Done => TaskState::Done,
            wire::TaskState::Cancelled => TaskState::Cancelled,
            wire::TaskState::Unknown => TaskState::Other,
        },
        assignee: t.assignee.map(|a| a.name),
        due_at: t.due_at,
    }
}

pub(super) fn note(n: wire::Note) -> Note {
    Note {
        id: n.id,
        case_id: CaseId::from_upstream(n.case_id),
        author: n.author.name,
        body: n.body,
        created_at: n.created_at,
    }
}

pub(super) fn history(h: wire::HistoryEntry) -> HistoryEntry {
    HistoryEntry {
        id: h.id,
        case_id: CaseId::from_upstream(h.case_id),
        at: h.at,
        actor: h.actor.name,
        action: h.action,
        from_status: h.from_status.map(status),
        to_status: h.to_status.map(status),
        detail: h.detail,
    }
}

pub(super) fn resolution(r: wire::Resolution) -> Resolution {
    Resolution {
        id: r.id,
        case_id: CaseId::from_upstream(r.case_id),
        summary: r.summary,
        root_cause: r.root_cause,
        corrective_actions: r.corrective_actions,
        resolved_at: r.resolved_at,
        shared_with_partner: r.shared_with_partner,
    }
}

/// Core Case error bodies: `{"code", "message", …}`.
pub(super) fn error(body: &[u8]) -> Option<(String, String)> {
    let body: wire::ErrorBody = serde_json::from_slice(body).ok()?;
    Some((body.code, body.message))
}
