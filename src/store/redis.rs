//! The Redis [`Store`] (shared by replicas, survives gateway restarts).
//!
//! Key layout, every key under `"{namespace}:"` so several gateways (or test
//! runs) can share one server:
//!
//! - `{ns}:idem:{key}`: hash `fp`, `result`; its TTL is the claim's lease,
//!   then the result's retention.
//! - `{ns}:seen:{event_id}`: `1` with the dedupe TTL.
//! - `{ns}:outbox`: hash id -> entry JSON.
//! - `{ns}:outbox:due`: sorted set id -> due time (epoch millis); a lease is
//!   the score pushed into the future, an abandoned step's score is `+inf`.
//! - `{ns}:outbox:case:{case_id}`: set of the case's entry ids.
//! - `{ns}:audit:{case_id}`: list of entry JSON, oldest first.
//! - `{ns}:cursor:{name}`: the cursor as a decimal string.
//! - `{ns}:version:{case_id}`: the latest case version applied.
//! - `{ns}:lease:{name}`: the holder, expiring with the lease.
//!
//! Every read-decide-write sequence runs as one Lua script: Redis executes a
//! script without interleaving any other command, which is what makes the
//! claims safe across replicas.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::ConnectionManager;
use redis::Script;

#[cfg(test)]
use super::StepState;
use super::{AuditEntry, Claim, OutboxEntry, Result, Store, StoreError};

/// Absent (or expired, which Redis makes absent) -> claim it with the lease.
/// Present -> report what is there without touching it. The lookup and the
/// claim happen inside one script, so of two concurrent callers exactly one
/// sees the key absent.
const IDEM_BEGIN: &str = r#"
local fp = redis.call('HGET', KEYS[1], 'fp')
if not fp then
  -- Clears a hash left without a fingerprint, so no stale result survives.
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'fp', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'claimed'}
end
if fp ~= ARGV[1] then
  return {'conflict'}
end
local result = redis.call('HGET', KEYS[1], 'result')
if result then
  return {'done', result}
end
return {'in_progress'}
"#;

/// Take up to ARGV[2] ids due by ARGV[1] and move their score to ARGV[3] (the
/// lease's end). Selecting and re-scoring in one script means a second replica
/// running the same script afterwards no longer sees them as due, so an entry
/// goes to one worker until its lease runs out. An id without an entry (which
/// push/complete never leave behind, but a hand-edited server could) is
/// dropped rather than handed out forever.
const OUTBOX_CLAIM_DUE: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[2], id)
  if json and type(cjson.decode(json)['state']) == 'table' then
    -- Abandoned (a lease renewal raced its last attempt): never due again.
    redis.call('ZADD', KEYS[1], '+inf', id)
  elseif json then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    table.insert(out, json)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"#;

/// Write the entry, its due time and its case membership together, so a
/// claimer or `pending` never sees an entry half written. A replaced entry
/// that moved to another case leaves its old case's set here too; that set's
/// key is only known from the stored JSON, hence built from the prefix in
/// ARGV[4] (fine on a single server; not cluster-safe).
const OUTBOX_PUSH: &str = r#"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local old_case = ARGV[4] .. cjson.decode(old)['case_id']
  if old_case ~= KEYS[3] then
    redis.call('SREM', old_case, ARGV[1])
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"#;

/// Forget the entry in all three places at once, so it cannot be claimed or
/// listed as pending after it is done. Its case is read from the stored JSON.
const OUTBOX_COMPLETE: &str = r#"
local json = redis.call('HGET', KEYS[1], ARGV[1])
if json then
  redis.call('SREM', ARGV[2] .. cjson.decode(json)['case_id'], ARGV[1])
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"#;

/// The case's entries as one snapshot: reading the id set and then the
/// entries separately could list an id whose entry was completed in between.
const OUTBOX_PENDING: &str = r#"
local ids = redis.call('SMEMBERS', KEYS[1])
local out = {}
for _, id in ipairs(ids) do
  local json = redis.call('HGET', KEYS[2], id)
  if json then
    table.insert(out, json)
  end
end
return out
"#;

/// Keep the higher of the stored version and ARGV[1]; 0 when ARGV[1] is older.
const CASE_ADVANCE: &str = r#"
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) < cur then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"#;

/// All of KEYS for ARGV[1] (lease ARGV[2] ms), or none: answers the keys
/// another holder has.
const LEASE_ALL: &str = r#"
local held = {}
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v and v ~= ARGV[1] then
    table.insert(held, k)
  end
end
if #held == 0 then
  for _, k in ipairs(KEYS) do
    redis.call('SET', k, ARGV[1], 'PX', ARGV[2])
  end
end
return held
"#;

/// Delete the keys ARGV[1] holds.
const LEASE_RELEASE: &str = r#"
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then
    redis.call('DEL', k)
  end
end
return 1
"#;

/// How long one Redis command may take before the caller gets an error, and
/// how long a (re)connection may take: a store that does not answer must fail
/// a request fast rather than hold it.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// A connection manager with short, bounded timeouts and one reconnection
/// attempt per command, so an unavailable server costs a caller at most about a
/// second.
pub(crate) async fn connection(url: &str) -> redis::RedisResult<ConnectionManager> {
    let client = redis::Client::open(url)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    ConnectionManager::new_with_config(client, config).await
}

/// The Redis backend. Cheap to clone: the connection manager is shared and
/// reconnects by itself after the server goes away.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    idem_begin: Script,
    claim_due: Script,
    push: Script,
    complete: Script,
    pending: Script,
    advance: Script,
    lease_all: Script,
    lease_release: Script,
}

/// A store error saying which operation failed.
fn err(op: &str) -> impl FnOnce(redis::RedisError) -> StoreError + '_ {
    move |e| StoreError(format!("redis {op}: {e}"))
}

/// Redis rejects a zero or negative expiry, and a sub-millisecond duration
/// would round to zero: the shortest expiry is 1 ms.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn to_json<T: serde::Serialize>(op: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError(format!("redis {op}: encode: {e}")))
}

fn from_json<T: serde::de::DeserializeOwned>(op: &str, json: &str) -> Result<T> {
    serde_json::from_str(json).map_err(|e| StoreError(format!("redis {op}: corrupt entry: {e}")))
}

impl RedisStore {
    /// Connect to `url` (`redis://host:port/db`), keeping every key under
    /// `"{namespace}:"`.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, StoreError> {
        let conn = connection(url).await.map_err(err("connect"))?;
        Ok(Self {
            conn,
            prefix: format!("{namespace}:"),
            idem_begin: Script::new(IDEM_BEGIN),
            claim_due: Script::new(OUTBOX_CLAIM_DUE),
            push: Script::new(OUTBOX_PUSH),
            complete: Script::new(OUTBOX_COMPLETE),
            pending: Script::new(OUTBOX_PENDING),
            advance: Script::new(CASE_ADVANCE),
            lease_all: Script::new(LEASE_ALL),
            lease_release: Script::new(LEASE_RELEASE),
        })
    }

    /// Warn when the server would lose the store on a restart: idempotency keys,
    /// the outbox and applied versions need persistence (`appendonly yes`). The
    /// reconciler repairs what is lost anyway, but later than need be.
    pub async fn warn_unless_durable(&self) {
        let reply: redis::RedisResult<Vec<String>> = redis::cmd("CONFIG")
            .arg("GET")
            .arg("appendonly")
            .query_async(&mut self.conn())
            .await;
        match reply.as_deref() {
            Ok([_, v]) if v == "yes" => {}
            Ok([_, v]) => tracing::warn!(
                appendonly = %v,
                "Redis persistence is off (appendonly no): a Redis restart loses pending \
                 workflow steps and idempotency keys; set `appendonly yes`"
            ),
            Ok(_) | Err(_) => tracing::info!(
                "could not read Redis `appendonly` (CONFIG may be disabled); make sure persistence is on"
            ),
        }
    }

    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}{kind}:{name}", self.prefix)
    }

    fn outbox_key(&self) -> String {
        format!("{}outbox", self.prefix)
    }

    fn due_key(&self) -> String {
        format!("{}outbox:due", self.prefix)
    }

    fn case_prefix(&self) -> String {
        format!("{}outbox:case:", self.prefix)
    }

    // The manager is a handle onto one multiplexed connection; each call
    // takes its own handle so `&self` methods can run concurrently.
    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn idem_begin(&self, key: &str, fingerprint: &str, lease: Duration) -> Result<Claim> {
        let reply: Vec<String> = self
            .idem_begin
            .key(self.key("idem", key))
            .arg(fingerprint)
            .arg(millis(lease))
            .invoke_async(&mut self.conn())
            .await
            .map_err(err("idem_begin"))?;
        match reply.as_slice() {
            [s] if s == "claimed" => Ok(Claim::Claimed),
            [s] if s == "in_progress" => Ok(Claim::InProgress),
            [s] if s == "conflict" => Ok(Claim::Conflict),
            [s, result] if s == "done" => Ok(Claim::Done(result.clone())),
            other => Err(StoreError(format!(
                "redis idem_begin: unexpected reply {other:?}"
            ))),
        }
    }

    async fn idem_finish(
        &self,
        key: &str,
        fingerprint: &str,
        result: &str,
        ttl: Duration,
    ) -> Result<()> {
        let key = self.key("idem", key);
        // MULTI/EXEC: the result never exists without its expiry (or keeps the
        // claim's shorter lease), and a claim never sees half of it.
        redis::pipe()
            .atomic()
            .cmd("HSET")
            .arg(&key)
            .arg("fp")
            .arg(fingerprint)
            .arg("result")
            .arg(result)
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(millis(ttl))
            .ignore()
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(err("idem_finish"))
    }

    async fn idem_release(&self, key: &str) -> Result<()> {
        redis::cmd("DEL")
            .arg(self.key("idem", key))
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(err("idem_release"))
    }

    async fn first_delivery(&self, event_id: &str, ttl: Duration) -> Result<bool> {
        // SET NX answers OK when it set the key and nil when it existed: one
        // command, so two deliveries racing cannot both be "first".
        redis::cmd("SET")
            .arg(self.key("seen", event_id))
            .arg(1)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async::<bool>(&mut self.conn())
            .await
            .map_err(err("first_delivery"))
    }

    async fn outbox_push(&self, entry: OutboxEntry) -> Result<()> {
        let json = to_json("outbox_push", &entry)?;
        self.push
            .key(self.outbox_key())
            .key(self.due_key())
            .key(self.key("outbox:case", &entry.case_id))
            .arg(&entry.id)
            .arg(json)
            .arg(due_score(&entry))
            .arg(self.case_prefix())
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(err("outbox_push"))
    }

    async fn outbox_claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>> {
        // Nothing asked for: skip the round trip.
        if limit == 0 {
            return Ok(Vec::new());
        }
        let now_ms = now.timestamp_millis();
        let lease_ms = i64::try_from(millis(lease)).unwrap_or(i64::MAX);
        let jsons: Vec<String> = self
            .claim_due
            .key(self.due_key())
            .key(self.outbox_key())
            .arg(now_ms)
            .arg(limit)
            .arg(now_ms.saturating_add(lease_ms))
            .invoke_async(&mut self.conn())
            .await
            .map_err(err("outbox_claim_due"))?;
        jsons
            .iter()
            .map(|j| from_json("outbox_claim_due", j))
            .collect()
    }

    async fn outbox_due(&self, now: DateTime<Utc>) -> Result<u64> {
        // A lease pushes the score into the future: what is left is due.
        redis::cmd("ZCOUNT")
            .arg(self.due_key())
            .arg("-inf")
            .arg(now.timestamp_millis())
            .query_async(&mut self.conn())
            .await
            .map_err(err("outbox_due"))
    }

    async fn outbox_complete(&self, id: &str) -> Result<()> {
        self.complete
            .key(self.outbox_key())
            .key(self.due_key())
            .arg(id)
            .arg(self.case_prefix())
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(err("outbox_complete"))
    }

    async fn outbox_pending(&self, case_id: &str) -> Result<Vec<OutboxEntry>> {
        let jsons: Vec<String> = self
            .pending
            .key(self.key("outbox:case", case_id))
            .key(self.outbox_key())
            .invoke_async(&mut self.conn())
            .await
            .map_err(err("outbox_pending"))?;
        let mut entries = jsons
            .iter()
            .map(|j| from_json::<OutboxEntry>("outbox_pending", j))
            .collect::<Result<Vec<_>>>()?;
        // A set has no order; the trait's callers get them by id, like the
        // in-memory backend.
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(entries)
    }

    async fn audit_append(&self, case_id: &str, entry: AuditEntry) -> Result<()> {
        redis::cmd("RPUSH")
            .arg(self.key("audit", case_id))
            .arg(to_json("audit_append", &entry)?)
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(err("audit_append"))
    }

    async fn audit_list(&self, case_id: &str) -> Result<Vec<AuditEntry>> {
        let jsons: Vec<String> = redis::cmd("LRANGE")
            .arg(self.key("audit", case_id))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn())
            .await
            .map_err(err("audit_list"))?;
        jsons.iter().map(|j| from_json("audit_list", j)).collect()
    }

    async fn cursor_get(&self, name: &str) -> Result<Option<u64>> {
        redis::cmd("GET")
            .arg(self.key("cursor", name))
            .query_async::<Option<u64>>(&mut self.conn())
            .await
            .map_err(err("cursor_get"))
    }

    async fn cursor_set(&self, name: &str, value: u64) -> Result<()> {
        redis::cmd("SET")
            .arg(self.key("cursor", name))
            .arg(value)
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(err("cursor_set"))
    }

    async fn ping(&self) -> Result<()> {
        redis::cmd("PING")
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(err("ping"))
    }

    async fn case_advance(&self, case_id: &str, version: u64) -> Result<bool> {
        self.advance
            .key(self.key("version", case_id))
            .arg(version)
            .arg(millis(VERSION_TTL))
            .invoke_async::<i64>(&mut self.conn())
            .await
            .map(|r| r == 1)
            .map_err(err("case_advance"))
    }

    async fn case_applied(&self, case_id: &str) -> Result<Option<u64>> {
        redis::cmd("GET")
            .arg(self.key("version", case_id))
            .query_async::<Option<u64>>(&mut self.conn())
            .await
            .map_err(err("case_applied"))
    }

    async fn lease_all(
        &self,
        names: &[String],
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<String>> {
        if names.is_empty() {
            return Ok(vec![]);
        }
        let mut inv = self.lease_all.prepare_invoke();
        for n in names {
            inv.key(self.key("lease", n));
        }
        let held: Vec<String> = inv
            .arg(holder)
            .arg(millis(ttl))
            .invoke_async(&mut self.conn())
            .await
            .map_err(err("lease_all"))?;
        let prefix = self.key("lease", "");
        Ok(held
            .into_iter()
            .map(|k| k.strip_prefix(&prefix).unwrap_or(&k).to_owned())
            .collect())
    }

    async fn lease_release(&self, names: &[String], holder: &str) -> Result<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut inv = self.lease_release.prepare_invoke();
        for n in names {
            inv.key(self.key("lease", n));
        }
        inv.arg(holder)
            .invoke_async::<()>(&mut self.conn())
            .await
            .map_err(err("lease_release"))
    }

    async fn outbox_extend(&self, id: &str, until: DateTime<Utc>) -> Result<()> {
        // XX: only an entry still there (a completed one stays completed).
        redis::cmd("ZADD")
            .arg(self.due_key())
            .arg("XX")
            .arg(until.timestamp_millis())
            .arg(id)
            .query_async::<()>(&mut self.conn())
            .await
            .map_err(err("outbox_extend"))
    }
}

/// The entry's score in the due set: an abandoned step is never due.
fn due_score(entry: &OutboxEntry) -> String {
    if entry.is_pending() {
        entry.next_at.timestamp_millis().to_string()
    } else {
        "+inf".to_owned()
    }
}

/// How long applied case versions are remembered.
const VERSION_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;
    use crate::test_redis::{namespace, test_redis};
    use std::collections::HashSet;
    use std::sync::Arc;

    #[tokio::test]
    async fn redis_store_keeps_the_store_contract() {
        let redis = test_redis();
        let store = RedisStore::connect(&redis.url, &namespace("gridcase-test"))
            .await
            .unwrap();
        store.ping().await.unwrap();
        contract::idempotency(&store, "r").await;
        contract::webhook_dedupe(&store, "r").await;
        contract::outbox(&store, "r").await;
        contract::audit_and_cursors(&store, "r").await;
        contract::versions_and_leases(&store, "r").await;
        let shared: Arc<dyn Store> = Arc::new(
            RedisStore::connect(&redis.url, &namespace("gridcase-test"))
                .await
                .unwrap(),
        );
        contract::concurrent_claims_have_one_winner(shared, "r").await;
    }

    fn step(id: &str, case: &str, at: DateTime<Utc>) -> OutboxEntry {
        OutboxEntry {
            id: id.to_owned(),
            case_id: case.to_owned(),
            step: serde_json::json!({ "kind": "post_message", "id": id }),
            actor: "agent:test".to_owned(),
            attempts: 0,
            next_at: at,
            last_error: None,
            workflow: String::new(),
            order: 0,
            state: StepState::Pending,
        }
    }

    #[tokio::test]
    async fn replicas_share_the_outbox_and_never_claim_the_same_step() {
        let redis = test_redis();
        let ns = namespace("gridcase-test");
        let a = Arc::new(RedisStore::connect(&redis.url, &ns).await.unwrap());
        let b = Arc::new(RedisStore::connect(&redis.url, &ns).await.unwrap());
        let now = Utc::now();
        let ids: Vec<String> = (0..40).map(|i| format!("step-{i:02}")).collect();
        for (i, id) in ids.iter().enumerate() {
            let store = if i % 2 == 0 { &a } else { &b };
            store
                .outbox_push(step(id, &format!("CASE-{}", i % 4), now))
                .await
                .unwrap();
        }

        // Both replicas poll at once, in small batches, until nothing is due.
        let lease = Duration::from_secs(60);
        let poll = |s: Arc<RedisStore>| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    let batch = s.outbox_claim_due(now, 3, lease).await.unwrap();
                    if batch.is_empty() {
                        return got;
                    }
                    got.extend(batch.into_iter().map(|e| e.id));
                }
            })
        };
        let (ta, tb) = (poll(a.clone()), poll(b.clone()));
        let (got_a, got_b) = (ta.await.unwrap(), tb.await.unwrap());
        let mut all: Vec<String> = got_a.iter().chain(&got_b).cloned().collect();
        all.sort();
        assert_eq!(all, ids, "each due step handed to exactly one replica");
        let set_a: HashSet<_> = got_a.iter().collect();
        assert!(got_b.iter().all(|id| !set_a.contains(id)));

        // A restarted gateway (a fresh connection) still sees what was pushed
        // before, and can claim it once it is due again.
        drop((a, b));
        let fresh = RedisStore::connect(&redis.url, &ns).await.unwrap();
        let pending = fresh.outbox_pending("CASE-1").await.unwrap();
        let pending_ids: Vec<_> = pending.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            pending_ids,
            [
                "step-01", "step-05", "step-09", "step-13", "step-17", "step-21", "step-25",
                "step-29", "step-33", "step-37"
            ]
        );
        let mut retry = pending[0].clone();
        retry.attempts = 1;
        retry.next_at = now;
        fresh.outbox_push(retry).await.unwrap();
        let claimed = fresh.outbox_claim_due(Utc::now(), 10, lease).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(
            (claimed[0].id.as_str(), claimed[0].attempts),
            ("step-01", 1)
        );

        // Completing removes the step everywhere, including its case's list.
        fresh.outbox_complete("step-01").await.unwrap();
        assert_eq!(fresh.outbox_pending("CASE-1").await.unwrap().len(), 9);
    }

    #[tokio::test]
    async fn a_step_moved_to_another_case_leaves_the_old_case() {
        let redis = test_redis();
        let store = RedisStore::connect(&redis.url, &namespace("gridcase-test"))
            .await
            .unwrap();
        let now = Utc::now();
        store.outbox_push(step("s", "CASE-A", now)).await.unwrap();
        store.outbox_push(step("s", "CASE-B", now)).await.unwrap();
        assert!(store.outbox_pending("CASE-A").await.unwrap().is_empty());
        assert_eq!(store.outbox_pending("CASE-B").await.unwrap().len(), 1);
        store.outbox_complete("s").await.unwrap();
        assert!(store.outbox_pending("CASE-B").await.unwrap().is_empty());
        assert!(store
            .outbox_claim_due(now, 10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty());
    }
}
