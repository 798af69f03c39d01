//! What keeps a failing or slow platform from taking the gateway (and itself)
//! further down, one instance per platform:
//!
//! - a circuit breaker: after `breaker_failures` failed attempts in a row the
//!   platform is not called at all for `breaker_open`; then one probe goes
//!   through (half-open) and its outcome closes or reopens the circuit;
//! - a retry budget: retries may add at most `retry_budget_percent` of the calls
//!   made over the last ten seconds (plus a small reserve so a quiet gateway can
//!   still retry), so retries cannot multiply an outage;
//! - a bulkhead: at most `max_concurrent` calls in flight, a caller waits at most
//!   `queue_timeout` for a slot, so one slow platform cannot hold every task.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::config::ResilienceConfig;
use crate::domain::Platform;

/// The window the retry budget looks back over.
const WINDOW_SECS: u64 = 10;

/// Where a platform's circuit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail fast without reaching the platform.
    Open,
    /// The open period is over: the next call is a probe.
    HalfOpen,
}

impl BreakerState {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

#[derive(Debug)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Breaker {
    failures_to_open: u32,
    open_for: Duration,
    // A std mutex: every use is a few comparisons, never held across an await.
    phase: Mutex<Phase>,
}

impl Breaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, Phase> {
        self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Some(is_probe)` when an attempt may go out now.
    fn admit(&self, now: Instant) -> Option<bool> {
        let mut phase = self.lock();
        match *phase {
            Phase::Closed { .. } => Some(false),
            Phase::Open { until } if now < until => None,
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                *phase = Phase::HalfOpen { probing: true };
                Some(true)
            }
            Phase::HalfOpen { probing: true } => None,
        }
    }

    /// Record an attempt's outcome; returns the state entered, if it changed.
    fn record(&self, probe: bool, healthy: bool, now: Instant) -> Option<BreakerState> {
        let mut phase = self.lock();
        match (&mut *phase, healthy) {
            (Phase::Closed { failures }, true) => {
                *failures = 0;
                None
            }
            (Phase::Closed { failures }, false) => {
                *failures += 1;
                (*failures >= self.failures_to_open).then(|| {
                    *phase = Phase::Open {
                        until: now + self.open_for,
                    };
                    BreakerState::Open
                })
            }
            (Phase::HalfOpen { .. }, true) if probe => {
                *phase = Phase::Closed { failures: 0 };
                Some(BreakerState::Closed)
            }
            (Phase::HalfOpen { .. }, false) if probe => {
                *phase = Phase::Open {
                    until: now + self.open_for,
                };
                Some(BreakerState::Open)
            }
            // A late answer to an attempt admitted before the circuit opened
            // decides nothing: only the probe does.
            _ => None,
        }
    }

    /// A probe that ended without an outcome (its caller went away): let another try.
    fn release_probe(&self) {
        let mut phase = self.lock();
        if let Phase::HalfOpen { probing: true } = *phase {
            *phase = Phase::HalfOpen { probing: false };
        }
    }

    fn state(&self, now: Instant) -> BreakerState {
        match *self.lock() {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// Calls and retries per second over the last [`WINDOW_SECS`] seconds.
#[derive(Debug)]
struct Window {
    origin: Instant,
    /// `(second, calls, retries)` per slot; a slot holding an older second is stale.
    slots: [(u64, u64, u64); WINDOW_SECS as usize],
}

impl Window {
    fn slot(&mut self, now: Instant) -> &mut (u64, u64, u64) {
        let sec = now.saturating_duration_since(self.origin).as_secs();
        let slot = &mut self.slots[(sec % WINDOW_SECS) as usize];
        if slot.0 != sec {
            *slot = (sec, 0, 0);
        }
        slot
    }

    fn totals(&self, now: Instant) -> (u64, u64) {
        let sec = now.saturating_duration_since(self.origin).as_secs();
        self.slots
            .iter()
            .filter(|(s, _, _)| sec.saturating_sub(*s) < WINDOW_SECS)
            .fold((0, 0), |(c, r), (_, sc, sr)| (c + sc, r + sr))
    }
}

#[derive(Debug)]
struct RetryBudget {
    percent: u64,
    reserve: u64,
    window: Mutex<Window>,
}

impl RetryBudget {
    fn lock(&self) -> std::sync::MutexGuard<'_, Window> {
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call(&self, now: Instant) {
        self.lock().slot(now).1 += 1;
    }

    /// Take one retry from the budget, if there is one left.
    fn retry(&self, now: Instant) -> bool {
        let mut w = self.lock();
        let (calls, retries) = w.totals(now);
        if retries * 100 >= calls * self.percent + self.reserve * 100 {
            return false;
        }
        w.slot(now).2 += 1;
        true
    }
}

/// One platform's breaker, retry budget and bulkhead.
pub struct Resilience {
    platform: Platform,
    breaker: Breaker,
    budget: RetryBudget,
    bulkhead: Semaphore,
    queue_timeout: Duration,
}

impl std::fmt::Debug for Resilience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resilience")
            .field("platform", &self.platform)
            .field("breaker", &self.state())
            .finish_non_exhaustive()
    }
}

/// Permission for one attempt; tell it how the attempt went.
pub(crate) struct Attempt<'a> {
    breaker: &'a Breaker,
    probe: bool,
    settled: bool,
}

impl Attempt<'_> {
    /// `healthy`: the platform answered (any status below 500). Returns the state
    /// the circuit entered, if this changed it.
    pub fn settle(mut self, healthy: bool) -> Option<BreakerState> {
        self.settled = true;
        self.breaker.record(self.probe, healthy, Instant::now())
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled && self.probe {
            self.breaker.release_probe();
        }
    }
}

impl Resilience {
    pub fn new(platform: Platform, config: &ResilienceConfig) -> Self {
        Self {
            platform,
            breaker: Breaker {
                failures_to_open: config.breaker_failures.max(1),
                open_for: config.breaker_open,
                phase: Mutex::new(Phase::Closed { failures: 0 }),
            },
            budget: RetryBudget {
                percent: u64::from(config.retry_budget_percent),
                reserve: u64::from(config.retry_budget_min_per_second) * WINDOW_SECS,
                window: Mutex::new(Window {
                    origin: Instant::now(),
                    slots: [(0, 0, 0); WINDOW_SECS as usize],
                }),
            },
            bulkhead: Semaphore::new(config.max_concurrent.max(1)),
            queue_timeout: config.queue_timeout,
        }
    }

    pub fn state(&self) -> BreakerState {
        self.breaker.state(Instant::now())
    }

    /// A new call (not a retry): counts toward the retry budget.
    pub(crate) fn call(&self) {
        self.budget.call(Instant::now());
    }

    /// May a failed attempt be repeated? Spends one retry when it may.
    pub(crate) fn retry(&self) -> bool {
        self.budget.retry(Instant::now())
    }

    /// `None` while the circuit is open (or a probe is already out).
    pub(crate) fn admit(&self) -> Option<Attempt<'_>> {
        self.breaker.admit(Instant::now()).map(|probe| Attempt {
            breaker: &self.breaker,
            probe,
            settled: false,
        })
    }

    /// A slot for one call in flight; `None` when none frees up within the queue timeout.
    pub(crate) async fn slot(&self) -> Option<SemaphorePermit<'_>> {
        tokio::time::timeout(self.queue_timeout, self.bulkhead.acquire())
            .await
            .ok()?
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ResilienceConfig {
        ResilienceConfig {
            breaker_failures: 3,
            breaker_open: Duration::from_secs(60),
            retry_budget_percent: 20,
            retry_budget_min_per_second: 0,
            max_concurrent: 2,
            queue_timeout: Duration::from_millis(10),
            ..ResilienceConfig::default()
        }
    }

    #[test]
    fn the_circuit_opens_after_failures_in_a_row_and_a_success_resets_the_count() {
        let r = Resilience::new(Platform::CoreCase, &config());
        for healthy in [false, false, true, false, false] {
            r.admit().unwrap().settle(healthy);
        }
        assert_eq!(r.state(), BreakerState::Closed);
        assert_eq!(r.admit().unwrap().settle(false), Some(BreakerState::Open));
        assert_eq!(r.state(), BreakerState::Open);
        assert!(r.admit().is_none(), "open: no attempt goes out");
    }

    #[test]
    fn half_open_lets_one_probe_through_which_closes_or_reopens_the_circuit() {
        let b = Breaker {
            failures_to_open: 1,
            open_for: Duration::from_secs(5),
            phase: Mutex::new(Phase::Closed { failures: 0 }),
        };
        let t0 = Instant::now();
        b.admit(t0);
        assert_eq!(b.record(false, false, t0), Some(BreakerState::Open));
        assert_eq!(b.admit(t0 + Duration::from_secs(4)), None);
        let later = t0 + Duration::from_secs(6);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        assert_eq!(b.admit(later), Some(true), "the probe");
        assert_eq!(b.admit(later), None, "one probe at a time");
        assert_eq!(b.record(true, false, later), Some(BreakerState::Open));
        let again = later + Duration::from_secs(6);
        assert_eq!(b.admit(again), Some(true));
        assert_eq!(b.record(true, true, again), Some(BreakerState::Closed));
        assert_eq!(b.admit(again), Some(false));
    }

    #[test]
    fn a_probe_whose_caller_went_away_frees_the_way_for_the_next() {
        let r = Resilience::new(
            Platform::TradingGrid,
            &ResilienceConfig {
                breaker_failures: 1,
                breaker_open: Duration::ZERO,
                ..config()
            },
        );
        r.admit().unwrap().settle(false);
        let probe = r.admit().expect("the open period is over");
        assert!(r.admit().is_none());
        drop(probe);
        assert!(r.admit().is_some());
    }

    #[test]
    fn retries_stay_within_a_fifth_of_the_calls() {
        let r = Resilience::new(Platform::TradingGrid, &config());
        for _ in 0..50 {
            r.call();
        }
        let granted = (0..50).filter(|_| r.retry()).count();
        assert_eq!(granted, 10);
    }

    #[test]
    fn the_reserve_lets_a_quiet_gateway_retry() {
        let r = Resilience::new(
            Platform::TradingGrid,
            &ResilienceConfig {
                retry_budget_min_per_second: 1,
                ..config()
            },
        );
        let granted = (0..50).filter(|_| r.retry()).count();
        assert_eq!(granted, 10, "1 per second over the 10 s window");
    }

    #[tokio::test]
    async fn the_bulkhead_refuses_a_call_when_no_slot_frees_up_in_time() {
        let r = Resilience::new(Platform::CoreCase, &config());
        let a = r.slot().await.unwrap();
        let _b = r.slot().await.unwrap();
        assert!(r.slot().await.is_none());
        drop(a);
        assert!(r.slot().await.is_some());
    }
}
