//! The use-case actions as mutations. Staff only: a partner token gets FORBIDDEN.
//! Each answers with the case and the steps still waiting in the outbox.

use async_graphql::{Context, ErrorExtensions, InputObject, Object, SimpleObject, ID};

use super::errors::{bad_input, code, forbidden, internal, invalid_id, upstream};
use super::types::Case;
use super::{scope, services};
use crate::auth::{policy, Principal};
use crate::domain::{
    CaseId, CaseType, DocumentKind, IssueId, Milestone, Priority, Team, TgDocumentId, TransactionId,
};
use crate::workflows::{EscalateInput as Input, Outcome, PendingStep as Pending, WorkflowError};

type Result<T> = async_graphql::Result<T>;

/// Actions across both platforms: escalate, link evidence, request documents,
/// publish status and resolution.
pub struct Mutation;

/// What an action did: the case, and anything not yet done.
#[derive(SimpleObject)]
struct CaseActionPayload {
    /// The case acted on (for `escalate`: the one opened, or the one that already existed).
    case: Case,
    /// Whether this call created the case (false when it already existed).
    created: bool,
    /// Upstream writes that failed and are being retried in the background.
    pending_steps: Vec<PendingStep>,
    /// Every open case the action reached: `case` first, then (for `escalate` with
    /// transactions) the cases that already covered some of them — a transaction
    /// belongs to one open case, so only the others went into a new one.
    cases: Vec<Case>,
}

/// An upstream write waiting in the outbox.
#[derive(SimpleObject)]
struct PendingStep {
    /// Stable id of the step (also its idempotency key upstream).
    id: ID,
    /// What the step does.
    description: String,
    /// Attempts so far.
    attempts: u32,
    /// Why the last attempt failed.
    last_error: Option<String>,
}

impl From<Pending> for PendingStep {
    fn from(p: Pending) -> Self {
        Self {
            id: ID(p.id),
            description: p.description,
            attempts: p.attempts,
            last_error: p.last_error,
        }
    }
}

fn payload(o: Outcome) -> CaseActionPayload {
    let cases = std::iter::once(o.case.clone())
        .chain(o.also)
        .map(Case)
        .collect();
    CaseActionPayload {
        case: Case(o.case),
        created: o.created,
        pending_steps: o.pending.into_iter().map(PendingStep::from).collect(),
        cases,
    }
}

/// Run a workflow on a task of its own: a client that disconnects (or times out)
/// must not cut a workflow off between two upstream writes.
async fn detached<T: Send + 'static>(
    work: impl std::future::Future<Output = std::result::Result<T, WorkflowError>> + Send + 'static,
) -> Result<T> {
    match tokio::spawn(work).await {
        Ok(r) => r.map_err(failed),
        Err(e) => {
            tracing::error!(error = %e, "workflow task failed");
            Err(internal())
        }
    }
}

fn failed(e: WorkflowError) -> async_graphql::Error {
    match e {
        WorkflowError::BadInput(m) => bad_input(m),
        WorkflowError::IdempotencyConflict => async_graphql::Error::new(e.to_string())
            .extend_with(|_, x| x.set("code", code::IDEMPOTENCY_CONFLICT)),
        WorkflowError::Busy => async_graphql::Error::new(e.to_string())
            .extend_with(|_, x| x.set("code", code::RETRY_LATER)),
        WorkflowError::Upstream(u) => upstream(&u),
        // The store (Redis) does not answer: nothing was started; say when to retry
        // (the HTTP answer carries `Retry-After` too).
        WorkflowError::Store(s) => {
            tracing::error!(error = %s, "store failed during a workflow");
            async_graphql::Error::new("the gateway's store is unavailable; retry shortly")
                .extend_with(|_, x| {
                    x.set("code", code::RETRY_LATER);
                    x.set("retryAfter", 1);
                })
        }
    }
}

/// Who is acting, for the activity log; refuses partners.
fn actor(ctx: &Context<'_>) -> Result<String> {
    let p = &scope(ctx)?.principal;
    if !policy::can_see_internal(p) {
        return Err(forbidden("only the operations team can run case actions"));
    }
    Ok(match p {
        Principal::Admin { subject } => format!("admin:{subject}"),
        Principal::Agent { subject } => format!("agent:{subject}"),
        Principal::Partner { .. } => unreachable!("refused above"),
    })
}

/// A client's idempotency key, scoped to the caller's subject: two people who
/// pick the same key never replay each other's answers.
fn scoped_key(principal: &Principal, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let subject = Sha256::digest(principal.subject().as_bytes());
    format!("{}:{key}", hex::encode(&subject[..12]))
}

/// Open a case for a partner issue or for failed transactions.
#[derive(InputObject)]
struct EscalateInput {
    /// The partner issue (community discussion) to escalate…
    issue_id: Option<ID>,
    /// …or the failed, rejected or unacknowledged transactions (one partner).
    transaction_ids: Option<Vec<ID>>,
    /// Overrides the case type derived from the issue kind.
    case_type: Option<CaseType>,
    /// Overrides the default priority.
    priority: Option<Priority>,
    /// Overrides the team the case is routed to.
    team: Option<Team>,
    /// An internal note for case workers.
    note: Option<String>,
    /// Repeat-safe key: the same key returns the same case; reused with other input it is refused.
    idempotency_key: Option<String>,
}

/// Link community documents to a case as evidence.
#[derive(InputObject)]
struct LinkEvidenceInput {
    case_id: ID,
    /// Community documents (`DOC-…`) of the case's partner.
    document_ids: Vec<ID>,
}

/// Ask the partner for documents through the community.
#[derive(InputObject)]
struct RequestDocumentsInput {
    case_id: ID,
    /// Which documents are needed.
    kinds: Vec<DocumentKind>,
    /// What to tell the partner.
    message: String,
}

/// Publish the case's partner-safe milestone.
#[derive(InputObject)]
struct PublishStatusInput {
    case_id: ID,
    /// The milestone you expect the case to be at; refused if it is elsewhere.
    milestone: Option<Milestone>,
    /// A note for the partner.
    message: Option<String>,
}

/// Record and publish how a case was resolved.
#[derive(InputObject)]
struct PublishResolutionInput {
    case_id: ID,
    /// What was decided.
    summary: String,
    /// Why it happened.
    root_cause: String,
    /// What changes so it does not happen again.
    corrective_actions: Vec<String>,
}

fn case_id(id: &ID) -> Result<CaseId> {
    CaseId::parse(id.as_str()).map_err(invalid_id)
}

#[Object]
impl Mutation {
    /// Open the Core Case case for a partner issue or failed transactions, with the
    /// conversation, documents, transactions and partner details; link it back to the
    /// community and tell the partner. Escalating the same thing again returns the same case.
    async fn escalate(&self, ctx: &Context<'_>, input: EscalateInput) -> Result<CaseActionPayload> {
        let actor = actor(ctx)?;
        let issue_id = input
            .issue_id
            .as_ref()
            .map(|id| IssueId::parse(id.as_str()).map_err(invalid_id))
            .transpose()?;
        let transaction_ids = input
            .transaction_ids
            .unwrap_or_default()
            .iter()
            .map(|id| TransactionId::parse(id.as_str()).map_err(invalid_id))
            .collect::<Result<Vec<_>>>()?;
        if let Some(k) = &input.idempotency_key {
            if k.is_empty() || k.len() > 200 {
                return Err(bad_input("`idempotencyKey` must have 1 to 200 characters"));
            }
        }
        let wf = services(ctx)?.workflows.clone();
        let workflow_input = Input {
            issue_id,
            transaction_ids,
            case_type: input.case_type,
            priority: input.priority,
            team: input.team,
            note: input.note,
        };
        let key = match input.idempotency_key {
            Some(k) => Some(scoped_key(&scope(ctx)?.principal, &k)),
            None => None,
        };
        detached(async move { wf.escalate(&actor, workflow_input, key.as_deref()).await })
            .await
            .map(payload)
    }

    /// Link community documents to a case as evidence, without copying bytes; the
    /// same bytes (sha256) are one evidence entry however often they are linked.
    async fn link_evidence(
        &self,
        ctx: &Context<'_>,
        input: LinkEvidenceInput,
    ) -> Result<CaseActionPayload> {
        let actor = actor(ctx)?;
        let docs = input
            .document_ids
            .iter()
            .map(|id| TgDocumentId::parse(id.as_str()).map_err(invalid_id))
            .collect::<Result<Vec<_>>>()?;
        let (wf, case) = (services(ctx)?.workflows.clone(), case_id(&input.case_id)?);
        detached(async move { wf.link_evidence(&actor, &case, &docs).await })
            .await
            .map(payload)
    }

    /// Ask the partner for documents in the case's community discussion; the case
    /// moves to AWAITING_DOCUMENTS, and documents the partner then posts there are
    /// linked to the case automatically.
    async fn request_documents(
        &self,
        ctx: &Context<'_>,
        input: RequestDocumentsInput,
    ) -> Result<CaseActionPayload> {
        let actor = actor(ctx)?;
        let (wf, case) = (services(ctx)?.workflows.clone(), case_id(&input.case_id)?);
        detached(async move {
            wf.request_documents(&actor, &case, &input.kinds, &input.message)
                .await
        })
        .await
        .map(payload)
    }

    /// Publish the case's partner-safe milestone to the partner's community and the
    /// milestone stream.
    async fn publish_status(
        &self,
        ctx: &Context<'_>,
        input: PublishStatusInput,
    ) -> Result<CaseActionPayload> {
        let actor = actor(ctx)?;
        let (wf, case) = (services(ctx)?.workflows.clone(), case_id(&input.case_id)?);
        detached(async move {
            wf.publish_status(&actor, &case, input.milestone, input.message.as_deref())
                .await
        })
        .await
        .map(payload)
    }

    /// Record the resolution on the case (which resolves it), post it to the
    /// partner's community, and make it findable with `resolutions(search:)`.
    async fn publish_resolution(
        &self,
        ctx: &Context<'_>,
        input: PublishResolutionInput,
    ) -> Result<CaseActionPayload> {
        let actor = actor(ctx)?;
        let (wf, case) = (services(ctx)?.workflows.clone(), case_id(&input.case_id)?);
        detached(async move {
            wf.publish_resolution(
                &actor,
                &case,
                &input.summary,
                &input.root_cause,
                &input.corrective_actions,
            )
            .await
        })
        .await
        .map(payload)
    }
}
