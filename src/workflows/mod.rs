//! The use cases as workflows: escalate, link evidence, request documents,
//! publish status, publish resolution. Each is a short read phase, then a
//! sequence of upstream writes ([`Step`]s). Every step carries an idempotency key
//! derived from what it does, so repeating a workflow (a retry, a second replica,
//! a redelivered webhook) never writes twice. A step that fails goes to the
//! outbox with the steps after it and is retried in the background.

pub mod reconcile;
mod steps;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sha2::{Digest, Sha256};

pub use steps::Step;

use crate::domain::partner_view::{self, PartnerCaseView};
use crate::domain::*;
use crate::events::MilestoneBus;
use crate::store::{AuditEntry, Claim, OutboxEntry, Store, StoreError};
use crate::upstream::{CoreCase, TradingGrid, UpstreamError};
use steps::*;

/// Why a workflow did not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    #[error("{0}")]
    BadInput(String),
    #[error("this idempotency key was used with a different input")]
    IdempotencyConflict,
    #[error("the same escalation is still running elsewhere; retry shortly")]
    Busy,
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

type Result<T, E = WorkflowError> = std::result::Result<T, E>;

fn bad(msg: impl Into<String>) -> WorkflowError {
    WorkflowError::BadInput(msg.into())
}

/// A step not done yet: it waits in the outbox.
#[derive(Debug, Clone)]
pub struct PendingStep {
    pub id: String,
    pub description: String,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What a workflow left behind.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub case: Case,
    /// False when the case already existed (a repeated escalation).
    pub created: bool,
    pub pending: Vec<PendingStep>,
    /// Other open cases the request reached: those already covering some of the
    /// transactions escalated.
    pub also: Vec<Case>,
}

/// Input of `escalate`.
#[derive(Debug, Clone, Default)]
pub struct EscalateInput {
    pub issue_id: Option<IssueId>,
    pub transaction_ids: Vec<TransactionId>,
    pub case_type: Option<CaseType>,
    pub priority: Option<Priority>,
    pub team: Option<Team>,
    pub note: Option<String>,
}

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(&h.finalize()[..12])
}

/// How long a finished escalation is remembered by key (the platform's external
/// reference keeps it beyond that).
const REMEMBER: Duration = Duration::from_secs(7 * 24 * 3600);
const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// Steps are written to the outbox this long before they are due, so the worker
/// only takes them if the run that wrote them did not finish; the run pushes the
/// time on while it is alive, so a dead run's steps are due within seconds.
const WRITE_AHEAD: Duration = STEP_LEASE;
/// Retries before a step stops (≈ 45 minutes at the longest backoff).
const MAX_ATTEMPTS: u32 = 50;
/// How long a claimed outbox step is held by the replica running it. Renewed
/// every third of it while the step runs, so a dead replica's step is taken up
/// by another within this long.
const STEP_LEASE: Duration = Duration::from_secs(6);
/// How long work on one case's partner-facing state (announcements, repairs)
/// holds the case; renewed while it runs.
const CASE_LEASE: Duration = Duration::from_secs(10);
/// How long a caller waits for another holder of a case or transaction.
const WAIT_FOR_HOLDER: Duration = Duration::from_secs(15);
/// Idempotency-key prefixes of the gateway's own workflows that change a case's
/// status and tell the partner themselves: the platform's echo of such a change
/// is not announced again.
const SELF_ANNOUNCING: [&str; 2] = ["request-documents:", "resolution:"];

/// A fresh id for one occurrence of an action: repeating an action repeats it,
/// while retries of the same occurrence (outbox) keep its keys.
pub(crate) fn occurrence() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{nanos:x}-{:x}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

pub struct Workflows {
    tg: Arc<dyn TradingGrid>,
    cc: Arc<dyn CoreCase>,
    store: Arc<dyn Store>,
    bus: Arc<dyn MilestoneBus>,
    poster: Poster,
    metrics: Arc<crate::metrics::Metrics>,
}

impl Workflows {
    pub fn new(
        tg: Arc<dyn TradingGrid>,
        cc: Arc<dyn CoreCase>,
        store: Arc<dyn Store>,
        bus: Arc<dyn MilestoneBus>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            tg,
            cc,
            store,
            bus,
            metrics,
            poster: Poster {
                id: "gridcase".into(),
                name: "Partner Operations".into(),
            },
        }
    }

    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn bus(&self) -> &Arc<dyn MilestoneBus> {
        &self.bus
    }

    fn count_step(&self, outcome: &str) {
        self.metrics
            .inc("gridcase_workflow_steps_total", &[("outcome", outcome)]);
    }

    /// Keep outbox entries from falling due while this process works on them:
    /// their due time is pushed one lease ahead every third of a lease, until the
    /// guard is dropped. A dead process renews nothing, so its steps fall due
    /// within one lease.
    fn renew_steps(&self, ids: Vec<String>) -> Renewal {
        let store = self.store.clone();
        Renewal(tokio::spawn(async move {
            loop {
                tokio::time::sleep(STEP_LEASE / 3).await;
                let until = Utc::now() + lease_end(STEP_LEASE);
                for id in &ids {
                    if let Err(e) = store.outbox_extend(id, until).await {
                        tracing::warn!(error = %e, id, "could not renew a running step's lease");
                    }
                }
            }
        }))
    }

    /// Hold `names` (a case, transactions) for this caller, waiting for another
    /// holder to finish; the hold is renewed while the caller works and ends with
    /// [`Hold::release`] (or within one lease if the process dies).
    pub(crate) async fn hold(&self, names: Vec<String>) -> Result<Hold> {
        let holder = occurrence();
        let deadline = tokio::time::Instant::now() + WAIT_FOR_HOLDER;
        loop {
            let held = self.store.lease_all(&names, &holder, CASE_LEASE).await?;
            if held.is_empty() {
                break;
            }
            if tokio::time::Instant::now() > deadline {
                return Err(WorkflowError::Busy);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (store, n, h) = (self.store.clone(), names.clone(), holder.clone());
        let renewal = Renewal(tokio::spawn(async move {
            loop {
                tokio::time::sleep(CASE_LEASE / 3).await;
                if let Err(e) = store.lease_all(&n, &h, CASE_LEASE).await {
                    tracing::warn!(error = %e, "could not renew a hold");
                }
            }
        }));
        Ok(Hold {
            store: self.store.clone(),
            names,
            holder,
            _renewal: renewal,
        })
    }

    /// Fail fast, before anything is written, when the store does not answer.
    pub(crate) async fn store_ready(&self) -> Result<()> {
        Ok(self.store.ping().await?)
    }

    async fn audit(
        &self,
        case: &str,
        actor: &str,
        action: &str,
        ids: Vec<String>,
        detail: Option<String>,
    ) {
        let entry = AuditEntry {
            at: Utc::now(),
            actor: actor.to_owned(),
            action: action.to_owned(),
            upstream_ids: ids,
            detail,
        };
        if let Err(e) = self.store.audit_append(case, entry).await {
            tracing::error!(error = %e, case, action, "could not record activity");
        }
    }

    /// Do one step. Returns the upstream ids it touched.
    #[tracing::instrument(name = "workflow.step", skip_all, fields(step = step.action()))]
    async fn execute(&self, key: &str, step: &Step) -> Result<Vec<String>, UpstreamError> {
        let cc = |id: &str| format!("core-case:{id}");
        let tg = |id: &str| format!("trading-grid:{id}");
        Ok(match step {
            Step::LinkEvidence { case_id, link } => {
                let e = self
                    .cc
                    .link_evidence(&CaseId::from_upstream(case_id.clone()), link, key)
                    .await?;
                vec![cc(e.id.as_str()), tg(&link.document_id)]
            }
            Step::CreateTask {
                case_id,
                title,
                team,
            } => {
                let t = self
                    .cc
                    .create_task(
                        &CaseId::from_upstream(case_id.clone()),
                        title,
                        team_from(team),
                        key,
                    )
                    .await?;
                vec![cc(&t.id)]
            }
            Step::AddNote { case_id, body } => {
                let n = self
                    .cc
                    .add_note(&CaseId::from_upstream(case_id.clone()), body, key)
                    .await?;
                vec![cc(&n.id)]
            }
            Step::LinkDiscussion {
                discussion_id,
                case_id,
            } => {
                let patch = IssuePatch {
                    status: Some(IssueStatus::Escalated),
                    case_id: Some(CaseId::from_upstream(case_id.clone())),
                    tags: None,
                };
                let i = self
                    .tg
                    .update_issue(&IssueId::from_upstream(discussion_id.clone()), &patch, key)
                    .await?;
                vec![tg(i.id.as_str())]
            }
            Step::PostMessage {
                discussion_id,
                body,
            } => {
                let m = self
                    .tg
                    .post_message(
                        &IssueId::from_upstream(discussion_id.clone()),
                        body,
                        &self.poster,
                        key,
                    )
                    .await?;
                vec![tg(&m.id)]
            }
            Step::SetCaseStatus { case_id, status } => {
                let c = self
                    .cc
                    .set_case_status(
                        &CaseId::from_upstream(case_id.clone()),
                        status_from(status),
                        key,
                    )
                    .await?;
                vec![cc(c.id.as_str())]
            }
            Step::SetDiscussionStatus {
                discussion_id,
                status,
            } => {
                let patch = IssuePatch {
                    status: Some(issue_status_from(status)),
                    ..Default::default()
                };
                let i = self
                    .tg
                    .update_issue(&IssueId::from_upstream(discussion_id.clone()), &patch, key)
                    .await?;
                vec![tg(i.id.as_str())]
            }
            Step::PublishMilestone { .. } => {
                // Like the upstream writes, once per step key: claimed, published,
                // then recorded; a failed publish gives the claim back for the retry.
                let marker = format!("published:{key}");
                let store_err = |e: StoreError| UpstreamError::Decode {
                    platform: Platform::CoreCase,
                    operation: "publish_milestone",
                    detail: e.to_string(),
                };
                let claim = self
                    .store
                    .idem_begin(&marker, "publish", CLAIM_LEASE)
                    .await
                    .map_err(store_err)?;
                if let (Claim::Claimed, Some(e)) = (claim, step.milestone_event()) {
                    match self.bus.publish(e).await {
                        Ok(_) => self
                            .store
                            .idem_finish(&marker, "publish", "done", REMEMBER)
                            .await
                            .map_err(store_err)?,
                        Err(err) => {
                            let _ = self.store.idem_release(&marker).await;
                            return Err(UpstreamError::Decode {
                                platform: Platform::CoreCase,
                                operation: "publish_milestone",
                                detail: err.to_string(),
                            });
                        }
                    }
                }
                vec![]
            }
        })
    }

    /// Run a workflow's steps in order. Every step is written to the outbox first
    /// (due only after a while), so a crash or a cut-off request leaves them to the
    /// outbox worker instead of losing them; each is completed as it succeeds. At the
    /// first failure, that step and the rest are due for retry and reported pending.
    async fn run(
        &self,
        case: &str,
        actor: &str,
        workflow: &str,
        steps: Vec<(String, Step)>,
    ) -> Result<Vec<PendingStep>> {
        let later = Utc::now() + lease_end(WRITE_AHEAD);
        let mut entries = Vec::with_capacity(steps.len());
        for (order, (suffix, step)) in steps.iter().enumerate() {
            let entry = OutboxEntry {
                id: format!("{workflow}/{suffix}"),
                case_id: case.to_owned(),
                step: serde_json::to_value(step).map_err(|e| StoreError(e.to_string()))?,
                actor: actor.to_owned(),
                attempts: 0,
                next_at: later,
                last_error: None,
                workflow: workflow.to_owned(),
                order: order as u32,
            };
            self.store.outbox_push(entry.clone()).await?;
            entries.push(entry);
        }
        // While this run is alive its steps stay not due; a completed one is gone.
        let mut renewal = Some(self.renew_steps(entries.iter().map(|e| e.id.clone()).collect()));
        let mut pending = Vec::new();
        let mut failed: Option<String> = None;
        for (entry, (_, step)) in entries.into_iter().zip(steps) {
            let mut attempts = 0;
            if failed.is_none() {
                match self.execute(&entry.id, &step).await {
                    Ok(ids) => {
                        self.count_step("done");
                        self.store.outbox_complete(&entry.id).await?;
                        self.audit(case, actor, step.action(), ids, Some(step.describe()))
                            .await;
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, step = %step.describe(), "workflow step failed; deferred to the outbox");
                        failed = Some(e.to_string());
                        attempts = 1;
                        // The rest is the outbox's now, on its own schedule.
                        renewal.take();
                    }
                }
            }
            let retry = OutboxEntry {
                attempts,
                next_at: Utc::now() + backoff(1),
                last_error: failed.clone(),
                ..entry
            };
            self.count_step("deferred");
            self.store.outbox_push(retry.clone()).await?;
            self.audit(case, actor, "step_deferred", vec![], Some(step.describe()))
                .await;
            pending.push(PendingStep {
                id: retry.id,
                description: step.describe(),
                attempts: retry.attempts,
                last_error: retry.last_error,
            });
        }
        Ok(pending)
    }

    /// Steps of a case still waiting in the outbox.
    pub async fn pending(&self, case: &CaseId) -> Result<Vec<PendingStep>> {
        Ok(self
            .store
            .outbox_pending(case.as_str())
            .await?
            .into_iter()
            .map(|e| PendingStep {
                description: serde_json::from_value::<Step>(e.step.clone())
                    .map(|s| s.describe())
                    .unwrap_or_else(|_| "unknown step".into()),
                id: e.id,
                attempts: e.attempts,
                last_error: e.last_error,
            })
            .collect())
    }

    /// One pass over due outbox entries. Returns how many completed.
    pub async fn drain_outbox(&self) -> Result<usize> {
        let _running = self.metrics.in_flight("gridcase_workflow_runs_in_flight");
        let mut done = 0;
        // One step claimed at a time (up to ten a pass): a claimed step is one being
        // run, its lease renewed while it runs, never one waiting behind another.
        for _ in 0..10 {
            let Some(entry) = self
                .store
                .outbox_claim_due(Utc::now(), 1, STEP_LEASE)
                .await?
                .pop()
            else {
                break;
            };
            let _renewal = self.renew_steps(vec![entry.id.clone()]);
            let step: Step = match serde_json::from_value(entry.step.clone()) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(error = %e, id = entry.id, "unreadable outbox entry dropped");
                    self.store.outbox_complete(&entry.id).await?;
                    continue;
                }
            };
            // Steps of one run go in order: an earlier one still pending holds this back.
            let blocker = self
                .store
                .outbox_pending(&entry.case_id)
                .await?
                .into_iter()
                .filter(|p| {
                    !entry.workflow.is_empty()
                        && p.workflow == entry.workflow
                        && p.order < entry.order
                        // A step that was given up on holds nothing back.
                        && p.attempts < MAX_ATTEMPTS
                })
                .map(|p| p.next_at)
                .min();
            if let Some(at) = blocker {
                let next_at = at.max(Utc::now()) + chrono::Duration::milliseconds(100);
                self.store
                    .outbox_push(OutboxEntry {
                        next_at,
                        last_error: Some("waiting for an earlier step of the same action".into()),
                        ..entry
                    })
                    .await?;
                continue;
            }
            match self.execute(&entry.id, &step).await {
                Ok(ids) => {
                    self.count_step("done");
                    self.store.outbox_complete(&entry.id).await?;
                    self.audit(
                        &entry.case_id,
                        &entry.actor,
                        step.action(),
                        ids,
                        Some(step.describe()),
                    )
                    .await;
                    done += 1;
                }
                Err(e) => {
                    // A refusal no retry can change (bad request, gone) is given up at once.
                    let permanent = matches!(&e, UpstreamError::Status { status, .. }
                        if (400..500).contains(status) && ![408, 409, 429].contains(status));
                    let attempts = if permanent {
                        MAX_ATTEMPTS
                    } else {
                        entry.attempts + 1
                    };
                    tracing::warn!(error = %e, id = entry.id, attempts, "outbox step failed again");
                    // Past the limit the step stops retrying but stays visible in
                    // `pendingSteps` (and the activity) for someone to look at.
                    self.count_step(if attempts >= MAX_ATTEMPTS {
                        "abandoned"
                    } else {
                        "retried"
                    });
                    let (next_at, last_error) = if attempts >= MAX_ATTEMPTS {
                        self.audit(
                            &entry.case_id,
                            &entry.actor,
                            "step_abandoned",
                            vec![],
                            Some(format!("{}: {e}", step.describe())),
                        )
                        .await;
                        (
                            Utc::now() + chrono::Duration::days(365),
                            format!("gave up after {attempts} attempts: {e}"),
                        )
                    } else {
                        (Utc::now() + backoff(attempts), e.to_string())
                    };
                    self.store
                        .outbox_push(OutboxEntry {
                            attempts,
                            next_at,
                            last_error: Some(last_error),
                            ..entry
                        })
                        .await?;
                }
            }
        }
        Ok(done)
    }

    /// Drain the outbox until `shutdown` resolves.
    pub async fn run_outbox(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            if let Err(e) = self.drain_outbox().await {
                tracing::error!(error = %e, "outbox pass failed");
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn case(&self, id: &CaseId) -> Result<Case> {
        self.cc
            .cases(std::slice::from_ref(id))
            .await?
            .pop()
            .ok_or_else(|| bad(format!("no case {id}")))
    }

    /// The community discussion a case talks to its partner in.
    async fn discussion_of(&self, case: &Case) -> Result<Option<IssueId>> {
        if let CaseOrigin::Issue(id) = &case.origin {
            return Ok(Some(id.clone()));
        }
        Ok(self.tg.issues_of_case(&case.id).await?.pop().map(|i| i.id))
    }

    fn milestone_step(
        &self,
        case: &Case,
        milestone: Milestone,
        message: Option<String>,
    ) -> (String, Step) {
        (
            format!("milestone-{}", milestone_name(milestone).to_lowercase()),
            Step::PublishMilestone {
                case_id: case.id.to_string(),
                case_number: case.number.clone(),
                partner_id: case.partner_id.to_string(),
                milestone: milestone_name(milestone).into(),
                message,
            },
        )
    }
}

/// A background renewal, stopped when dropped.
pub(crate) struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Names held by one caller (see [`Workflows::hold`]).
pub(crate) struct Hold {
    store: Arc<dyn Store>,
    names: Vec<String>,
    holder: String,
    _renewal: Renewal,
}

impl Hold {
    /// Give the names back (best effort: otherwise they expire within a lease).
    pub(crate) async fn release(self) {
        if let Err(e) = self.store.lease_release(&self.names, &self.holder).await {
            tracing::warn!(error = %e, "could not release a hold; it expires by itself");
        }
    }
}

fn lease_end(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::seconds(60))
}

/// 1 s, 2 s, 4 s … up to a minute.
fn backoff(attempts: u32) -> chrono::Duration {
    chrono::Duration::milliseconds((500i64 << attempts.min(7)).min(60_000))
}

mod actions;
