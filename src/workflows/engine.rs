//! The step engine: runs a workflow's steps in order through the outbox, executes
//! one step against its platform, and retries what failed in the background
//! (backoff, per-run order, giving up on refusals no retry can change).
//!
//! A step's failure is a [`StepError`] saying what failed: a platform, the store
//! or the milestone bus. A step's state ([`StepState`]) is kept on its outbox
//! entry: pending until it runs, abandoned (listed, never due) when given up on.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use super::*;
use crate::events::BusError;
use crate::store::StepState;

/// Retries before a step stops (≈ 45 minutes at the longest backoff).
pub(super) const MAX_ATTEMPTS: u32 = crate::store::LEGACY_GAVE_UP_AT;
/// How long a claimed outbox step is held by the replica running it. Renewed
/// every third of it while the step runs, so a dead replica's step is taken up
/// by another within this long.
pub(super) const STEP_LEASE: Duration = Duration::from_secs(6);
/// Steps are written to the outbox this long before they are due, so the worker
/// only takes them if the run that wrote them did not finish; the run pushes the
/// time on while it is alive, so a dead run's steps are due within seconds.
const WRITE_AHEAD: Duration = STEP_LEASE;

/// Why one step did not complete.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

impl StepError {
    /// What failed, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            StepError::Upstream(e) => match e.platform() {
                Platform::TradingGrid => "trading_grid",
                Platform::CoreCase => "core_case",
            },
            StepError::Store(_) => "store",
            StepError::Bus(_) => "bus",
        }
    }

    /// A refusal no retry can change (bad request, gone): given up at once.
    fn permanent(&self) -> bool {
        matches!(self, StepError::Upstream(UpstreamError::Status { status, .. })
            if (400..500).contains(status) && ![408, 409, 429].contains(status))
    }
}

impl From<StepError> for WorkflowError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::Upstream(e) => WorkflowError::Upstream(e),
            StepError::Store(e) => WorkflowError::Store(e),
            // The bus sits beside the store: both are the gateway's own state.
            StepError::Bus(e) => WorkflowError::Store(StoreError(e.to_string())),
        }
    }
}

impl Workflows {
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

    /// Do one step. Returns the upstream ids it touched.
    #[tracing::instrument(name = "workflow.step", skip_all, fields(step = step.action()))]
    async fn execute(&self, key: &str, step: &Step) -> Result<Vec<String>, StepError> {
        let cc = |id: &str| format!("core-case:{id}");
        let tg = |id: &str| format!("trading-grid:{id}");
        Ok(match step {
            Step::LinkEvidence { case_id, link } => {
                let e = self.cc.link_evidence(case_id, link, key).await?;
                vec![cc(e.id.as_str()), tg(&link.document_id)]
            }
            Step::CreateTask {
                case_id,
                title,
                team,
            } => {
                let t = self.cc.create_task(case_id, title, *team, key).await?;
                vec![cc(&t.id)]
            }
            Step::AddNote { case_id, body } => {
                let n = self.cc.add_note(case_id, body, key).await?;
                vec![cc(&n.id)]
            }
            Step::LinkDiscussion {
                discussion_id,
                case_id,
            } => {
                let patch = IssuePatch {
                    status: Some(IssueStatus::Escalated),
                    case_id: Some(case_id.clone()),
                    tags: None,
                };
                let i = self.tg.update_issue(discussion_id, &patch, key).await?;
                vec![tg(i.id.as_str())]
            }
            Step::PostMessage {
                discussion_id,
                body,
            } => {
                let m = self
                    .tg
                    .post_message(discussion_id, body, &self.poster, key)
                    .await?;
                vec![tg(&m.id)]
            }
            Step::SetCaseStatus { case_id, status } => {
                let c = self.cc.set_case_status(case_id, *status, key).await?;
                vec![cc(c.id.as_str())]
            }
            Step::SetDiscussionStatus {
                discussion_id,
                status,
            } => {
                let patch = IssuePatch {
                    status: Some(*status),
                    ..Default::default()
                };
                let i = self.tg.update_issue(discussion_id, &patch, key).await?;
                vec![tg(i.id.as_str())]
            }
            Step::PublishMilestone { .. } => {
                // Like the upstream writes, once per step key: claimed, published,
                // then recorded; a failed publish gives the claim back for the retry.
                let marker = format!("published:{key}");
                let claim = self
                    .store
                    .idem_begin(&marker, "publish", CLAIM_LEASE)
                    .await?;
                if let (Claim::Claimed, Some(e)) = (claim, step.milestone_event()) {
                    match self.bus.publish(e).await {
                        Ok(_) => {
                            self.store
                                .idem_finish(&marker, "publish", "done", REMEMBER)
                                .await?
                        }
                        Err(err) => {
                            let _ = self.store.idem_release(&marker).await;
                            return Err(err.into());
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
    pub(super) async fn run(
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
                state: StepState::Pending,
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
                        tracing::warn!(error = %e, kind = e.kind(), step = %step.describe(), "workflow step failed; deferred to the outbox");
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

    /// Steps of a case still waiting in the outbox (abandoned ones included, for
    /// someone to look at).
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
            let renewal = self.renew_steps(vec![entry.id.clone()]);
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
                        && p.is_pending()
                })
                .map(|p| p.next_at)
                .min();
            if let Some(at) = blocker {
                let next_at = at.max(Utc::now()) + chrono::Duration::milliseconds(100);
                drop(renewal);
                self.store
                    .outbox_push(OutboxEntry {
                        next_at,
                        last_error: Some("waiting for an earlier step of the same action".into()),
                        ..entry
                    })
                    .await?;
                continue;
            }
            let result = self.execute(&entry.id, &step).await;
            // Settled either way: no renewal may move the entry after this.
            drop(renewal);
            match self.settle(entry, &step, result).await? {
                StepState::Done => done += 1,
                StepState::Pending | StepState::Abandoned { .. } => {}
            }
        }
        Ok(done)
    }

    /// Record what one outbox attempt came to: completed, due again later, or
    /// given up on (past the limit, or refused for good).
    async fn settle(
        &self,
        entry: OutboxEntry,
        step: &Step,
        result: Result<Vec<String>, StepError>,
    ) -> Result<StepState> {
        let e = match result {
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
                return Ok(StepState::Done);
            }
            Err(e) => e,
        };
        let attempts = entry.attempts + 1;
        tracing::warn!(error = %e, kind = e.kind(), id = entry.id, attempts, "outbox step failed again");
        // Past the limit the step stops retrying but stays visible in
        // `pendingSteps` (and the activity) for someone to look at.
        let state = if e.permanent() || attempts >= MAX_ATTEMPTS {
            let attempts = if e.permanent() {
                MAX_ATTEMPTS
            } else {
                attempts
            };
            StepState::Abandoned {
                reason: format!("gave up after {attempts} attempts: {e}"),
            }
        } else {
            StepState::Pending
        };
        let (attempts, next_at, last_error) = match &state {
            StepState::Abandoned { reason } => {
                self.count_step("abandoned");
                self.audit(
                    &entry.case_id,
                    &entry.actor,
                    "step_abandoned",
                    vec![],
                    Some(format!("{}: {e}", step.describe())),
                )
                .await;
                (MAX_ATTEMPTS.max(attempts), Utc::now(), reason.clone())
            }
            _ => {
                self.count_step("retried");
                (attempts, Utc::now() + backoff(attempts), e.to_string())
            }
        };
        self.store
            .outbox_push(OutboxEntry {
                attempts,
                next_at,
                last_error: Some(last_error),
                state: state.clone(),
                ..entry
            })
            .await?;
        Ok(state)
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
}

/// A background renewal, stopped when dropped.
pub(crate) struct Renewal(pub(super) tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(super) fn lease_end(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or_else(|_| chrono::Duration::seconds(60))
}

/// 1 s, 2 s, 4 s … up to a minute.
fn backoff(attempts: u32) -> chrono::Duration {
    chrono::Duration::milliseconds((500i64 << attempts.min(7)).min(60_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_error_names_what_failed() {
        let store = StepError::from(StoreError("connection refused".into()));
        assert_eq!(store.kind(), "store");
        assert!(!store.permanent());
        let bus = StepError::from(BusError("closed".into()));
        assert_eq!(bus.kind(), "bus");
        assert_eq!(bus.to_string(), "milestone bus: closed");
        let gone = StepError::from(UpstreamError::Status {
            platform: Platform::TradingGrid,
            operation: "post_message",
            status: 410,
            code: "gone".into(),
            message: "gone".into(),
        });
        assert_eq!(gone.kind(), "trading_grid");
        assert!(gone.permanent());
        assert!(matches!(
            WorkflowError::from(gone),
            WorkflowError::Upstream(UpstreamError::Status { status: 410, .. })
        ));
    }

    #[test]
    fn retries_back_off_up_to_a_minute() {
        assert_eq!(backoff(1), chrono::Duration::seconds(1));
        assert_eq!(backoff(3), chrono::Duration::seconds(4));
        assert_eq!(backoff(40), chrono::Duration::seconds(60));
    }
}
