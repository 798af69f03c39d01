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

/// One workflow step waiting to be (re)tried.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
