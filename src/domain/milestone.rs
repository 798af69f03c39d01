//! The one mapping from Core Case's internal status to what a partner may see.
//!
//! Partners follow a case through four milestones; the internal workflow states
//! behind them (triage, on hold, …) are case-worker detail and never leave the gateway.

use async_graphql::Enum;

/// The partner-safe progress of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Milestone {
    /// The case exists and will be looked at.
    Received,
    /// Someone is working on it.
    UnderReview,
    /// The case is waiting for documents or answers from the partner.
    AwaitingDocuments,
    /// The case is resolved (or closed).
    Resolved,
}

/// Internal case status, as the gateway understands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Enum, serde::Serialize, serde::Deserialize)]
#[graphql(rename_items = "SCREAMING_SNAKE_CASE")]
pub enum CaseStatus {
    /// Just opened.
    New,
    /// Being assessed and routed.
    Triage,
    /// Being worked on.
    InProgress,
    /// Waiting for documents or answers from the partner.
    WaitingOnPartner,
    /// Paused (e.g. waiting on a third party).
    OnHold,
    /// Resolved.
    Resolved,
    /// Closed after resolution.
    Closed,
    /// A status this gateway does not know yet.
    Other,
}

impl CaseStatus {
    pub const ALL: [CaseStatus; 7] = [
        CaseStatus::New,
        CaseStatus::Triage,
        CaseStatus::InProgress,
        CaseStatus::WaitingOnPartner,
        CaseStatus::OnHold,
        CaseStatus::Resolved,
        CaseStatus::Closed,
    ];

    /// The milestone a partner sees for this status. Unknown statuses show as
    /// under review: never claim resolved or awaiting-documents without knowing.
    pub fn milestone(self) -> Milestone {
        match self {
            CaseStatus::New | CaseStatus::Triage => Milestone::Received,
            CaseStatus::InProgress | CaseStatus::OnHold | CaseStatus::Other => {
                Milestone::UnderReview
            }
            CaseStatus::WaitingOnPartner => Milestone::AwaitingDocuments,
            CaseStatus::Resolved | CaseStatus::Closed => Milestone::Resolved,
        }
    }
}

impl Milestone {
    /// The internal statuses that show as this milestone (for filtering upstream).
    pub fn statuses(self) -> Vec<CaseStatus> {
        CaseStatus::ALL
            .into_iter()
            .filter(|s| s.milestone() == self)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_known_status_maps_to_exactly_one_milestone_and_back() {
        for status in CaseStatus::ALL {
            assert!(status.milestone().statuses().contains(&status));
        }
        assert_eq!(
            Milestone::AwaitingDocuments.statuses(),
            vec![CaseStatus::WaitingOnPartner]
        );
    }

    #[test]
    fn an_unknown_status_is_never_shown_as_resolved() {
        assert_eq!(CaseStatus::Other.milestone(), Milestone::UnderReview);
    }
}
