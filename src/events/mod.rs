//! The milestone bus: partner-safe case milestones, published by workflows and
//! streamed to subscribers. In memory (broadcast plus a replay ring) for one
//! process.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use crate::domain::{CaseId, Milestone, PartnerId};

/// A milestone a partner may see: no internal field exists here.
#[derive(Debug, Clone, PartialEq)]
pub struct MilestoneEvent {
    /// Position in the stream, increasing.
    pub sequence: u64,
    pub case_id: CaseId,
    pub case_number: String,
    pub partner_id: PartnerId,
    pub milestone: Milestone,
    /// Text written for the partner, if any.
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

const REPLAY: usize = 1024;

pub struct MemoryBus {
    tx: broadcast::Sender<MilestoneEvent>,
    ring: Mutex<(u64, VecDeque<MilestoneEvent>)>,
}

impl Default for MemoryBus {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(REPLAY).0,
            ring: Mutex::new((0, VecDeque::new())),
        }
    }
}

impl MemoryBus {
    /// Publish; the bus assigns the sequence.
    pub fn publish(&self, mut event: MilestoneEvent) -> MilestoneEvent {
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.0 += 1;
        event.sequence = ring.0;
        ring.1.push_back(event.clone());
        if ring.1.len() > REPLAY {
            ring.1.pop_front();
        }
        // Nobody listening is fine: the ring still has it.
        let _ = self.tx.send(event.clone());
        event
    }

    /// Events after `sequence` still in the replay ring.
    pub fn since(&self, sequence: u64) -> Vec<MilestoneEvent> {
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.1
            .iter()
            .filter(|e| e.sequence > sequence)
            .cloned()
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<MilestoneEvent> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(case: &str) -> MilestoneEvent {
        MilestoneEvent {
            sequence: 0,
            case_id: CaseId::from_upstream(case.into()),
            case_number: "CC-1".into(),
            partner_id: PartnerId::from_upstream("TP-1".into()),
            milestone: Milestone::UnderReview,
            message: None,
            at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn subscribers_get_events_in_order_and_late_ones_can_replay() {
        let bus = MemoryBus::default();
        let mut rx = bus.subscribe();
        let a = bus.publish(event("CASE-1"));
        let b = bus.publish(event("CASE-2"));
        assert!(a.sequence < b.sequence);
        assert_eq!(rx.recv().await.unwrap().case_id.as_str(), "CASE-1");
        assert_eq!(rx.recv().await.unwrap().case_id.as_str(), "CASE-2");
        let replay: Vec<_> = bus
            .since(a.sequence)
            .into_iter()
            .map(|e| e.sequence)
            .collect();
        assert_eq!(replay, vec![b.sequence]);
    }
}
