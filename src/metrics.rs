//! Prometheus counters, rendered at `GET /metrics`. A handful of labelled
//! counters and summed durations is all the gateway needs, so this is a small
//! registry rather than a dependency.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

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
        for &(name, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for ((n, labels), v) in values.iter() {
                if *n != name {
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
}
