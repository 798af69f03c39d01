//! Prometheus counters and gauges, rendered at `GET /metrics`. A handful of
//! labelled counters, summed durations and in-flight gauges is all the gateway
//! needs, so this is a small registry rather than a dependency.
//!
//! The gauges say what is under way (webhooks being handled, outbox passes
//! running, steps due, subscriptions registered): an operator sees a stuck
//! gateway, and a test can wait for a quiet one before asserting that nothing
//! more happened.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::StreamExt;

use crate::events::{BusError, MilestoneBus, MilestoneEvent};

/// What each metric means, for the `# HELP` lines.
const HELP: &[(&str, &str)] = &[
    (
        "gridcase_http_requests_total",
        "HTTP requests answered, by route and status.",
    ),
    (
        "gridcase_upstream_requests_total",
        "Calls to the platforms, by platform, operation and outcome (ok, a status code, or error).",
    ),
    (
        "gridcase_upstream_request_seconds_sum",
        "Time spent in calls to the platforms.",
    ),
    (
        "gridcase_upstream_request_seconds_count",
        "Calls to the platforms that were timed.",
    ),
    (
        "gridcase_workflow_steps_total",
        "Workflow steps, by outcome (done, deferred, retried, abandoned).",
    ),
    (
        "gridcase_webhooks_total",
        "Webhook deliveries, by platform and result.",
    ),
    (
        "gridcase_events_total",
        "Platform events handled by the rules (webhooks and feed polling), by platform and result.",
    ),
    (
        "gridcase_rate_limited_total",
        "Requests refused with 429, by caller kind (partner, agent, admin, webhook).",
    ),
    (
        "gridcase_upstream_calls_total",
        "Calls to a platform (each counted once, however many attempts it took).",
    ),
    (
        "gridcase_upstream_retries_total",
        "Repeated attempts of failed calls to a platform, within its retry budget.",
    ),
    (
        "gridcase_upstream_refused_total",
        "Calls or retries not sent to a platform, by reason (circuit_open, bulkhead_full, retry_budget).",
    ),
    (
        "gridcase_upstream_breaker_transitions_total",
        "Circuit breaker state changes of a platform, by the state entered (open, closed).",
    ),
    (
        "gridcase_sse_streams_closed_total",
        "GraphQL over SSE streams ended, by reason (complete, client, slow_client, lifetime).",
    ),
    (
        "gridcase_case_events_late_total",
        "Case events not applied because a newer version of the case was applied already.",
    ),
    (
        "gridcase_reconcile_sweeps_total",
        "Reconciler sweeps this replica completed, by result (done, failed).",
    ),
    (
        "gridcase_reconcile_repairs_total",
        "Divergences the reconciler repaired, by repair.",
    ),
    (
        "gridcase_cache_lookups_total",
        "Entity cache lookups, by kind and result (hit, miss).",
    ),
    (
        "gridcase_cache_bypassed_total",
        "Cache operations given up (backend down or slower than its timeout) and answered from the platforms, by operation.",
    ),
    (
        "gridcase_cache_remote_evictions_total",
        "Evictions other replicas published that this replica's memory cache applied.",
    ),
    (
        "gridcase_cache_fanout_failures_total",
        "Evictions that could not be published to the other replicas (their entries live until their TTL).",
    ),
    (
        "gridcase_cache_fanout_resubscribed_total",
        "Times the eviction channel was lost and subscribed again (the memory cache is emptied each time).",
    ),
];

/// What each gauge means; these go up and down.
const GAUGES: [(&str, &str); 5] = [
    (
        "gridcase_webhooks_in_flight",
        "Webhook deliveries being handled now, their workflow included (it goes on when the sender stops waiting).",
    ),
    (
        "gridcase_workflow_runs_in_flight",
        "Outbox passes running now.",
    ),
    (
        "gridcase_outbox_due",
        "Outbox steps due now and not being run, read from the store at each scrape.",
    ),
    (
        "gridcase_subscriptions_active",
        "Milestone subscriptions registered with the bus and not yet ended; sockets asking the same subscription share one.",
    ),
    (
        "gridcase_subscription_listeners",
        "WebSocket and SSE subscriptions listening to a shared execution (several per execution when they ask the same).",
    ),
];

type Labels = Vec<(&'static str, String)>;

#[derive(Default)]
pub struct Metrics {
    // A std mutex: each update is one map operation.
    values: Mutex<BTreeMap<(&'static str, Labels), f64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        let labels: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        *self
            .values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((name, labels))
            .or_insert(0.0) += value;
    }

    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1.0);
    }

    /// Set a gauge to what was just measured.
    pub fn set(&self, name: &'static str, value: f64) {
        self.values
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((name, Vec::new()), value);
    }

    /// One more of `name` (a gauge) under way, until the guard is dropped.
    pub fn in_flight(self: &Arc<Self>, name: &'static str) -> InFlight {
        self.add(name, &[], 1.0);
        InFlight {
            metrics: self.clone(),
            name,
        }
    }

    /// One upstream call: counted and timed.
    pub fn upstream(&self, platform: &str, operation: &str, outcome: &str, took: Duration) {
        let labels = [("platform", platform), ("operation", operation)];
        self.inc(
            "gridcase_upstream_requests_total",
            &[labels[0], labels[1], ("outcome", outcome)],
        );
        self.add(
            "gridcase_upstream_request_seconds_sum",
            &labels,
            took.as_secs_f64(),
        );
        self.inc("gridcase_upstream_request_seconds_count", &labels);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let values = self.values.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let kinds = HELP
            .iter()
            .map(|h| (h, "counter"))
            .chain(GAUGES.iter().map(|h| (h, "gauge")));
        for ((name, help), kind) in kinds {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for ((n, labels), v) in values.iter() {
                if n != name {
                    continue;
                }
                let labels: Vec<String> = labels
                    .iter()
                    .map(|(k, v)| {
                        format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
                    })
                    .collect();
                let _ = writeln!(out, "{name}{{{}}} {v}", labels.join(","));
            }
        }
        out
    }
}

/// Something under way, counted in its gauge until dropped.
pub struct InFlight {
    metrics: Arc<Metrics>,
    name: &'static str,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.metrics.add(self.name, &[], -1.0);
    }
}

/// A milestone bus whose subscriptions are counted in
/// `gridcase_subscriptions_active` from the moment the bus has registered them
/// (nothing published afterwards is missed) until their stream is dropped.
pub(crate) struct CountedBus {
    pub inner: Arc<dyn MilestoneBus>,
    pub metrics: Arc<Metrics>,
}

#[async_trait]
impl MilestoneBus for CountedBus {
    async fn publish(&self, event: MilestoneEvent) -> Result<MilestoneEvent, BusError> {
        self.inner.publish(event).await
    }

    async fn subscribe(
        &self,
        after: Option<String>,
    ) -> Result<BoxStream<'static, MilestoneEvent>, BusError> {
        let events = self.inner.subscribe(after).await?;
        let active = self.metrics.in_flight("gridcase_subscriptions_active");
        Ok(events
            .map(move |e| {
                let _counted = &active;
                e
            })
            .boxed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_as_prometheus_text() {
        let m = Metrics::new();
        m.inc(
            "gridcase_webhooks_total",
            &[("platform", "core-case"), ("result", "processed")],
        );
        m.inc(
            "gridcase_webhooks_total",
            &[("platform", "core-case"), ("result", "processed")],
        );
        m.upstream(
            "trading-grid",
            "list_partners",
            "ok",
            Duration::from_millis(5),
        );
        let text = m.render();
        assert!(
            text.contains("gridcase_webhooks_total{platform=\"core-case\",result=\"processed\"} 2")
        );
        assert!(text.contains("gridcase_upstream_requests_total{platform=\"trading-grid\",operation=\"list_partners\",outcome=\"ok\"} 1"));
        assert!(text.contains("# TYPE gridcase_events_total counter"));
    }

    #[test]
    fn an_in_flight_gauge_counts_what_is_under_way_until_it_is_dropped() {
        let m = Arc::new(Metrics::new());
        let first = m.in_flight("gridcase_webhooks_in_flight");
        let second = m.in_flight("gridcase_webhooks_in_flight");
        assert!(m.render().contains("gridcase_webhooks_in_flight{} 2"));
        drop(first);
        drop(second);
        let text = m.render();
        assert!(text.contains("gridcase_webhooks_in_flight{} 0"));
        assert!(text.contains("# TYPE gridcase_webhooks_in_flight gauge"));
        m.set("gridcase_outbox_due", 3.0);
        assert!(m.render().contains("gridcase_outbox_due{} 3"));
    }
}
