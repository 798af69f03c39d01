//! Traces: a dashboard query arriving with a W3C `traceparent` produces spans in
//! that trace — the GraphQL operation and every upstream call — exported through an
//! in-process OpenTelemetry exporter. A binary of its own: it installs the global
//! tracing subscriber.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use helpers::*;
use opentelemetry::trace::{TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_query_is_one_trace_continued_from_the_caller_into_both_platforms() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("info"))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .init();

    let app = spawn_app().await;
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(agent())
        .header("traceparent", format!("00-{TRACE_ID}-00f067aa0ba902b7-01"))
        .json(&json!({ "query": DASHBOARD, "variables": { "secret": "not-in-any-span" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let incoming = TraceId::from_hex(TRACE_ID).unwrap();
    let in_trace: Vec<_> = spans
        .iter()
        .filter(|s| s.span_context.trace_id() == incoming)
        .collect();
    let names: Vec<&str> = in_trace.iter().map(|s| s.name.as_ref()).collect();
    assert!(names.contains(&"graphql Dashboard"), "{names:?}");
    let upstream: Vec<_> = in_trace
        .iter()
        .filter(|s| {
            s.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "upstream.platform")
        })
        .collect();
    for platform in ["trading-grid", "core-case"] {
        assert!(
            upstream.iter().any(|s| s
                .attributes
                .iter()
                .any(|kv| kv.key.as_str() == "upstream.platform" && kv.value.as_str() == platform)),
            "an upstream span for {platform} in the caller's trace: {names:?}"
        );
    }
    for s in &upstream {
        assert!(
            s.attributes
                .iter()
                .any(|kv| kv.key.as_str() == "http.response.status_code"),
            "{} records its status",
            s.name
        );
    }
    // Every upstream call of this query is in the caller's trace, none elsewhere.
    let stray = spans
        .iter()
        .filter(|s| s.span_context.trace_id() != incoming)
        .filter(|s| s.name.starts_with("trading-grid ") || s.name.starts_with("core-case "))
        .count();
    assert_eq!(stray, 0, "upstream calls outside the caller's trace");
    // Variables never reach a span.
    assert!(!spans
        .iter()
        .flat_map(|s| s.attributes.iter())
        .any(|kv| kv.value.as_str().contains("not-in-any-span")));

    // A subscription's span ends once it is accepted, not when it stops
    // listening: the stream's response starts only when it waits for news.
    let stream = app
        .http
        .post(format!("{}/graphql/stream", app.url))
        .bearer_auth(agent())
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "subscription Milestones { caseMilestones { caseId } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    provider.force_flush().unwrap();
    let names: Vec<String> = exporter
        .get_finished_spans()
        .unwrap()
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "graphql Milestones"),
        "the listening subscription's span has ended: {names:?}"
    );
    drop(stream);
}

#[test]
fn logs_are_json_lines_with_gridcase_log_format_json_and_unknown_formats_are_refused() {
    let bin = env!("CARGO_BIN_EXE_gridcase");
    let refused = std::process::Command::new(bin)
        .arg("print-schema")
        .env("GRIDCASE_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("GRIDCASE_LOG_FORMAT"));

    // The simulators' development credentials on platform URLs are warned about
    // at start-up; the gateway is stopped once that line is read.
    let mut child = std::process::Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("GRIDCASE_LOG_FORMAT", "json")
        .env("GRIDCASE_TRADING_GRID_URL", "http://127.0.0.1:9")
        .env("GRIDCASE_CORE_CASE_URL", "http://127.0.0.1:9")
        .env(
            "GRIDCASE_TRADING_GRID_CLIENT_ID",
            gridcase::sim::DEV_CLIENT_ID,
        )
        .env(
            "GRIDCASE_TRADING_GRID_CLIENT_SECRET",
            gridcase::sim::DEV_CLIENT_SECRET,
        )
        .env("GRIDCASE_CORE_CASE_CLIENT_ID", gridcase::sim::DEV_CLIENT_ID)
        .env(
            "GRIDCASE_CORE_CASE_CLIENT_SECRET",
            gridcase::sim::DEV_CLIENT_SECRET,
        )
        .env("GRIDCASE_JWT_SECRET", SECRET)
        .env_remove("GRIDCASE_REDIS_URL")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let first = std::io::BufRead::lines(std::io::BufReader::new(stderr))
        .next()
        .expect("a log line")
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let line: serde_json::Value = serde_json::from_str(&first).expect("a JSON log line");
    assert_eq!(line["level"], "WARN", "{line}");
    assert!(line["fields"]["message"].is_string(), "{line}");
}
