//! Workflow steps: each one upstream write, serializable so a step that failed can
//! wait in the outbox and run later, and each carrying an idempotency key so that
//! running it again never writes twice.
//!
//! Steps hold domain types. Their JSON is the outbox's persisted format, so the
//! enums keep the spelling earlier versions wrote (`"waiting_on_partner"`,
//! `"customer_service"`, `"RECEIVED"`), and a value this version does not know is
//! an error when the entry is read, never quietly turned into another value.

use serde::{Deserialize, Serialize};

use crate::domain::*;
use crate::events::MilestoneEvent;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Step {
    /// Attach a community document to a case.
    LinkEvidence { case_id: CaseId, link: EvidenceLink },
    /// Route a task to a team.
    CreateTask {
        case_id: CaseId,
        title: String,
        #[serde(with = "team_wire")]
        team: Team,
    },
    /// An internal note on the case.
    AddNote { case_id: CaseId, body: String },
    /// Point the discussion at its case and mark it escalated.
    LinkDiscussion {
        discussion_id: IssueId,
        case_id: CaseId,
    },
    /// Post a partner-safe message in the community discussion.
    PostMessage {
        discussion_id: IssueId,
        body: String,
    },
    /// Move the case's internal status.
    SetCaseStatus {
        case_id: CaseId,
        #[serde(with = "case_status_wire")]
        status: CaseStatus,
    },
    /// Move the discussion's status.
    SetDiscussionStatus {
        discussion_id: IssueId,
        #[serde(with = "issue_status_wire")]
        status: IssueStatus,
    },
    /// Publish a partner-safe milestone on the bus.
    PublishMilestone {
        case_id: CaseId,
        case_number: String,
        partner_id: PartnerId,
        milestone: Milestone,
        message: Option<String>,
    },
}

/// The persisted names of the enums steps carry: one table each, read both ways,
/// so writing and reading can never disagree. `Other` (a value a platform sent
/// that this gateway does not know) has no name: a step never targets it.
macro_rules! wire_names {
    ($module:ident, $ty:ty, $what:literal, [$($variant:expr => $name:literal),+ $(,)?]) => {
        pub(crate) mod $module {
            use super::*;

            pub(crate) const NAMES: &[($ty, &str)] = &[$(($variant, $name)),+];

            pub(crate) fn name(v: $ty) -> Option<&'static str> {
                NAMES.iter().find(|(x, _)| *x == v).map(|(_, n)| *n)
            }

            pub(crate) fn parse(s: &str) -> Option<$ty> {
                NAMES.iter().find(|(_, n)| *n == s).map(|(x, _)| *x)
            }

            pub(crate) fn serialize<S: serde::Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                match name(*v) {
                    Some(n) => s.serialize_str(n),
                    None => Err(serde::ser::Error::custom(format!(
                        concat!("no step targets the ", $what, " {:?}"),
                        v
                    ))),
                }
            }

            pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let s = String::deserialize(d)?;
                parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(format!(concat!("unknown ", $what, " `{}`"), s))
                })
            }
        }
    };
}

wire_names!(team_wire, Team, "team", [
    Team::Legal => "legal",
    Team::Compliance => "compliance",
    Team::Operations => "operations",
    Team::Finance => "finance",
    Team::CustomerService => "customer_service",
]);

wire_names!(case_status_wire, CaseStatus, "case status", [
    CaseStatus::New => "new",
    CaseStatus::Triage => "triage",
    CaseStatus::InProgress => "in_progress",
    CaseStatus::WaitingOnPartner => "waiting_on_partner",
    CaseStatus::OnHold => "on_hold",
    CaseStatus::Resolved => "resolved",
    CaseStatus::Closed => "closed",
]);

wire_names!(issue_status_wire, IssueStatus, "discussion status", [
    IssueStatus::Open => "open",
    IssueStatus::Escalated => "escalated",
    IssueStatus::Resolved => "resolved",
    IssueStatus::Closed => "closed",
]);

/// A team's name in step keys and descriptions.
pub(crate) fn team_name(t: Team) -> &'static str {
    team_wire::name(t).unwrap_or("other")
}

/// A milestone's name as partners and the API spell it.
pub(crate) fn milestone_name(m: Milestone) -> &'static str {
    match m {
        Milestone::Received => "RECEIVED",
        Milestone::UnderReview => "UNDER_REVIEW",
        Milestone::AwaitingDocuments => "AWAITING_DOCUMENTS",
        Milestone::Resolved => "RESOLVED",
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
            Step::CreateTask { case_id, team, .. } => {
                format!("create a {} task on {case_id}", team_name(*team))
            }
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
            Step::SetCaseStatus { case_id, status } => format!(
                "set {case_id} to {}",
                case_status_wire::name(*status).unwrap_or("other")
            ),
            Step::SetDiscussionStatus {
                discussion_id,
                status,
            } => {
                format!(
                    "set discussion {discussion_id} to {}",
                    issue_status_wire::name(*status).unwrap_or("other")
                )
            }
            Step::PublishMilestone {
                case_id, milestone, ..
            } => {
                format!(
                    "publish milestone {} of {case_id}",
                    milestone_name(*milestone)
                )
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
                case_id: case_id.clone(),
                case_number: case_number.clone(),
                partner_id: partner_id.clone(),
                milestone: *milestone,
                message: message.clone(),
                at: chrono::Utc::now(),
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn steps_written_by_the_previous_version_still_read() {
        let old = [
            json!({ "kind": "create_task", "case_id": "CASE-000001", "title": "Legal review",
                    "team": "customer_service" }),
            json!({ "kind": "set_case_status", "case_id": "CASE-000001",
                    "status": "waiting_on_partner" }),
            json!({ "kind": "set_discussion_status", "discussion_id": "DSC-000001",
                    "status": "resolved" }),
            json!({ "kind": "publish_milestone", "case_id": "CASE-000001", "case_number": "CC-1",
                    "partner_id": "TP-0001", "milestone": "AWAITING_DOCUMENTS", "message": null }),
        ];
        let read: Vec<Step> = old
            .iter()
            .map(|j| serde_json::from_value(j.clone()).unwrap())
            .collect();
        assert_eq!(
            read[0],
            Step::CreateTask {
                case_id: CaseId::from_upstream("CASE-000001".into()),
                title: "Legal review".into(),
                team: Team::CustomerService,
            }
        );
        assert!(matches!(
            read[1],
            Step::SetCaseStatus {
                status: CaseStatus::WaitingOnPartner,
                ..
            }
        ));
        assert!(matches!(
            read[2],
            Step::SetDiscussionStatus {
                status: IssueStatus::Resolved,
                ..
            }
        ));
        assert!(matches!(
            read[3],
            Step::PublishMilestone {
                milestone: Milestone::AwaitingDocuments,
                ..
            }
        ));
        // And they are written the same way again.
        for (step, json) in read.iter().zip(&old) {
            assert_eq!(&serde_json::to_value(step).unwrap(), json);
        }
    }

    #[test]
    fn an_unknown_value_in_a_stored_step_is_an_error_not_a_default() {
        for bad in [
            json!({ "kind": "publish_milestone", "case_id": "CASE-1", "case_number": "CC-1",
                    "partner_id": "TP-1", "milestone": "ESCALATED", "message": null }),
            json!({ "kind": "create_task", "case_id": "CASE-1", "title": "t", "team": "marketing" }),
            json!({ "kind": "set_case_status", "case_id": "CASE-1", "status": "archived" }),
            json!({ "kind": "set_discussion_status", "discussion_id": "DSC-1", "status": "muted" }),
        ] {
            assert!(
                serde_json::from_value::<Step>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_step_aimed_at_an_unknown_value_cannot_be_written() {
        let step = Step::SetCaseStatus {
            case_id: CaseId::from_upstream("CASE-1".into()),
            status: CaseStatus::Other,
        };
        assert!(serde_json::to_value(&step).is_err());
    }
}
