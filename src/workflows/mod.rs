//! The use cases as workflows: escalate, link evidence, request documents,
//! publish status, publish resolution. Each is a short read phase, then a
//! sequence of upstream writes ([`Step`]s). Every step carries an idempotency key
//! derived from what it does, so repeating a workflow (a retry, a second replica,
//! a redelivered webhook) never writes twice. A step that fails goes to the
//! outbox with the steps after it and is retried in the background.
//!
//! # Layout
//!
//! - this module: [`Workflows`] (what every use case shares: holds, activity,
//!   reads of the case and its discussion) and the inputs and outcomes;
//! - `steps`: the steps, as the outbox stores them;
//! - `engine`: running steps, in order, through the outbox, and retrying them;
//! - `escalate`: opening a case for a discussion or failed transactions;
//! - `evidence`: linking documents and asking the partner for more;
//! - `publish`: telling the partner a milestone or a resolution, and the rules
//!   reacting to a case worker's changes on Core Case;
//! - [`reconcile`]: the background repair of what the platforms disagree on.
//!
//! What partners read is written in [`crate::domain::partner_view`].

mod engine;
mod escalate;
mod evidence;
mod publish;
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
use engine::Renewal;
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

    pub(super) async fn audit(
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

    pub(super) async fn case(&self, id: &CaseId) -> Result<Case> {
        self.cc
            .cases(std::slice::from_ref(id))
            .await?
            .pop()
            .ok_or_else(|| bad(format!("no case {id}")))
    }

    /// The community discussion a case talks to its partner in.
    pub(super) async fn discussion_of(&self, case: &Case) -> Result<Option<IssueId>> {
        if let CaseOrigin::Issue(id) = &case.origin {
            return Ok(Some(id.clone()));
        }
        Ok(self.tg.issues_of_case(&case.id).await?.pop().map(|i| i.id))
    }

    /// Run a workflow's steps holding the case (see [`case_hold`]).
    pub(crate) async fn run_held(
        &self,
        case: &Case,
        actor: &str,
        workflow: &str,
        steps: Vec<(String, Step)>,
    ) -> Result<Vec<PendingStep>> {
        let hold = self.hold(vec![case_hold(&case.id)]).await?;
        let done = self.run(case.id.as_str(), actor, workflow, steps).await;
        hold.release().await;
        done
    }

    /// Publishing `milestone` of `case` on the bus, keyed by the milestone.
    fn milestone_step(
        &self,
        case: &Case,
        milestone: Milestone,
        message: Option<String>,
    ) -> (String, Step) {
        (
            format!("milestone-{}", milestone_name(milestone).to_lowercase()),
            Step::PublishMilestone {
                case_id: case.id.clone(),
                case_number: case.number.clone(),
                partner_id: case.partner_id.clone(),
                milestone,
                message,
            },
        )
    }
}

/// The hold on a case's partner-facing state (announcements, escalation steps,
/// repairs), so two of them never interleave.
pub(crate) fn case_hold(case: &CaseId) -> String {
    format!("case:{case}")
}

/// Whether the gateway opened the case. It opens every case with a reference to
/// what it escalated (a discussion, transactions), which is what the case's
/// origin is read from; a case opened by hand on Core Case carries none. Read
/// from the case itself, so it holds after the store was lost.
pub(crate) fn opened_by_gateway(case: &Case) -> bool {
    matches!(
        case.origin,
        CaseOrigin::Issue(_) | CaseOrigin::Transactions(_)
    )
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
