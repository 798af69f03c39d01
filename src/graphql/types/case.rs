//! `Case` and `Resolution`: Core Case's side of an issue. Partner-safe fields are
//! open to the case's partner; internal ones are guarded by `InternalOnly`.

use async_graphql::{Context, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::{Document, InternalOnly, PartnerIssue, TradingPartner, Transaction};
use crate::auth::policy;
use crate::domain::{self, CaseOrigin, CaseStatus, CaseType, Milestone, Priority, TaskState, Team};
use crate::graphql::loaders::{
    EvidenceOfCase, HistoryOfCase, NotesOfCase, ResolutionOfCase, TasksOfCase,
};
use crate::graphql::{fetch, scope};

/// A Core Case case tracking a partner issue or failed transactions.
pub(crate) struct Case(pub domain::Case);

/// A Core Case case tracking a partner issue or failed transactions.
#[Object]
impl Case {
    /// Core Case case id, e.g. `CASE-000001`.
    pub(crate) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }
    /// Human-facing case number, e.g. `CC-2026-000001`.
    async fn number(&self) -> &str {
        &self.0.number
    }
    /// What kind of case it is.
    #[graphql(name = "type")]
    async fn case_type(&self) -> CaseType {
        self.0.case_type
    }
    /// Partner-safe progress: RECEIVED, UNDER_REVIEW, AWAITING_DOCUMENTS or RESOLVED.
    async fn milestone(&self) -> Milestone {
        self.0.status.milestone()
    }
    /// When the case was opened.
    async fn opened_at(&self) -> DateTime<Utc> {
        self.0.opened_at
    }
    /// Last change on the case.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// When the case was resolved, if it is.
    async fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolved_at
    }
    /// The partner the case is about.
    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TradingPartner>> {
        fetch::partner(ctx, &self.0.partner_id).await
    }
    /// The issue (community discussion) the case was opened from, if any.
    async fn issue(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PartnerIssue>> {
        match &self.0.origin {
            CaseOrigin::Issue(id) => fetch::issue(ctx, id).await,
            _ => Ok(None),
        }
    }
    /// Transactions the case covers.
    async fn transactions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<Transaction>>> {
        fetch::transactions(ctx, &self.0.transaction_ids)
            .await
            .map(Some)
    }
    /// Documents attached as evidence. Partners see the community documents among them.
    async fn evidence(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<Document>>> {
        let s = scope(ctx)?;
        let entries = s
            .loaders
            .cc
            .load_one(EvidenceOfCase(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        fetch::evidence_documents(ctx, &entries, &self.0.partner_id)
            .await
            .map(Some)
    }
    /// The resolution, once there is one. Partners see it once it is shared with them.
    async fn resolution(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Resolution>> {
        let s = scope(ctx)?;
        let r = s
            .loaders
            .cc
            .load_one(ResolutionOfCase(self.0.id.clone()))
            .await?;
        Ok(r.filter(|r| policy::can_see_resolution(&s.principal, r))
            .map(Resolution))
    }

    /// Internal workflow status. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn status(&self) -> CaseStatus {
        self.0.status
    }
    /// Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn priority(&self) -> Priority {
        self.0.priority
    }
    /// Internal title. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// Internal description. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Case worker the case is assigned to. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn assignee(&self) -> Option<&str> {
        self.0.assignee.as_deref()
    }
    /// Owning team. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn team(&self) -> Team {
        self.0.team
    }
    /// When the case is due under its SLA. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn sla_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.sla_due_at
    }
    /// Tasks routed to teams. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn tasks(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<CaseTask>>> {
        let s = scope(ctx)?;
        let tasks = s
            .loaders
            .cc
            .load_one(TasksOfCase(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        Ok(Some(tasks.into_iter().map(CaseTask::from).collect()))
    }
    /// Internal notes. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<CaseNote>>> {
        let s = scope(ctx)?;
        let notes = s
            .loaders
            .cc
            .load_one(NotesOfCase(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        Ok(Some(notes.into_iter().map(CaseNote::from).collect()))
    }
    /// What the gateway did on this case (who, what, when, which upstream records),
    /// oldest first. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn activity(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ActivityEntry>> {
        let entries = crate::graphql::services(ctx)?
            .workflows
            .store()
            .audit_list(self.0.id.as_str())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "activity unavailable");
                crate::graphql::errors::internal()
            })?;
        Ok(entries
            .into_iter()
            .map(|e| ActivityEntry {
                at: e.at,
                actor: e.actor,
                action: e.action,
                upstream_ids: e.upstream_ids,
                detail: e.detail,
            })
            .collect())
    }
    /// What happened on the case, oldest first. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn history(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<CaseHistoryEntry>>> {
        let s = scope(ctx)?;
        let entries = s
            .loaders
            .cc
            .load_one(HistoryOfCase(self.0.id.clone()))
            .await?
            .unwrap_or_default();
        Ok(Some(
            entries.into_iter().map(CaseHistoryEntry::from).collect(),
        ))
    }
}

/// One thing the gateway did on a case.
#[derive(SimpleObject)]
pub(crate) struct ActivityEntry {
    /// When.
    at: DateTime<Utc>,
    /// Who: `agent:…`, `admin:…` or `rules` (automatic).
    actor: String,
    /// What, e.g. `case_created`, `evidence_linked`, `community_message_posted`, `step_deferred`.
    action: String,
    /// The upstream records touched, as `platform:id`.
    upstream_ids: Vec<String>,
    /// Details.
    detail: Option<String>,
}

/// A task routed to a team on a case.
#[derive(SimpleObject)]
pub(crate) struct CaseTask {
    /// Core Case task id.
    id: ID,
    /// What is to be done.
    title: String,
    /// The team it is routed to.
    team: Team,
    /// Progress.
    state: TaskState,
    /// Who works on it.
    assignee: Option<String>,
    /// When it is due.
    due_at: Option<DateTime<Utc>>,
}

impl From<domain::Task> for CaseTask {
    fn from(t: domain::Task) -> Self {
        Self {
            id: ID(t.id),
            title: t.title,
            team: t.team,
            state: t.state,
            assignee: t.assignee,
            due_at: t.due_at,
        }
    }
}

/// An internal note on a case.
#[derive(SimpleObject)]
pub(crate) struct CaseNote {
    /// Core Case note id.
    id: ID,
    /// Who wrote it.
    author: String,
    /// Note text.
    body: String,
    /// When it was written.
    created_at: DateTime<Utc>,
}

impl From<domain::Note> for CaseNote {
    fn from(n: domain::Note) -> Self {
        Self {
            id: ID(n.id),
            author: n.author,
            body: n.body,
            created_at: n.created_at,
        }
    }
}

/// One entry of a case's history.
#[derive(SimpleObject)]
pub(crate) struct CaseHistoryEntry {
    /// Core Case history entry id.
    id: ID,
    /// When it happened.
    at: DateTime<Utc>,
    /// Who did it.
    actor: String,
    /// e.g. `created`, `status_changed`, `document_linked`, `resolved`.
    action: String,
    /// Status before, for status changes.
    from_status: Option<CaseStatus>,
    /// Status after, for status changes.
    to_status: Option<CaseStatus>,
    /// Free-text detail.
    detail: Option<String>,
}

impl From<domain::HistoryEntry> for CaseHistoryEntry {
    fn from(h: domain::HistoryEntry) -> Self {
        Self {
            id: ID(h.id),
            at: h.at,
            actor: h.actor,
            action: h.action,
            from_status: h.from_status,
            to_status: h.to_status,
            detail: h.detail,
        }
    }
}

/// How a case was resolved: summary, root cause and what changes so it does not recur.
pub(crate) struct Resolution(pub domain::Resolution);

/// How a case was resolved: summary, root cause and what changes so it does not recur.
#[Object]
impl Resolution {
    /// Core Case resolution id.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// What was decided.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
    /// Why it happened.
    async fn root_cause(&self) -> &str {
        &self.0.root_cause
    }
    /// What changes so it does not happen again.
    async fn corrective_actions(&self) -> &[String] {
        &self.0.corrective_actions
    }
    /// When the case was resolved.
    async fn resolved_at(&self) -> DateTime<Utc> {
        self.0.resolved_at
    }
    /// Whether the resolution was shared with the partner. Staff only.
    #[graphql(guard = "InternalOnly")]
    async fn shared_with_partner(&self) -> bool {
        self.0.shared_with_partner
    }
    /// The resolved case.
    async fn case(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Case>> {
        fetch::case(ctx, &self.0.case_id).await
    }
}

/// Filters on cases; all given conditions must hold.
#[derive(InputObject, Default)]
#[graphql(name = "CaseFilter")]
pub(crate) struct CaseFilterInput {
    /// Only this partner's cases. Partners are always limited to their own.
    pub partner_id: Option<ID>,
    /// At any of these milestones.
    pub milestones: Option<Vec<Milestone>>,
    /// In any of these internal statuses. Staff only.
    pub statuses: Option<Vec<CaseStatus>>,
    /// Of any of these types.
    pub types: Option<Vec<CaseType>>,
    /// Opened at or after this time.
    pub opened_after: Option<DateTime<Utc>>,
    /// Opened before this time.
    pub opened_before: Option<DateTime<Utc>>,
}
