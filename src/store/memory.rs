//! The in-memory [`Store`]: one process, lost on restart. The default when no
//! Redis is configured.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{AuditEntry, Claim, OutboxEntry, Result, Store};

#[derive(Default)]
struct State {
    idem: HashMap<String, Idem>,
    seen: HashMap<String, Instant>,
    outbox: HashMap<String, (OutboxEntry, Option<Instant>)>,
    audit: HashMap<String, Vec<AuditEntry>>,
    cursors: HashMap<String, u64>,
    versions: HashMap<String, u64>,
    leases: HashMap<String, (String, Instant)>,
}

struct Idem {
    fingerprint: String,
    result: Option<String>,
    expires: Instant,
}

#[derive(Default)]
pub struct MemoryStore {
    // A std mutex: every critical section is a few map operations, never an await.
    state: Mutex<State>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn idem_begin(&self, key: &str, fingerprint: &str, lease: Duration) -> Result<Claim> {
        let mut s = self.state();
        let now = Instant::now();
        if let Some(e) = s.idem.get(key) {
            if e.expires > now {
                return Ok(if e.fingerprint != fingerprint {
                    Claim::Conflict
                } else if let Some(r) = &e.result {
                    Claim::Done(r.clone())
                } else {
                    Claim::InProgress
                });
            }
        }
        s.idem.insert(
            key.to_owned(),
            Idem {
                fingerprint: fingerprint.to_owned(),
                result: None,
                expires: now + lease,
            },
        );
        Ok(Claim::Claimed)
    }

    async fn idem_finish(
        &self,
        key: &str,
        fingerprint: &str,
        result: &str,
        ttl: Duration,
    ) -> Result<()> {
        self.state().idem.insert(
            key.to_owned(),
            Idem {
                fingerprint: fingerprint.to_owned(),
                result: Some(result.to_owned()),
                expires: Instant::now() + ttl,
            },
        );
        Ok(())
    }

    async fn idem_release(&self, key: &str) -> Result<()> {
        self.state().idem.remove(key);
        Ok(())
    }

    async fn first_delivery(&self, event_id: &str, ttl: Duration) -> Result<bool> {
        let mut s = self.state();
        let now = Instant::now();
        s.seen.retain(|_, until| *until > now);
        Ok(s.seen.insert(event_id.to_owned(), now + ttl).is_none())
    }

    async fn outbox_push(&self, entry: OutboxEntry) -> Result<()> {
        self.state().outbox.insert(entry.id.clone(), (entry, None));
        Ok(())
    }

    async fn outbox_claim_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxEntry>> {
        let mut s = self.state();
        let instant = Instant::now();
        let mut due: Vec<&mut (OutboxEntry, Option<Instant>)> = s
            .outbox
            .values_mut()
            .filter(|(e, leased)| {
                e.is_pending() && e.next_at <= now && leased.is_none_or(|l| l <= instant)
            })
            .collect();
        due.sort_by(|a, b| a.0.next_at.cmp(&b.0.next_at).then(a.0.id.cmp(&b.0.id)));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(e, leased)| {
                *leased = Some(instant + lease);
                e.clone()
            })
            .collect())
    }

    async fn outbox_due(&self, now: DateTime<Utc>) -> Result<u64> {
        let instant = Instant::now();
        Ok(self
            .state()
            .outbox
            .values()
            .filter(|(e, leased)| e.next_at <= now && leased.is_none_or(|l| l <= instant))
            .count() as u64)
    }

    async fn outbox_complete(&self, id: &str) -> Result<()> {
        self.state().outbox.remove(id);
        Ok(())
    }

    async fn outbox_pending(&self, case_id: &str) -> Result<Vec<OutboxEntry>> {
        let mut v: Vec<OutboxEntry> = self
            .state()
            .outbox
            .values()
            .filter(|(e, _)| e.case_id == case_id)
            .map(|(e, _)| e.clone())
            .collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(v)
    }

    async fn audit_append(&self, case_id: &str, entry: AuditEntry) -> Result<()> {
        self.state()
            .audit
            .entry(case_id.to_owned())
            .or_default()
            .push(entry);
        Ok(())
    }

    async fn audit_list(&self, case_id: &str) -> Result<Vec<AuditEntry>> {
        Ok(self.state().audit.get(case_id).cloned().unwrap_or_default())
    }

    async fn cursor_get(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.state().cursors.get(name).copied())
    }

    async fn cursor_set(&self, name: &str, value: u64) -> Result<()> {
        self.state().cursors.insert(name.to_owned(), value);
        Ok(())
    }

    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    async fn case_advance(&self, case_id: &str, version: u64) -> Result<bool> {
        let mut s = self.state();
        let v = s.versions.entry(case_id.to_owned()).or_insert(0);
        if version < *v {
            return Ok(false);
        }
        *v = version;
        Ok(true)
    }

    async fn case_applied(&self, case_id: &str) -> Result<Option<u64>> {
        Ok(self.state().versions.get(case_id).copied())
    }

    async fn lease_all(
        &self,
        names: &[String],
        holder: &str,
        ttl: Duration,
    ) -> Result<Vec<String>> {
        let mut s = self.state();
        let now = Instant::now();
        let held: Vec<String> = names
            .iter()
            .filter(|n| {
                s.leases
                    .get(*n)
                    .is_some_and(|(h, until)| h != holder && *until > now)
            })
            .cloned()
            .collect();
        if held.is_empty() {
            for n in names {
                s.leases.insert(n.clone(), (holder.to_owned(), now + ttl));
            }
        }
        Ok(held)
    }

    async fn lease_release(&self, names: &[String], holder: &str) -> Result<()> {
        let mut s = self.state();
        for n in names {
            if s.leases.get(n).is_some_and(|(h, _)| h == holder) {
                s.leases.remove(n);
            }
        }
        Ok(())
    }

    async fn outbox_extend(&self, id: &str, until: DateTime<Utc>) -> Result<()> {
        let mut s = self.state();
        let left = (until - Utc::now()).to_std().unwrap_or_default();
        if let Some((_, leased)) = s.outbox.get_mut(id) {
            *leased = Some(Instant::now() + left);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::contract;
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn memory_store_keeps_the_store_contract() {
        let store = MemoryStore::new();
        contract::idempotency(&store, "m").await;
        contract::webhook_dedupe(&store, "m").await;
        contract::outbox(&store, "m").await;
        contract::audit_and_cursors(&store, "m").await;
        contract::versions_and_leases(&store, "m").await;
        contract::concurrent_claims_have_one_winner(Arc::new(MemoryStore::new()), "m").await;
    }
}
