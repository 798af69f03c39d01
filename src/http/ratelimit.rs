//! Per-principal rate limits: one token bucket per partner (all of a partner's
//! users share it) or per staff subject, sized by role, and one per webhook
//! source. A caller past its bucket gets 429 with `Retry-After`, so one partner
//! flooding the gateway spends its own budget and nobody else's.
//!
//! Buckets live in memory, per replica (a limit of N per second across R replicas
//! admits up to R × N); idle buckets are dropped, so memory follows the number of
//! callers active in the last few seconds, not every caller ever seen.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::auth::{Principal, Role};
use crate::config::{Bucket, RateLimitConfig};
use crate::domain::Platform;

/// How long a refused caller should wait before asking again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryAfter(pub Duration);

impl RetryAfter {
    /// Whole seconds for the `Retry-After` header, rounded up (at least 1).
    pub fn secs(self) -> u64 {
        let d = self.0;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// Every this many checks, buckets back at full capacity are dropped.
const SWEEP_EVERY: u64 = 1024;

/// The gateway's rate limiters. `None` inside when limiting is switched off.
pub(crate) struct RateLimits {
    limiters: Option<Limiters>,
    checks: AtomicU64,
}

struct Limiters {
    partner: DefaultKeyedRateLimiter<String>,
    agent: DefaultKeyedRateLimiter<String>,
    admin: DefaultKeyedRateLimiter<String>,
    webhook: DefaultKeyedRateLimiter<Platform>,
    clock: DefaultClock,
}

fn keyed<K: std::hash::Hash + Eq + Clone>(b: Bucket) -> DefaultKeyedRateLimiter<K> {
    // The config refuses zeros at start; `MIN` only keeps this total.
    let rate = NonZeroU32::new(b.per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(b.burst).unwrap_or(NonZeroU32::MIN);
    governor::RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let limiters = config.enabled.then(|| Limiters {
            partner: keyed(config.partner),
            agent: keyed(config.agent),
            admin: keyed(config.admin),
            webhook: keyed(config.webhook),
            clock: DefaultClock::default(),
        });
        Self {
            limiters,
            checks: AtomicU64::new(0),
        }
    }

    /// Take one request from the caller's bucket: a partner's is shared by all of
    /// that partner's users, staff have one each. Call once per HTTP request and
    /// once per new subscription.
    pub fn check(&self, principal: &Principal) -> Result<(), RetryAfter> {
        let Some(l) = &self.limiters else {
            return Ok(());
        };
        self.sweep(l);
        let (limiter, key) = match principal {
            Principal::Partner { partner, .. } => (&l.partner, partner.as_str()),
            Principal::Agent { subject } => (&l.agent, subject.as_str()),
            Principal::Admin { subject } => (&l.admin, subject.as_str()),
        };
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(l.clock.now())))
    }

    /// Take one delivery from a webhook source's bucket, before any signature work.
    pub fn check_webhook(&self, platform: Platform) -> Result<(), RetryAfter> {
        let Some(l) = &self.limiters else {
            return Ok(());
        };
        l.webhook
            .check_key(&platform)
            .map_err(|not_until| RetryAfter(not_until.wait_time_from(l.clock.now())))
    }

    /// Drop buckets that refilled completely: such a bucket is the same as a new one.
    fn sweep(&self, l: &Limiters) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY != SWEEP_EVERY - 1 {
            return;
        }
        for limiter in [&l.partner, &l.agent, &l.admin] {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Buckets currently held (all roles).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.limiters
            .as_ref()
            .map(|l| l.partner.len() + l.agent.len() + l.admin.len())
            .unwrap_or(0)
    }
}

/// The role a refusal is counted under in the metrics.
pub(crate) fn role_label(principal: &Principal) -> &'static str {
    match principal.role() {
        Role::Partner => "partner",
        Role::Agent => "agent",
        Role::Admin => "admin",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PartnerId;

    fn config(per_second: u32, burst: u32) -> RateLimitConfig {
        let b = Bucket { per_second, burst };
        RateLimitConfig {
            enabled: true,
            partner: b,
            agent: b,
            admin: b,
            webhook: b,
        }
    }

    fn partner(id: &str, subject: &str) -> Principal {
        Principal::Partner {
            subject: subject.to_owned(),
            partner: PartnerId::parse(id).unwrap(),
        }
    }

    #[test]
    fn a_partners_users_share_one_bucket_and_other_partners_keep_theirs() {
        let limits = RateLimits::new(&config(1, 3));
        for _ in 0..3 {
            assert!(limits.check(&partner("TP-0001", "alice")).is_ok());
        }
        let refused = limits.check(&partner("TP-0001", "bob")).unwrap_err();
        assert!(refused.secs() >= 1);
        assert!(limits.check(&partner("TP-0002", "carol")).is_ok());
        let staff = Principal::Agent {
            subject: "alice".into(),
        };
        assert!(limits.check(&staff).is_ok(), "staff buckets are separate");
    }

    #[test]
    fn webhook_sources_are_limited_apart_from_each_other() {
        let limits = RateLimits::new(&config(1, 1));
        assert!(limits.check_webhook(Platform::TradingGrid).is_ok());
        assert!(limits.check_webhook(Platform::TradingGrid).is_err());
        assert!(limits.check_webhook(Platform::CoreCase).is_ok());
    }

    #[test]
    fn switched_off_admits_everything() {
        let limits = RateLimits::new(&RateLimitConfig {
            enabled: false,
            ..config(1, 1)
        });
        for _ in 0..100 {
            assert!(limits.check(&partner("TP-0001", "a")).is_ok());
        }
    }

    #[test]
    fn idle_buckets_are_dropped() {
        // A high rate refills a bucket at once, so every bucket is idle at the sweep.
        let limits = RateLimits::new(&config(1_000_000, 1));
        for i in 0..(SWEEP_EVERY - 1) {
            let _ = limits.check(&Principal::Agent {
                subject: format!("user-{i}"),
            });
        }
        assert_eq!(limits.len(), (SWEEP_EVERY - 1) as usize);
        std::thread::sleep(Duration::from_millis(5));
        let _ = limits.check(&Principal::Agent {
            subject: "one-more".into(),
        });
        assert!(limits.len() <= 1, "{} buckets kept", limits.len());
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(RetryAfter(Duration::from_millis(1)).secs(), 1);
        assert_eq!(RetryAfter(Duration::from_millis(1500)).secs(), 2);
        assert_eq!(RetryAfter(Duration::ZERO).secs(), 1);
    }
}
