//! The entity cache: upstream records (fetched with the gateway's service
//! credentials), relations and first list pages, shared by every request —
//! never a decision: the policy table runs on every read after the load.
//!
//! - [`Cache`]: the backend trait; [`memory::MemoryCache`] (moka, size-bounded,
//!   the default) and [`redis::RedisCache`] (pipelined `MGET` / `SET EX`: one
//!   batch is one Redis round trip).
//! - [`EntityCache`]: what the gateway uses: versioned keys
//!   (`{namespace}:v1:{platform}:{kind}:{id}`), TTL per kind, negative entries,
//!   single flight for concurrent misses, and a bounded timeout after which a
//!   slow or absent backend is bypassed (counted, warned once).
//! - [`evict`]: what each platform event and each upstream write makes stale.
//! - [`fanout`]: with the memory backend and Redis configured, evictions
//!   reach the other replicas' memory caches over Redis pub/sub.

pub(crate) mod evict;
pub(crate) mod fanout;
pub(crate) mod memory;
pub(crate) mod redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::{BoxFuture, FutureExt, Shared};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::Platform;
use crate::metrics::Metrics;
use crate::upstream::UpstreamError;

/// The cache `config` asks for. A Redis backend that cannot be reached at start
/// is refused (like the store and the bus); later outages are bypassed. With
/// the memory backend and Redis configured, evictions are shared with the
/// other replicas over Redis pub/sub.
pub async fn connect(
    config: &crate::Config,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Arc<EntityCache>> {
    let c = &config.cache;
    let backend = c.backend.unwrap_or(if config.redis_url.is_some() {
        Backend::Redis
    } else {
        Backend::Memory
    });
    let mut subscribed = None;
    let store: Option<Arc<dyn Cache>> = match (backend, &config.redis_url) {
        (Backend::Off, _) => None,
        (Backend::Memory, url) => {
            if let Some(url) = url {
                subscribed = Some(
                    fanout::subscribe(url.expose(), &config.redis_namespace)
                        .await
                        .map_err(|e| {
                            anyhow::anyhow!("GRIDCASE_REDIS_URL (cache evictions): {e}")
                        })?,
                );
            }
            Some(Arc::new(memory::MemoryCache::new(c.max_entries)))
        }
        (Backend::Redis, Some(url)) => Some(Arc::new(
            redis::RedisCache::connect(url.expose())
                .await
                .map_err(|e| anyhow::anyhow!("GRIDCASE_REDIS_URL (cache): {e}"))?,
        )),
        (Backend::Redis, None) => anyhow::bail!("GRIDCASE_CACHE=redis needs GRIDCASE_REDIS_URL"),
    };
    Ok(fanout::cache_with(
        |fanout| {
            let mut cache = EntityCache::new(store, &config.redis_namespace, c, metrics);
            cache.fanout = fanout;
            cache
        },
        subscribed,
    ))
}

/// A backend failed; the cache is bypassed for that operation.
#[derive(Debug, thiserror::Error)]
#[error("cache backend: {0}")]
pub struct CacheError(pub String);

/// One entry to write.
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    pub ttl: Duration,
    /// Groups (key prefixes) the entry is evicted with, e.g. every cached page of
    /// one partner's issues.
    pub groups: Vec<String>,
}

/// A value found in a backend: its bytes and, for a backend in this process, the
/// slot its decoded form is kept in, so later hits skip decoding.
#[derive(Clone)]
pub struct Hit {
    pub bytes: Arc<Vec<u8>>,
    decoded: Option<Arc<OnceLock<Decoded>>>,
}

type Decoded = Arc<dyn std::any::Any + Send + Sync>;

impl Hit {
    /// Bytes from a backend elsewhere (decoded on every hit).
    pub fn remote(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Arc::new(bytes),
            decoded: None,
        }
    }

    /// Bytes held in this process, with a slot for what they decode to.
    pub fn local(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Arc::new(bytes),
            decoded: Some(Arc::default()),
        }
    }

    /// The value the bytes hold as `T`: decoded once per entry where the backend
    /// keeps a slot, cloned from there on. `None` when they are not a `T`.
    fn decode<T>(&self) -> Option<T>
    where
        T: DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let Some(slot) = &self.decoded else {
            return serde_json::from_slice(&self.bytes).ok();
        };
        let any = slot.get_or_init(|| Arc::new(serde_json::from_slice::<T>(&self.bytes).ok()));
        match any.downcast_ref::<Option<T>>() {
            Some(v) => v.clone(),
            // Another type decoded this entry first (a key read as two types):
            // decode this once more rather than share.
            None => serde_json::from_slice(&self.bytes).ok(),
        }
    }
}

/// A cache backend. Every method is one round trip to the backend.
#[async_trait]
pub trait Cache: Send + Sync {
    async fn get(&self, keys: &[String]) -> Result<Vec<Option<Hit>>, CacheError>;
    async fn put(&self, entries: Vec<Entry>) -> Result<(), CacheError>;
    /// Remove these keys and every entry of these groups.
    async fn evict(&self, keys: &[String], groups: &[String]) -> Result<(), CacheError>;
}

/// Which backend holds the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Off,
    Memory,
    Redis,
}

/// Cache settings (`GRIDCASE_CACHE*`).
#[derive(Debug, Clone)]
pub struct CacheConfig {
    /// `None`: `redis` when a Redis URL is configured, else `memory`.
    pub backend: Option<Backend>,
    pub ttls: Ttls,
    /// Most entries the memory backend holds.
    pub max_entries: u64,
    /// Longest a cache operation may take before the backend is bypassed.
    pub timeout: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            backend: None,
            ttls: Ttls::default(),
            max_entries: 100_000,
            timeout: Duration::from_millis(50),
        }
    }
}

impl Backend {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "off" => Ok(Backend::Off),
            "memory" => Ok(Backend::Memory),
            "redis" => Ok(Backend::Redis),
            _ => Err(format!("`{s}` is not one of off, memory, redis")),
        }
    }
}

/// Time to live per kind of entry: `record` (one entity), `relation` (an
/// entity's documents, evidence, …), `list` (a list page), `negative` (a
/// not-found), `query` (a persisted query); any kind name (`case`,
/// `issue-list`, …) overrides its class.
#[derive(Debug, Clone)]
pub struct Ttls(HashMap<String, Duration>);

impl Default for Ttls {
    fn default() -> Self {
        Self(HashMap::from([
            ("record".into(), Duration::from_secs(300)),
            ("relation".into(), Duration::from_secs(300)),
            ("list".into(), Duration::from_secs(60)),
            ("negative".into(), Duration::from_secs(10)),
            ("query".into(), Duration::from_secs(24 * 3600)),
        ]))
    }
}

impl Ttls {
    /// `kind=duration` pairs, comma-separated, over the defaults:
    /// `case=1m,list=30s,negative=5s`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut t = Ttls::default();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kind, d) = pair
                .split_once('=')
                .ok_or_else(|| format!("`{pair}` is not kind=duration"))?;
            let d = humantime::parse_duration(d.trim()).map_err(|e| format!("`{pair}`: {e}"))?;
            if d.is_zero() {
                return Err(format!("`{pair}`: a time to live must be above zero"));
            }
            t.0.insert(kind.trim().to_owned(), d);
        }
        Ok(t)
    }

    fn of(&self, kind: &str, class: &str) -> Duration {
        self.0
            .get(kind)
            .or_else(|| self.0.get(class))
            .copied()
            .unwrap_or(Duration::from_secs(60))
    }
}

type Fetched = Result<Arc<HashMap<String, Arc<Vec<u8>>>>, Arc<UpstreamError>>;
type Flight = Shared<BoxFuture<'static, Fetched>>;

/// The gateway's cache: keys, TTLs, single flight, bypass on backend trouble.
pub struct EntityCache {
    backend: Option<Arc<dyn Cache>>,
    namespace: String,
    ttls: Ttls,
    timeout: Duration,
    metrics: Arc<Metrics>,
    /// Set while the backend is failing, so the warning is logged once per outage.
    failing: AtomicBool,
    /// Upstream fetches under way, by cache key, with the fetch's number.
    flights: Mutex<Flights>,
    /// Where evictions are published for other replicas' memory caches.
    fanout: Option<fanout::Fanout>,
}

#[derive(Default)]
struct Flights {
    next: u64,
    by_key: HashMap<String, (u64, Flight)>,
}

impl EntityCache {
    pub fn new(
        backend: Option<Arc<dyn Cache>>,
        namespace: &str,
        config: &CacheConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            backend,
            namespace: namespace.to_owned(),
            ttls: config.ttls.clone(),
            timeout: config.timeout,
            metrics,
            failing: AtomicBool::new(false),
            flights: Mutex::new(Flights::default()),
            fanout: None,
        }
    }

    pub fn is_on(&self) -> bool {
        self.backend.is_some()
    }

    pub fn key(&self, platform: Platform, kind: &str, id: &str) -> String {
        format!("{}:v1:{}:{kind}:{id}", self.namespace, platform.slug())
    }

    /// Where a persisted query's text is kept.
    pub fn query_key(&self, sha256: &str) -> String {
        format!("{}:v1:gateway:query:{sha256}", self.namespace)
    }

    pub(crate) async fn put_query(&self, key: String, text: Vec<u8>) {
        let ttl = self.ttl("query", "query");
        self.put(vec![Entry {
            key,
            value: text,
            ttl,
            groups: Vec::new(),
        }])
        .await;
    }

    fn ttl(&self, kind: &str, class: &str) -> Duration {
        self.ttls.of(kind, class)
    }

    fn bypassed(&self, op: &'static str, why: &dyn std::fmt::Display) {
        self.metrics
            .inc("gridcase_cache_bypassed_total", &[("operation", op)]);
        if !self.failing.swap(true, Ordering::SeqCst) {
            tracing::warn!(operation = op, error = %why, "cache unavailable; answering from the platforms until it is back");
        }
    }

    fn recovered(&self) {
        if self.failing.swap(false, Ordering::SeqCst) {
            tracing::info!("cache available again");
        }
    }

    fn count(&self, kind: &str, hits: usize, misses: usize) {
        let m = &self.metrics;
        m.add(
            "gridcase_cache_lookups_total",
            &[("kind", kind), ("result", "hit")],
            hits as f64,
        );
        m.add(
            "gridcase_cache_lookups_total",
            &[("kind", kind), ("result", "miss")],
            misses as f64,
        );
    }

    pub(crate) async fn get(&self, keys: &[String]) -> Vec<Option<Hit>> {
        let Some(b) = &self.backend else {
            return vec![None; keys.len()];
        };
        match tokio::time::timeout(self.timeout, b.get(keys)).await {
            Ok(Ok(v)) if v.len() == keys.len() => {
                self.recovered();
                v
            }
            Ok(Ok(_)) => {
                self.bypassed("get", &"short answer");
                vec![None; keys.len()]
            }
            Ok(Err(e)) => {
                self.bypassed("get", &e);
                vec![None; keys.len()]
            }
            Err(_) => {
                self.bypassed("get", &"timed out");
                vec![None; keys.len()]
            }
        }
    }

    pub(crate) async fn put(&self, entries: Vec<Entry>) {
        let Some(b) = &self.backend else { return };
        if entries.is_empty() {
            return;
        }
        match tokio::time::timeout(self.timeout, b.put(entries)).await {
            Ok(Ok(())) => self.recovered(),
            Ok(Err(e)) => self.bypassed("put", &e),
            Err(_) => self.bypassed("put", &"timed out"),
        }
    }

    /// Evict keys and groups, here and (with a fanout) on the other replicas.
    /// A fetch of one of these keys already under way will not write its
    /// (possibly older) answer into the cache.
    pub async fn evict(&self, keys: &[String], groups: &[String]) {
        self.evict_here(keys, groups).await;
        let Some(fanout) = &self.fanout else { return };
        match tokio::time::timeout(self.timeout * 4, fanout.publish(keys, groups)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => self.fanout_failed(&e),
            Err(_) => self.fanout_failed(&"timed out"),
        }
    }

    fn fanout_failed(&self, why: &dyn std::fmt::Display) {
        self.metrics
            .inc("gridcase_cache_fanout_failures_total", &[]);
        tracing::error!(error = %why, "cache eviction not shared with the other replicas; their entries live until their TTL or until they resubscribe");
    }

    /// Evict keys and groups from this replica's backend only.
    pub(crate) async fn evict_here(&self, keys: &[String], groups: &[String]) {
        let Some(b) = &self.backend else { return };
        {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            for k in keys {
                flights.by_key.remove(k);
            }
        }
        match tokio::time::timeout(self.timeout * 4, b.evict(keys, groups)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.bypassed("evict", &e);
                tracing::error!(error = %e, "cache eviction failed; entries live until their TTL");
            }
            Err(_) => {
                self.bypassed("evict", &"timed out");
                tracing::error!("cache eviction timed out; entries live until their TTL");
            }
        }
    }

    /// Drop every entry of this gateway's namespace held here, and forget the
    /// fetches under way, whose answers may be older than what was missed.
    pub(crate) async fn evict_everything_here(&self) {
        self.flights
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .clear();
        let everything = format!("{}:v1:", self.namespace);
        self.evict_here(&[], &[everything]).await;
    }

    /// Look `ids` up as `kind` records; fetch the misses with `fetch` (one call,
    /// shared with any concurrent request missing the same keys), and remember
    /// what it found — and what it did not, as a short-lived negative entry.
    pub async fn load<V, F, Fut>(
        self: &Arc<Self>,
        platform: Platform,
        kind: &'static str,
        class: &'static str,
        ids: Vec<String>,
        fetch: F,
    ) -> Result<HashMap<String, V>, Arc<UpstreamError>>
    where
        V: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        F: FnOnce(Vec<String>) -> Fut,
        Fut: std::future::Future<Output = Result<HashMap<String, V>, Arc<UpstreamError>>>
            + Send
            + 'static,
    {
        let keys: Vec<String> = ids.iter().map(|id| self.key(platform, kind, id)).collect();
        let mut out = HashMap::with_capacity(ids.len());
        let mut missing: Vec<usize> = Vec::new();
        for (i, hit) in self.get(&keys).await.into_iter().enumerate() {
            match hit.and_then(|h| h.decode::<Option<V>>()) {
                Some(Some(v)) => {
                    out.insert(ids[i].clone(), v);
                }
                Some(None) => {} // known not to exist
                None => missing.push(i),
            }
        }
        self.count(kind, ids.len() - missing.len(), missing.len());
        if missing.is_empty() {
            return Ok(out);
        }
        // Single flight: join fetches already under way, start one for the rest.
        let mut waits: Vec<Flight> = Vec::new();
        {
            let mut flights = self.flights.lock().unwrap_or_else(|e| e.into_inner());
            let mut mine: Vec<usize> = Vec::new();
            for i in &missing {
                match flights.by_key.get(&keys[*i]) {
                    Some((_, f)) => {
                        if !waits.iter().any(|w| w.ptr_eq(f)) {
                            waits.push(f.clone());
                        }
                    }
                    None => mine.push(*i),
                }
            }
            if !mine.is_empty() {
                flights.next += 1;
                let number = flights.next;
                let my_ids: Vec<String> = mine.iter().map(|i| ids[*i].clone()).collect();
                let my_keys: Vec<String> = mine.iter().map(|i| keys[*i].clone()).collect();
                let call = fetch(my_ids.clone());
                let this = self.clone();
                // Negative entries for records only: a relation with no members
                // is an ordinary answer.
                let ttl = self.ttl(kind, class);
                let negative = if class == "record" {
                    self.ttl(kind, "negative")
                } else {
                    ttl
                };
                let flight: Flight = {
                    let my_keys = my_keys.clone();
                    async move {
                        let found = call.await;
                        // Only keys still ours: an eviction meanwhile made the
                        // answer possibly older than the change.
                        let still: Vec<bool> = {
                            let mut flights =
                                this.flights.lock().unwrap_or_else(|e| e.into_inner());
                            my_keys
                                .iter()
                                .map(|k| match flights.by_key.get(k) {
                                    Some((n, _)) if *n == number => {
                                        flights.by_key.remove(k);
                                        true
                                    }
                                    _ => false,
                                })
                                .collect()
                        };
                        let mut found = found?;
                        let mut encoded = HashMap::with_capacity(my_keys.len());
                        let mut entries = Vec::new();
                        for ((id, key), keep) in my_ids.iter().zip(&my_keys).zip(still) {
                            let v = found.remove(id);
                            let ttl = if v.is_some() { ttl } else { negative };
                            let Ok(bytes) = serde_json::to_vec(&v) else {
                                continue;
                            };
                            if keep {
                                entries.push(Entry {
                                    key: key.clone(),
                                    value: bytes.clone(),
                                    ttl,
                                    groups: Vec::new(),
                                });
                            }
                            encoded.insert(key.clone(), Arc::new(bytes));
                        }
                        this.put(entries).await;
                        Ok(Arc::new(encoded))
                    }
                    .boxed()
                    .shared()
                };
                for k in &my_keys {
                    flights.by_key.insert(k.clone(), (number, flight.clone()));
                }
                waits.push(flight);
            }
        }
        let mut fetched: HashMap<String, Arc<Vec<u8>>> = HashMap::new();
        let mut failed = None;
        for w in waits {
            match w.await {
                Ok(m) => fetched.extend(m.iter().map(|(k, v)| (k.clone(), v.clone()))),
                Err(e) => failed = Some(e),
            }
        }
        for i in missing {
            match fetched.get(&keys[i]) {
                Some(b) => {
                    if let Ok(Some(v)) = serde_json::from_slice::<Option<V>>(b) {
                        out.insert(ids[i].clone(), v);
                    }
                }
                None => {
                    if let Some(e) = &failed {
                        return Err(e.clone());
                    }
                }
            }
        }
        Ok(out)
    }

    /// A list page: from the cache when there, else `fetch` and remember it in
    /// `groups` (the partner's lists of this kind, and every list of this kind).
    pub async fn page<T, Fut>(
        &self,
        platform: Platform,
        kind: &'static str,
        scope: String,
        query: String,
        fetch: Fut,
    ) -> Result<crate::domain::Page<T>, UpstreamError>
    where
        T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<crate::domain::Page<T>, UpstreamError>>,
    {
        if !self.is_on() {
            return fetch.await;
        }
        use sha2::Digest;
        let digest = hex::encode(&sha2::Sha256::digest(query.as_bytes())[..12]);
        let group = self.key(platform, kind, &format!("{scope}:"));
        let key = format!("{group}{digest}");
        if let Some(Some(hit)) = self.get(std::slice::from_ref(&key)).await.pop() {
            if let Some(page) = hit.decode() {
                self.count(kind, 1, 0);
                return Ok(page);
            }
        }
        self.count(kind, 0, 1);
        let page = fetch.await?;
        if let Ok(value) = serde_json::to_vec(&page) {
            self.put(vec![Entry {
                key,
                value,
                ttl: self.ttl(kind, "list"),
                groups: vec![group, self.key(platform, kind, "")],
            }])
            .await;
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A backend that never answers, like a Redis that stopped responding.
    struct Stuck;

    #[async_trait]
    impl Cache for Stuck {
        async fn get(&self, _: &[String]) -> Result<Vec<Option<Hit>>, CacheError> {
            std::future::pending().await
        }
        async fn put(&self, _: Vec<Entry>) -> Result<(), CacheError> {
            std::future::pending().await
        }
        async fn evict(&self, _: &[String], _: &[String]) -> Result<(), CacheError> {
            std::future::pending().await
        }
    }

    type Fetch = BoxFuture<'static, Result<HashMap<String, u32>, Arc<UpstreamError>>>;

    fn counting_fetch(calls: &Arc<AtomicUsize>) -> impl FnOnce(Vec<String>) -> Fetch {
        let calls = calls.clone();
        move |ids| {
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                Ok(ids.into_iter().map(|id| (id, 7)).collect())
            }
            .boxed()
        }
    }

    #[tokio::test]
    async fn a_stuck_backend_is_bypassed_and_counted() {
        let metrics = Arc::new(Metrics::new());
        let cache = Arc::new(EntityCache::new(
            Some(Arc::new(Stuck)),
            "t",
            &CacheConfig {
                timeout: Duration::from_millis(1),
                ..CacheConfig::default()
            },
            metrics.clone(),
        ));
        let calls = Arc::new(AtomicUsize::new(0));
        let found = cache
            .load(
                Platform::CoreCase,
                "case",
                "record",
                vec!["1".into()],
                counting_fetch(&calls),
            )
            .await
            .unwrap();
        assert_eq!(found["1"], 7, "answered from the platform");
        let text = metrics.render();
        assert!(
            text.contains("gridcase_cache_bypassed_total{operation=\"get\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("gridcase_cache_bypassed_total{operation=\"put\"} 1"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn concurrent_misses_on_one_key_share_one_fetch_and_the_next_read_hits() {
        let cache = Arc::new(EntityCache::new(
            Some(Arc::new(memory::MemoryCache::new(100))),
            "t",
            &CacheConfig::default(),
            Arc::new(Metrics::new()),
        ));
        let calls = Arc::new(AtomicUsize::new(0));
        let loads = (0..8).map(|_| {
            cache.load(
                Platform::CoreCase,
                "case",
                "record",
                vec!["1".into(), "2".into()],
                counting_fetch(&calls),
            )
        });
        for found in futures::future::join_all(loads).await {
            assert_eq!(found.unwrap().len(), 2);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        cache
            .load(
                Platform::CoreCase,
                "case",
                "record",
                vec!["2".into()],
                counting_fetch(&calls),
            )
            .await
            .unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_memory_entry_is_decoded_once_and_a_replaced_one_afresh() {
        let backend = memory::MemoryCache::new(100);
        let put = |v: &str| Entry {
            key: "t:v1:cc:case:1".into(),
            value: serde_json::to_vec(&Some(v)).unwrap(),
            ttl: Duration::from_secs(60),
            groups: Vec::new(),
        };
        let key = ["t:v1:cc:case:1".to_string()];
        backend.put(vec![put("open")]).await.unwrap();
        let first = backend.get(&key).await.unwrap().pop().flatten().unwrap();
        assert_eq!(first.decode::<Option<String>>(), Some(Some("open".into())));
        let second = backend.get(&key).await.unwrap().pop().flatten().unwrap();
        let slot = second.decoded.as_ref().unwrap();
        assert!(
            slot.get().is_some(),
            "the second hit finds the decoded value"
        );
        assert_eq!(second.decode::<Option<String>>(), Some(Some("open".into())));
        // Read as another type, the bytes are decoded as that type.
        assert_eq!(second.decode::<Option<u32>>(), None);

        backend.put(vec![put("resolved")]).await.unwrap();
        let replaced = backend.get(&key).await.unwrap().pop().flatten().unwrap();
        assert_eq!(
            replaced.decode::<Option<String>>(),
            Some(Some("resolved".into()))
        );
        // Values from elsewhere (Redis) have no slot and decode every time.
        let remote = Hit::remote(b"null".to_vec());
        assert_eq!(remote.decode::<Option<String>>(), Some(None));
    }

    #[test]
    fn ttls_parse_per_kind_over_the_defaults() {
        let t = Ttls::parse("case=1m, list=5s").unwrap();
        assert_eq!(t.of("case", "record"), Duration::from_secs(60));
        assert_eq!(t.of("issue", "record"), Duration::from_secs(300));
        assert_eq!(t.of("case-list", "list"), Duration::from_secs(5));
        assert!(Ttls::parse("case").is_err());
        assert!(Ttls::parse("case=0s").is_err());
    }
}
