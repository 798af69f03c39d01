//! Evictions shared between replicas whose caches are in memory: each replica
//! publishes what it evicts on a Redis pub/sub channel and evicts what the
//! others publish.
//!
//! Channel: `{namespace}:v1:cache:evictions`; a message is JSON
//! `{"origin", "keys", "groups"}`, `origin` naming the replica that sent it so
//! it can skip its own. Pub/sub keeps nothing for a replica that is not
//! listening, so after its subscription is lost (Redis restarted, the
//! connection dropped) a replica empties its memory cache once it is
//! subscribed again: what it missed is unknown, so all of it may be stale.
//!
//! Delivery is asynchronous: another replica evicts within the pub/sub
//! latency of the publishing replica's acknowledgement, not before it. A
//! deployment that needs "fresh on every replica the moment a webhook is
//! acknowledged" uses the Redis cache backend, whose entries are shared.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use redis::aio::{ConnectionManager, PubSubStream};
use redis::Client;
use serde::{Deserialize, Serialize};
use tokio::task::AbortHandle;

use super::EntityCache;

/// Pause before the listener subscribes again after losing its connection.
const RETRY: Duration = Duration::from_secs(1);

/// Largest message a replica reads; a larger one is not an eviction this
/// gateway sent and is skipped.
const MAX_MESSAGE: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
struct Message {
    origin: String,
    keys: Vec<String>,
    groups: Vec<String>,
}

/// The publishing half, held by the [`EntityCache`]; dropping it stops the
/// listener.
pub(crate) struct Fanout {
    publisher: ConnectionManager,
    channel: String,
    origin: String,
    listener: AbortHandle,
}

impl Drop for Fanout {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// What the listener needs to start once the cache exists.
pub(crate) struct Subscribed {
    client: Client,
    stream: PubSubStream,
    publisher: ConnectionManager,
    channel: String,
}

/// Subscribe to `namespace`'s eviction channel. Returns once Redis has
/// confirmed the subscription, so every eviction published after the gateway
/// has started reaches it.
pub(crate) async fn subscribe(url: &str, namespace: &str) -> Result<Subscribed, String> {
    let client = Client::open(url).map_err(|e| e.to_string())?;
    let channel = format!("{namespace}:v1:cache:evictions");
    let stream = open(&client, &channel).await.map_err(|e| e.to_string())?;
    let publisher = crate::store::redis_connection(url)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Subscribed {
        client,
        stream,
        publisher,
        channel,
    })
}

async fn open(client: &Client, channel: &str) -> redis::RedisResult<PubSubStream> {
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub.subscribe(channel).await?;
    Ok(pubsub.into_on_message())
}

/// A name for this replica's messages, distinct per cache even within one
/// process (tests run several gateways in one).
fn origin() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!(
        "{:x}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

impl Subscribed {
    /// Start listening on behalf of `cache` (held weakly: the listener does not
    /// keep the cache alive) and return the publishing half.
    pub(crate) fn start(self, cache: Weak<EntityCache>) -> Fanout {
        let origin = origin();
        let listener = tokio::spawn(listen(
            self.client,
            self.stream,
            self.channel.clone(),
            origin.clone(),
            cache,
        ));
        Fanout {
            publisher: self.publisher,
            channel: self.channel,
            origin,
            listener: listener.abort_handle(),
        }
    }
}

impl Fanout {
    /// Tell the other replicas to evict `keys` and `groups`.
    pub(crate) async fn publish(&self, keys: &[String], groups: &[String]) -> Result<(), String> {
        let message = serde_json::to_string(&Message {
            origin: self.origin.clone(),
            keys: keys.to_vec(),
            groups: groups.to_vec(),
        })
        .map_err(|e| e.to_string())?;
        redis::cmd("PUBLISH")
            .arg(&self.channel)
            .arg(message)
            .query_async::<i64>(&mut self.publisher.clone())
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Evict what other replicas publish until the cache goes away; after a lost
/// subscription, subscribe again and empty the cache.
async fn listen(
    client: Client,
    mut stream: PubSubStream,
    channel: String,
    origin: String,
    cache: Weak<EntityCache>,
) {
    loop {
        while let Some(msg) = stream.next().await {
            let Some(cache) = cache.upgrade() else { return };
            let payload: &[u8] = msg.get_payload_bytes();
            if payload.len() > MAX_MESSAGE {
                tracing::warn!(
                    bytes = payload.len(),
                    "oversized cache eviction message skipped"
                );
                continue;
            }
            match serde_json::from_slice::<Message>(payload) {
                Ok(m) if m.origin == origin => {}
                Ok(m) => {
                    cache.evict_here(&m.keys, &m.groups).await;
                    cache
                        .metrics
                        .inc("gridcase_cache_remote_evictions_total", &[]);
                }
                Err(e) => tracing::warn!(error = %e, "unreadable cache eviction message skipped"),
            }
        }
        tracing::warn!("cache eviction channel lost; subscribing again");
        stream = loop {
            if cache.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(RETRY).await;
            match open(&client, &channel).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot subscribe to cache evictions; retrying")
                }
            }
        };
        let Some(cache) = cache.upgrade() else { return };
        cache.evict_everything_here().await;
        cache
            .metrics
            .inc("gridcase_cache_fanout_resubscribed_total", &[]);
        tracing::info!(
            "cache eviction channel back; memory cache emptied, as evictions may have been missed"
        );
    }
}

/// Shared ownership for the caller that builds the cache.
pub(crate) fn cache_with(
    build: impl FnOnce(Option<Fanout>) -> EntityCache,
    subscribed: Option<Subscribed>,
) -> Arc<EntityCache> {
    match subscribed {
        None => Arc::new(build(None)),
        Some(s) => Arc::new_cyclic(|weak| build(Some(s.start(weak.clone())))),
    }
}
