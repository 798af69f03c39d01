//! The milestone bus: partner-safe case milestones, published by workflows and
//! streamed to subscribers. In memory (broadcast plus a replay ring) for one
//! process; Redis Streams when configured, so every replica's subscribers see
//! every replica's milestones.

mod redis;

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::sync::broadcast;

use crate::domain::{CaseId, Milestone, PartnerId};

pub use redis::RedisBus;

/// The bus failed (Redis unreachable, unreadable entry, unknown cursor).
#[derive(Debug, thiserror::Error)]
#[error("milestone bus: {0}")]
pub struct BusError(pub String);

/// Where milestones go, and where subscriptions read them from.
#[async_trait]
pub trait MilestoneBus: Send + Sync + 'static {
    /// Publish; the answer carries the event's position (`cursor`) in the stream.
    async fn publish(&self, event: MilestoneEvent) -> Result<MilestoneEvent, BusError>;

    /// With `after`: the retained events after that cursor, oldest first, then
    /// every event published from now on. Without: only events from now on. Each
    /// event once, in order. A malformed `after` is an error.
    async fn subscribe(
        &self,
        after: Option<String>,
    ) -> Result<BoxStream<'static, MilestoneEvent>, BusError>;
}

/// A milestone a partner may see: no internal field exists here.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MilestoneEvent {
    /// Position in the stream (opaque, increasing); pass as `after` to resume.
    /// Empty until published.
    pub cursor: String,
    pub case_id: CaseId,
    pub case_number: String,
    pub partner_id: PartnerId,
    pub milestone: Milestone,
    /// Text written for the partner, if any.
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

/// Events a fresh subscriber can still replay.
const REPLAY: usize = 1024;

/// One process's bus.
pub struct MemoryBus {
    tx: broadcast::Sender<(u64, MilestoneEvent)>,
    ring: Mutex<(u64, VecDeque<(u64, MilestoneEvent)>)>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(REPLAY).0,
            ring: Mutex::new((0, VecDeque::new())),
        }
    }
}

#[async_trait]
impl MilestoneBus for MemoryBus {
    async fn publish(&self, mut event: MilestoneEvent) -> Result<MilestoneEvent, BusError> {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.0 += 1;
        let seq = ring.0;
        event.cursor = seq.to_string();
        ring.1.push_back((seq, event.clone()));
        if ring.1.len() > REPLAY {
            ring.1.pop_front();
        }
        // Nobody listening is fine: the ring still has it. Sent under the lock so
        // the broadcast order is the sequence order.
        let _ = self.tx.send((seq, event.clone()));
        Ok(event)
    }

    async fn subscribe(
        &self,
        after: Option<String>,
    ) -> Result<BoxStream<'static, MilestoneEvent>, BusError> {
        let after: Option<u64> = after
            .map(|a| {
                a.parse()
                    .map_err(|_| BusError(format!("`{a}` is not a cursor of this stream")))
            })
            .transpose()?;
        // Listen first, then read the ring: nothing published in between is missed,
        // and the sequence drops what the replay already gave.
        let live = self.tx.subscribe();
        let (latest, replay): (u64, Vec<(u64, MilestoneEvent)>) = {
            let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
            let replay = match after {
                Some(a) => ring.1.iter().filter(|(s, _)| *s > a).cloned().collect(),
                None => vec![],
            };
            (ring.0, replay)
        };
        let live = tokio_stream::wrappers::BroadcastStream::new(live).filter_map(|r| async move {
            match r {
                Ok(item) => Some(item),
                // A subscriber that fell behind by more than the channel holds skips
                // ahead rather than ending.
                Err(tokio_stream::wrappers::errors::BroadcastStreamRecvError::Lagged(n)) => {
                    tracing::warn!(skipped = n, "a milestone subscriber fell behind");
                    None
                }
            }
        });
        let stream = futures::stream::iter(replay.into_iter().map(|(_, e)| e))
            .chain(live.filter_map(move |(seq, e)| async move { (seq > latest).then_some(e) }));
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn event(case: &str) -> MilestoneEvent {
        MilestoneEvent {
            cursor: String::new(),
            case_id: CaseId::from_upstream(case.into()),
            case_number: "CC-1".into(),
            partner_id: PartnerId::from_upstream("TP-1".into()),
            milestone: Milestone::UnderReview,
            message: None,
            at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn subscribers_get_new_events_in_order_and_can_resume_after_a_cursor() {
        let bus = MemoryBus::default();
        let first = bus.publish(event("CASE-1")).await.unwrap();
        let mut live = bus.subscribe(None).await.unwrap();
        bus.publish(event("CASE-2")).await.unwrap();
        bus.publish(event("CASE-3")).await.unwrap();
        assert_eq!(live.next().await.unwrap().case_id.as_str(), "CASE-2");
        assert_eq!(live.next().await.unwrap().case_id.as_str(), "CASE-3");

        let mut resumed = bus.subscribe(Some(first.cursor.clone())).await.unwrap();
        assert_eq!(resumed.next().await.unwrap().case_id.as_str(), "CASE-2");
        assert_eq!(resumed.next().await.unwrap().case_id.as_str(), "CASE-3");
        bus.publish(event("CASE-4")).await.unwrap();
        assert_eq!(resumed.next().await.unwrap().case_id.as_str(), "CASE-4");
        assert!(bus.subscribe(Some("not-a-cursor".into())).await.is_err());
    }
}
