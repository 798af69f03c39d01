//! Outgoing webhooks: every event a simulator appends to its feed is also POSTed,
//! signed, to the configured target by one background task per simulator.
//!
//! The request that caused an event only pushes onto an unbounded queue, so a slow or
//! failing receiver never slows the API down. One task drains the queue, so events
//! arrive in feed order; a delivery is retried on connection errors and non-2xx
//! answers, which makes deliveries at-least-once: receivers dedupe on `Webhook-Id`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use serde::Serialize;
use tokio::sync::mpsc;

use super::common::lock;
use super::signing::webhook_signature;
use super::Platform;

/// Attempts per delivery before it counts as failed.
const ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled before each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// A receiver that neither answers nor refuses within this counts as a failed attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where deliveries go, as set by the options or `PUT /__sim/webhook`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Target {
    pub(crate) url: Option<String>,
    pub(crate) secret: Option<String>,
}

/// What `GET /__sim/webhook` answers.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    url: Option<String>,
    secret_set: bool,
    delivered: u64,
    failed: u64,
    pending: u64,
}

/// Why an event could not be redelivered.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RedeliverError {
    UnknownEvent,
    NoTarget,
}

/// One delivery: the target is fixed when the event is queued, so changing the
/// target later does not re-route events already on their way.
struct Job {
    event_id: String,
    body: Bytes,
    url: String,
    secret: Option<String>,
}

/// State shared with the delivery task. It holds no sender, so dropping the outbox
/// closes the queue and ends the task.
struct Shared {
    platform: Platform,
    delivered: AtomicU64,
    failed: AtomicU64,
    pending: AtomicU64,
    stopped: AtomicBool,
}

/// One simulator's webhook sender.
pub(crate) struct Outbox {
    shared: Arc<Shared>,
    target: Mutex<Target>,
    /// Every emitted event's body by id, for redelivery.
    bodies: Mutex<HashMap<String, Bytes>>,
    tx: mpsc::UnboundedSender<Job>,
    /// Taken when the delivery task starts: on the first queued delivery, because the
    /// router may be built before a tokio runtime exists.
    rx: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
}

impl Outbox {
    pub(crate) fn new(platform: Platform, target: Target) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            shared: Arc::new(Shared {
                platform,
                delivered: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                pending: AtomicU64::new(0),
                stopped: AtomicBool::new(false),
            }),
            target: Mutex::new(target),
            bodies: Mutex::new(HashMap::new()),
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }

    pub(crate) fn target(&self) -> Target {
        lock(&self.target).clone()
    }

    pub(crate) fn set_target(&self, target: Target) {
        *lock(&self.target) = target;
    }

    pub(crate) fn status(&self) -> Status {
        let t = self.target();
        Status {
            url: t.url,
            secret_set: t.secret.is_some(),
            delivered: self.shared.delivered.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            pending: self.shared.pending.load(Ordering::Relaxed),
        }
    }

    /// Remember an emitted event and queue its delivery when a target is set. Called
    /// under the platform's data lock, so queue order is feed order.
    pub(crate) fn publish(&self, event_id: &str, body: Bytes) {
        lock(&self.bodies).insert(event_id.to_string(), body.clone());
        let target = self.target();
        if let Some(url) = target.url {
            self.queue(Job {
                event_id: event_id.to_string(),
                body,
                url,
                secret: target.secret,
            });
        }
    }

    /// Queue an already emitted event again, to the current target.
    pub(crate) fn redeliver(&self, event_id: &str) -> Result<(), RedeliverError> {
        let body = lock(&self.bodies)
            .get(event_id)
            .cloned()
            .ok_or(RedeliverError::UnknownEvent)?;
        let target = self.target();
        let url = target.url.ok_or(RedeliverError::NoTarget)?;
        self.queue(Job {
            event_id: event_id.to_string(),
            body,
            url,
            secret: target.secret,
        });
        Ok(())
    }

    fn queue(&self, job: Job) {
        self.start_worker();
        self.shared.pending.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(job).is_err() {
            // The task is gone (its runtime shut down): nothing will deliver this.
            self.shared.pending.fetch_sub(1, Ordering::Relaxed);
            self.shared.failed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn start_worker(&self) {
        let mut rx = lock(&self.rx);
        if rx.is_none() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            if let Some(rx) = rx.take() {
                handle.spawn(deliver_all(self.shared.clone(), rx));
            }
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // A stopped simulator stops retrying too, instead of lingering in backoff.
        self.shared.stopped.store(true, Ordering::Relaxed);
    }
}

async fn deliver_all(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Job>) {
    // Built here rather than with the simulator: loading TLS roots costs CPU that a
    // simulator without a webhook target should not spend at start.
    let http = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .build()
        .unwrap_or_default();
    while let Some(job) = rx.recv().await {
        if shared.stopped.load(Ordering::Relaxed) {
            break;
        }
        let ok = deliver(&shared, &http, &job).await;
        shared.pending.fetch_sub(1, Ordering::Relaxed);
        if ok {
            shared.delivered.fetch_add(1, Ordering::Relaxed);
        } else {
            shared.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                platform = %shared.platform,
                event_id = %job.event_id,
                url = %job.url,
                "webhook delivery gave up after {ATTEMPTS} attempts"
            );
        }
    }
}

/// Up to `ATTEMPTS` tries with doubling backoff; true once the receiver answers 2xx.
async fn deliver(shared: &Shared, http: &reqwest::Client, job: &Job) -> bool {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
            if shared.stopped.load(Ordering::Relaxed) {
                return false;
            }
        }
        // Each attempt is signed afresh: the timestamp says when it was sent.
        let timestamp = chrono::Utc::now().timestamp();
        let mut req = http
            .post(&job.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("Webhook-Id", &job.event_id)
            .header("Webhook-Timestamp", timestamp.to_string())
            .header("Webhook-Platform", shared.platform.to_string())
            .body(job.body.clone());
        if let Some(secret) = &job.secret {
            req = req.header(
                "Webhook-Signature",
                webhook_signature(secret, timestamp, &job.body),
            );
        }
        match req.send().await {
            Ok(resp) if resp.status().is_success() => return true,
            Ok(resp) => tracing::debug!(
                event_id = %job.event_id,
                attempt,
                status = resp.status().as_u16(),
                "webhook receiver refused the delivery"
            ),
            Err(e) => tracing::debug!(
                event_id = %job.event_id,
                attempt,
                error = %e,
                "webhook delivery did not reach the receiver"
            ),
        }
    }
    false
}
