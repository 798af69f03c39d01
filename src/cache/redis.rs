//! The Redis cache backend, shared by every replica. Reads are one `MGET`,
//! writes one pipeline of `SET … PX` (plus the group index), evictions one
//! script: each call is one round trip.
//!
//! A group (a key prefix, e.g. every cached page of one partner's cases) keeps
//! its members in the set `{group}#`, so evicting it never scans the keyspace.

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::Script;

use super::{Cache, CacheError, Entry, Hit};

/// KEYS: keys to delete, then group sets; ARGV[1]: how many of KEYS are keys.
const EVICT: &str = r#"
local n = tonumber(ARGV[1])
for i = 1, #KEYS do
  if i > n then
    local members = redis.call('SMEMBERS', KEYS[i])
    for _, m in ipairs(members) do redis.call('DEL', m) end
  end
  redis.call('DEL', KEYS[i])
end
return 1
"#;

pub struct RedisCache {
    conn: ConnectionManager,
    evict: Script,
}

fn err(e: redis::RedisError) -> CacheError {
    CacheError(e.to_string())
}

impl RedisCache {
    pub async fn connect(url: &str) -> Result<Self, CacheError> {
        let client = redis::Client::open(url).map_err(err)?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(std::time::Duration::from_millis(500)))
            .set_response_timeout(Some(std::time::Duration::from_millis(500)));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(err)?;
        Ok(Self {
            conn,
            evict: Script::new(EVICT),
        })
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Hit>>, CacheError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let found: Vec<Option<Vec<u8>>> = redis::cmd("MGET")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(found.into_iter().map(|v| v.map(Hit::remote)).collect())
    }

    async fn put(&self, entries: Vec<Entry>) -> Result<(), CacheError> {
        let mut pipe = redis::pipe();
        for e in &entries {
            let ms = e.ttl.as_millis().max(1) as u64;
            pipe.cmd("SET")
                .arg(&e.key)
                .arg(&e.value)
                .arg("PX")
                .arg(ms)
                .ignore();
            for g in &e.groups {
                let set = format!("{g}#");
                pipe.cmd("SADD").arg(&set).arg(&e.key).ignore();
                pipe.cmd("PEXPIRE").arg(&set).arg(ms).arg("GT").ignore();
                // A new set has no TTL for GT to compare with: give it one.
                pipe.cmd("PEXPIRE").arg(&set).arg(ms).arg("NX").ignore();
            }
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(err)
    }

    async fn evict(&self, keys: &[String], groups: &[String]) -> Result<(), CacheError> {
        if keys.is_empty() && groups.is_empty() {
            return Ok(());
        }
        let mut inv = self.evict.prepare_invoke();
        for k in keys {
            inv.key(k);
        }
        for g in groups {
            inv.key(format!("{g}#"));
        }
        inv.arg(keys.len());
        let mut conn = self.conn.clone();
        inv.invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn entries_round_trip_and_groups_evict_their_members() {
        let redis = crate::test_redis::test_redis();
        let c = RedisCache::connect(&redis.url).await.unwrap();
        let ns = crate::test_redis::namespace("cache");
        let t = |s: &str| s.replace("t:", &format!("{ns}:"));
        let ttl = Duration::from_secs(60);
        let e = |k: &str, g: &[&str]| Entry {
            key: t(k),
            value: t(k).into_bytes(),
            ttl,
            groups: g.iter().map(|s| t(s)).collect(),
        };
        c.put(vec![
            e("t:v1:case:1", &[]),
            e(
                "t:v1:case-list:TP-1:a",
                &["t:v1:case-list:TP-1:", "t:v1:case-list:"],
            ),
            e(
                "t:v1:case-list:TP-2:a",
                &["t:v1:case-list:TP-2:", "t:v1:case-list:"],
            ),
        ])
        .await
        .unwrap();
        let keys = [
            "t:v1:case:1",
            "t:v1:case-list:TP-1:a",
            "t:v1:case-list:TP-2:a",
        ]
        .map(t);
        let got = c.get(&keys).await.unwrap();
        assert_eq!(
            got[1].as_ref().map(|h| h.bytes.as_slice()),
            Some(keys[1].as_bytes())
        );
        c.evict(&keys[..1], &[t("t:v1:case-list:TP-1:")])
            .await
            .unwrap();
        let got = c.get(&keys).await.unwrap();
        assert_eq!(
            got.iter().map(Option::is_some).collect::<Vec<_>>(),
            [false, false, true]
        );
        c.evict(&[], &[t("t:v1:case-list:")]).await.unwrap();
        assert!(c.get(&keys).await.unwrap().iter().all(Option::is_none));
    }
}
