//! Small durable state the workflows need: idempotency keys, the outbox of
//! workflow steps still to do, webhook event dedupe, per-case activity (audit),
//! and event-feed cursors. In memory by default; Redis when configured, so
//! replicas share it and a restart resumes the outbox.

#[cfg(test)]
mod contract;
mod memory;
mod redis;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub use memory::MemoryStore;
pub(crate) use redis::connection as redis_connection;
pub use redis::RedisStore;

/// A store backend failed (Redis unreachable, corrupt entry, …).
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What `idem_begin` found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key is now ours: do the work, then `idem_finish`.
    Claimed,
    /// Someone holds the key for the same input and has not finished: wait.
    InProgress,
    /// The work was done; here is its recorded result.
    Done(String),
    /// The key was used with a different input.
    Conflict,
}

/// Where an outbox step stands.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    /// Still to run, at `next_at`.
    #[default]
    Pending,
    /// Ran: its entry leaves the outbox (a stored entry is never `Done`; the
    /// state is what an attempt answers).
    Done,
    /// Given up on: never due again, but listed for someone to look at.
    Abandoned { reason: String },
}

/// How many attempts the format before [`StepState`] counted for a step it gave
/// up on (it also moved such a step's `next_at` a year on). An entry written that
/// way, without a `state`, reads as abandoned.
pub(crate) const LEGACY_GAVE_UP_AT: u32 = 50;

/// One workflow step waiting to be (re)tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredEntry")]
pub struct OutboxEntry {
    /// Unique and stable: also the step's idempotency key upstream.
    pub id: String,
    /// The case the step belongs to (for `pendingSteps` and activity).
    pub case_id: String,
    /// The step, serialized by the workflow layer.
    pub step: serde_json::Value,
    /// Who started the workflow.
    pub actor: String,
    pub attempts: u32,
    pub next_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The workflow run this step belongs to; its steps run in `order`.
    #[serde(default)]
    pub workflow: String,
    #[serde(default)]
    pub order: u32,
    /// Pending or abandoned; entries of the earlier format carry none.
    pub state: StepState,
}

impl OutboxEntry {
    pub fn is_pending(&self) -> bool {
        self.state == StepState::Pending
    }
}

/// An [`OutboxEntry`] as stored, in this format or the one before it.
#[derive(Deserialize)]
struct StoredEntry {
    id: String,
    case_id: String,
    step: serde_json::Value,
    actor: String,
    attempts: u32,
    next_at: DateTime<Utc>,
    last_error: Option<String>,
    #[serde(default)]
    workflow: String,
    #[serde(default)]
    order: u32,
    #[serde(default)]
    state: Option<StepState>,
}

impl From<StoredEntry> for OutboxEntry {
    fn from(e: StoredEntry) -> Self {
        let state = e.state.unwrap_or_else(|| {
            if e.attempts >= LEGACY_GAVE_UP_AT {
                StepState::Abandoned {
                    reason: e.last_error.clone().unwrap_or_default(),
                }
            } else {
                StepState::Pending
            }
        });
        Self {
            id: e.id,
            case_id: e.case_id,
            step: e.step,
            actor: e.actor,
            attempts: e.attempts,
            next_at: e.next_at,
            last_error: e.last_error,
            workflow: e.workflow,
            order: e.order,
            state,
        }
    }
}

/// One line of a case's activity: who did what, when, with which upstream ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// e.g. `case_created`, `evidence_linked`, `message_posted`, `step_deferred`.
    pub action: String,
    /// `platform:id` of what the step touched upstream.
    pub upstream_ids: Vec<String>,
    pub detail: Option<String>,
}

/// The contract both backends implement (and the tests in `tests/` run against both).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Claim `key` for work whose input hashes to `fingerprint`. A claim not
    /// finished within `lease` (the claimer died) can be claimed again.
    async fn idem_begin(&self, key: &str, fingerprint: &str, lease: Duration) -> Result<Claim>;
    /// Record the result of claimed work; kept for `ttl`.
    async fn idem_finish(
        &self,
        key: &str,
        fingerprint: &str,
        result: &str,
        ttl: Duration,
    ) -> Result<()>;
    /// Give a claim back (the work failed before doing anything).
    async fn idem_release(&self, key: &str) -> Result<()>;

    /// True the first time an event id is seen (within `ttl`), false for redeliveries.
    async fn first_delivery(&self, event_id: &str, ttl: Duration) -> Result<bool>;

    /// Add a step (replaces an entry with the same id).
    async fn outbox_push(&self, entry: OutboxEntry) -> Result<()>;
    /// Take up to `limit` steps due at `now`, leasing them for `lease` so another
    /// replica does not run them at the same time.
    async fn outbox_claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>>;
    /// How many steps are due at `now` and not leased (for `/metrics`).
    async fn outbox_due(&self, now: DateTime<Utc>) -> Result<u64>;
    /// The step is done: forget it.
    async fn outbox_complete(&self, id: &str) -> Result<()>;
    /// Steps not yet done for a case.
    async fn outbox_pending(&self, case_id: &str) -> Result<Vec<OutboxEntry>>;

    /// Append to a case's activity.
    async fn audit_append(&self, case_id: &str, entry: AuditEntry) -> Result<()>;
    /// A case's activity, oldest first.
    async fn audit_list(&self, case_id: &str) -> Result<Vec<AuditEntry>>;

    /// Position of a poller in a platform's events feed.
    async fn cursor_get(&self, name: &str) -> Result<Option<u64>>;
    async fn cursor_set(&self, name: &str, value: u64) -> Result<()>;

    /// Reachability, for readiness.
    async fn ping(&self) -> Result<()>;

    // Ordering, leases and the outbox's running steps.

    /// Record that a case's state at `version` is being applied. `false` when a
    /// newer version was applied already (a late event); the same version again
    /// is `true` (a redelivery finishes what it started).
    async fn case_advance(&self, case_id: &str, version: u64) -> Result<bool>;
    /// The latest version of a case applied so far.
    async fn case_applied(&self, case_id: &str) -> Result<Option<u64>>;
    /// Take every one of `names` for `holder` for `ttl`, or none of them. Names
    /// `holder` already holds are extended. Answers the names others hold (empty:
    /// all taken).
    async fn lease_all(&self, names: &[String], holder: &str, ttl: Duration)
        -> Result<Vec<String>>;
    /// Give back the names `holder` holds (others' are left alone).
    async fn lease_release(&self, names: &[String], holder: &str) -> Result<()>;
    /// The outbox entry is not due before `until`: the lease of a step that is
    /// still running, renewed while it runs.
    async fn outbox_extend(&self, id: &str, until: DateTime<Utc>) -> Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the format before [`StepState`] wrote: a pending step and one given
    /// up on (attempts at the limit, due a year on). Both must read after an
    /// upgrade, while replicas of either version share the store.
    #[test]
    fn outbox_entries_of_the_previous_format_still_read() {
        let pending = r#"{"id":"escalation:CASE-000001/received","case_id":"CASE-000001",
            "step":{"kind":"post_message","discussion_id":"DSC-000001","body":"hi"},
            "actor":"agent:dana","attempts":3,"next_at":"2026-12-03T10:00:00Z",
            "last_error":"trading-grid post_message: answered 503 unavailable: down",
            "workflow":"escalation:CASE-000001","order":4}"#;
        let abandoned = r#"{"id":"evidence:CASE-000001/DOC-1","case_id":"CASE-000001",
            "step":{"kind":"add_note","case_id":"CASE-000001","body":"n"},
            "actor":"agent:dana","attempts":50,"next_at":"2027-12-03T10:00:00Z",
            "last_error":"gave up after 50 attempts: core-case add_note: answered 410 gone: gone"}"#;

        let p: OutboxEntry = serde_json::from_str(pending).unwrap();
        assert_eq!(p.state, StepState::Pending);
        assert_eq!((p.attempts, p.order), (3, 4));
        let a: OutboxEntry = serde_json::from_str(abandoned).unwrap();
        assert_eq!(
            a.state,
            StepState::Abandoned {
                reason: "gave up after 50 attempts: core-case add_note: answered 410 gone: gone"
                    .into()
            }
        );
        assert_eq!(a.workflow, "");

        // Written again, the state is explicit and reads back the same.
        let again: OutboxEntry = serde_json::from_value(serde_json::to_value(&a).unwrap()).unwrap();
        assert_eq!(again, a);
    }
}
