//! Workflow steps: each one upstream write, serializable so a step that failed can
//! wait in the outbox and run later, and each carrying an idempotency key so that
//! running it again never writes twice.

use serde::{Deserialize, Serialize};

use crate::domain::*;
use crate::events::MilestoneEvent;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Attach a community document to a case.
    LinkEvidence { case_id: String, link: EvidenceLink },
    /// Route a task to a team.
    CreateTask {
        case_id: String,
        title: String,
        team: String,
    },
    /// An internal note on the case.
    AddNote { case_id: String, body: String },
    /// Point the discussion at its case and mark it escalated.
    LinkDiscussion {
        discussion_id: String,
        case_id: String,
    },
    /// Post a partner-safe message in the community discussion.
    PostMessage { discussion_id: String, body: String },
    /// Move the case's internal status.
    SetCaseStatus { case_id: String, status: String },
    /// Move the discussion's status.
    SetDiscussionStatus {
        discussion_id: String,
        status: String,
    },
    /// Publish a partner-safe milestone on the bus.
    PublishMilestone {
        case_id: String,
        case_number: String,
        partner_id: String,
        milestone: String,
        message: Option<String>,
    },
}

pub(crate) fn team_name(t: Team) -> &'static str {
    match t {
        Team::Legal => "legal",
        Team::Compliance => "compliance",
        Team::Operations | Team::Other => "operations",
        Team::Finance => "finance",
        Team::CustomerService => "customer_service",
    }
}

pub(crate) fn team_from(s: &str) -> Team {
    match s {
        "legal" => Team::Legal,
        "compliance" => Team::Compliance,
        "finance" => Team::Finance,
        "customer_service" => Team::CustomerService,
        _ => Team::Operations,
    }
}

pub(crate) fn status_name(s: CaseStatus) -> &'static str {
    match s {
        CaseStatus::New => "new",
        CaseStatus::Triage => "triage",
        CaseStatus::InProgress | CaseStatus::Other => "in_progress",
        CaseStatus::WaitingOnPartner => "waiting_on_partner",
        CaseStatus::OnHold => "on_hold",
        CaseStatus::Resolved => "resolved",
        CaseStatus::Closed => "closed",
    }
}

pub(crate) fn status_from(s: &str) -> CaseStatus {
    CaseStatus::ALL
        .into_iter()
        .find(|c| status_name(*c) == s)
        .unwrap_or(CaseStatus::Other)
}

pub(crate) fn issue_status_from(s: &str) -> IssueStatus {
    match s {
        "escalated" => IssueStatus::Escalated,
        "resolved" => IssueStatus::Resolved,
        "closed" => IssueStatus::Closed,
        _ => IssueStatus::Open,
    }
}

pub(crate) fn milestone_name(m: Milestone) -> &'static str {
    match m {
        Milestone::Received => "RECEIVED",
        Milestone::UnderReview => "UNDER_REVIEW",
        Milestone::AwaitingDocuments => "AWAITING_DOCUMENTS",
        Milestone::Resolved => "RESOLVED",
    }
}

pub(crate) fn milestone_from(s: &str) -> Milestone {
    match s {
        "RECEIVED" => Milestone::Received,
        "AWAITING_DOCUMENTS" => Milestone::AwaitingDocuments,
        "RESOLVED" => Milestone::Resolved,
        _ => Milestone::UnderReview,
    }
}

impl Step {
    /// The activity line this step leaves.
    pub fn action(&self) -> &'static str {
        match self {
            Step::LinkEvidence { .. } => "evidence_linked",
            Step::CreateTask { .. } => "task_created",
            Step::AddNote { .. } => "note_added",
            Step::LinkDiscussion { .. } => "discussion_linked",
            Step::PostMessage { .. } => "community_message_posted",
            Step::SetCaseStatus { .. } => "case_status_set",
            Step::SetDiscussionStatus { .. } => "discussion_status_set",
            Step::PublishMilestone { .. } => "milestone_published",
        }
    }

    /// A human description, for `pendingSteps`.
    pub fn describe(&self) -> String {
        match self {
            Step::LinkEvidence { case_id, link } => {
                format!("link {} to {case_id}", link.document_id)
            }
            Step::CreateTask { case_id, team, .. } => format!("create a {team} task on {case_id}"),
            Step::AddNote { case_id, .. } => format!("add an internal note to {case_id}"),
            Step::LinkDiscussion {
                discussion_id,
                case_id,
            } => {
                format!("link discussion {discussion_id} to {case_id}")
            }
            Step::PostMessage { discussion_id, .. } => {
                format!("post a community message in {discussion_id}")
            }
            Step::SetCaseStatus { case_id, status } => format!("set {case_id} to {status}"),
            Step::SetDiscussionStatus {
                discussion_id,
                status,
            } => {
                format!("set discussion {discussion_id} to {status}")
            }
            Step::PublishMilestone {
                case_id, milestone, ..
            } => {
                format!("publish milestone {milestone} of {case_id}")
            }
        }
    }

    pub(crate) fn milestone_event(&self) -> Option<MilestoneEvent> {
        match self {
            Step::PublishMilestone {
                case_id,
                case_number,
                partner_id,
                milestone,
                message,
            } => Some(MilestoneEvent {
                cursor: String::new(),
                case_id: CaseId::from_upstream(case_id.clone()),
                case_number: case_number.clone(),
                partner_id: PartnerId::from_upstream(partner_id.clone()),
                milestone: milestone_from(milestone),
                message: message.clone(),
                at: chrono::Utc::now(),
            }),
            _ => None,
        }
    }
}
