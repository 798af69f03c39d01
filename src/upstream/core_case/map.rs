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
            r.id.split(['.', ','])
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
        version: c.version,
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

/// The external reference a case of this origin carries: its natural key.
/// Several transactions join sorted with `.` (not part of any id).
pub(crate) fn external_ref(origin: &CaseOrigin) -> Option<wire::ExternalRef> {
    match origin {
        CaseOrigin::Issue(id) => Some(wire::ExternalRef {
            system: TRADING_GRID.into(),
            kind: "discussion".into(),
            id: id.to_string(),
        }),
        CaseOrigin::Transactions(ids) => {
            let mut ids: Vec<&str> = ids.iter().map(|t| t.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            Some(wire::ExternalRef {
                system: TRADING_GRID.into(),
                kind: "transaction".into(),
                id: ids.join("."),
            })
        }
        CaseOrigin::Other => None,
    }
}

pub(super) fn status_wire(s: CaseStatus) -> Option<wire::CaseStatus> {
    Some(match s {
        CaseStatus::New => wire::CaseStatus::New,
        CaseStatus::Triage => wire::CaseStatus::Triage,
        CaseStatus::InProgress => wire::CaseStatus::InProgress,
        CaseStatus::WaitingOnPartner => wire::CaseStatus::WaitingOnPartner,
        CaseStatus::OnHold => wire::CaseStatus::OnHold,
        CaseStatus::Resolved => wire::CaseStatus::Resolved,
        CaseStatus::Closed => wire::CaseStatus::Closed,
        CaseStatus::Other => return None,
    })
}

pub(super) fn team_wire(t: Team) -> wire::Team {
    match t {
        Team::Legal => wire::Team::Legal,
        Team::Compliance => wire::Team::Compliance,
        Team::Operations | Team::Other => wire::Team::Operations,
        Team::Finance => wire::Team::Finance,
        Team::CustomerService => wire::Team::CustomerService,
    }
}

pub(super) fn new_case(c: &NewCase) -> wire::NewCase {
    wire::NewCase {
        case_type: match c.case_type {
            CaseType::Dispute => wire::CaseType::Dispute,
            CaseType::TransactionException => wire::CaseType::TransactionException,
            CaseType::ComplianceReview => wire::CaseType::ComplianceReview,
            CaseType::SupportEscalation | CaseType::Other => wire::CaseType::SupportEscalation,
        },
        priority: match c.priority {
            Priority::Low => wire::Priority::Low,
            Priority::Medium | Priority::Other => wire::Priority::Medium,
            Priority::High => wire::Priority::High,
            Priority::Critical => wire::Priority::Critical,
        },
        title: c.title.clone(),
        description: c.description.clone(),
        team: team_wire(c.team),
        partner_id: c.partner_id.to_string(),
        external_ref: external_ref(&c.origin),
        transaction_ids: c.transaction_ids.iter().map(|t| t.to_string()).collect(),
    }
}

/// Event types the rules act on.
const KNOWN: [&str; 3] = ["case.created", "case.status_changed", "case.resolved"];

/// A Core Case event (webhook body or feed entry) in the gateway's terms.
pub(crate) fn event(e: wire::Event) -> Result<PlatformEvent, String> {
    fn field<T: serde::de::DeserializeOwned>(v: &serde_json::Value, name: &str) -> Option<T> {
        serde_json::from_value(v.get(name)?.clone()).ok()
    }
    let kind = match e.event_type.as_str() {
        "case.created" => field(&e.data, "case").map(|c| EventKind::CaseCreated(case(c))),
        "case.status_changed" => (|| {
            let c: wire::Case = field(&e.data, "case")?;
            let from: wire::CaseStatus = field(&e.data, "from")?;
            let to: wire::CaseStatus = field(&e.data, "to")?;
            Some(EventKind::CaseStatusChanged {
                case: case(c),
                from: status(from),
                to: status(to),
            })
        })(),
        "case.resolved" => (|| {
            let c: wire::Case = field(&e.data, "case")?;
            let r: wire::Resolution = field(&e.data, "resolution")?;
            Some(EventKind::CaseResolved {
                case: case(c),
                resolution: resolution(r),
            })
        })(),
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
        platform: Platform::CoreCase,
        id: e.id,
        sequence: e.sequence,
        occurred_at: e.occurred_at,
        kind,
        idempotency_key: e.idempotency_key,
    })
}

/// Parse a webhook body.
pub(crate) fn parse_event(body: &[u8]) -> Result<PlatformEvent, String> {
    serde_json::from_slice::<wire::Event>(body)
        .map_err(|e| e.to_string())
        .and_then(event)
}

/// Core Case error bodies: `{"code", "message", …}`.
pub(super) fn error(body: &[u8]) -> Option<(String, String)> {
    let body: wire::ErrorBody = serde_json::from_slice(body).ok()?;
    Some((body.code, body.message))
}
