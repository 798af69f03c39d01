//! The in-memory cache backend: moka, bounded in entries, each entry with its
//! own time to live. Per replica; other replicas' evictions reach it over
//! Redis pub/sub when Redis is configured (see `fanout`).

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{Cache, CacheError, Entry, Hit};

/// An entry: its bytes, decoded at most once (on the first hit) for all later
/// hits, which then clone the decoded value instead of parsing JSON again.
#[derive(Clone)]
struct Value {
    hit: Hit,
    ttl: Duration,
}

struct PerEntry;

impl moka::Expiry<String, Value> for PerEntry {
    fn expire_after_create(&self, _: &String, v: &Value, _: Instant) -> Option<Duration> {
        Some(v.ttl)
    }
    fn expire_after_update(
        &self,
        _: &String,
        v: &Value,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.ttl)
    }
}

pub struct MemoryCache {
    entries: moka::sync::Cache<String, Value>,
}

impl MemoryCache {
    pub fn new(max_entries: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(PerEntry)
                .support_invalidation_closures()
                .build(),
        }
    }
}

#[async_trait]
impl Cache for MemoryCache {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Hit>>, CacheError> {
        Ok(keys
            .iter()
            .map(|k| self.entries.get(k).map(|v| v.hit))
            .collect())
    }

    async fn put(&self, entries: Vec<Entry>) -> Result<(), CacheError> {
        for e in entries {
            self.entries.insert(
                e.key,
                Value {
                    hit: Hit::local(e.value),
                    ttl: e.ttl,
                },
            );
        }
        Ok(())
    }

    async fn evict(&self, keys: &[String], groups: &[String]) -> Result<(), CacheError> {
        for k in keys {
            self.entries.invalidate(k);
        }
        if !groups.is_empty() {
            // A group is a key prefix.
            let groups = groups.to_vec();
            self.entries
                .invalidate_entries_if(move |k, _| groups.iter().any(|g| k.starts_with(g)))
                .map_err(|e| CacheError(e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, ttl: Duration, groups: &[&str]) -> Entry {
        Entry {
            key: key.into(),
            value: key.as_bytes().to_vec(),
            ttl,
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn entries_are_found_until_evicted_alone_or_with_their_group() {
        let c = MemoryCache::new(100);
        let ttl = Duration::from_secs(60);
        c.put(vec![
            entry("p:case:1", ttl, &[]),
            entry("p:case-list:TP-1:abc", ttl, &["p:case-list:TP-1:"]),
            entry("p:case-list:TP-2:abc", ttl, &["p:case-list:TP-2:"]),
        ])
        .await
        .unwrap();
        let keys = ["p:case:1", "p:case-list:TP-1:abc", "p:case-list:TP-2:abc"].map(String::from);
        assert!(c.get(&keys).await.unwrap().iter().all(Option::is_some));
        c.evict(&keys[..1], &["p:case-list:TP-1:".into()])
            .await
            .unwrap();
        let got = c.get(&keys).await.unwrap();
        assert_eq!(
            got.iter().map(Option::is_some).collect::<Vec<_>>(),
            [false, false, true]
        );
    }

    #[tokio::test]
    async fn the_memory_cache_holds_at_most_its_bound() {
        let c = MemoryCache::new(10);
        c.put(
            (0..100)
                .map(|i| entry(&format!("k{i}"), Duration::from_secs(60), &[]))
                .collect(),
        )
        .await
        .unwrap();
        c.entries.run_pending_tasks();
        assert!(c.entries.entry_count() <= 10);
    }
}
