//! Logs and traces. Logs go to stderr as text, or as JSON lines with
//! `GRIDCASE_LOG_FORMAT=json`. Traces go over OTLP when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (`OTEL_EXPORTER_OTLP_PROTOCOL`: `grpc`, or
//! `http/protobuf`, the default), with W3C `traceparent` taken from requests and
//! passed on to both platforms, so one click can be followed across them.
//!
//! Spans: one per HTTP request, per GraphQL operation (its name, never its
//! variables), per upstream call (platform, operation, attempt, status), per
//! workflow step and per webhook.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Instrument, Span};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Flushes and stops the trace exporter when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(p) = self.provider.take() {
            if let Err(e) = p.shutdown() {
                eprintln!("trace export did not shut down cleanly: {e}");
            }
        }
    }
}

/// Install the global subscriber from the environment (`GRIDCASE_LOG`,
/// `GRIDCASE_LOG_FORMAT`, `OTEL_EXPORTER_OTLP_*`). Call once, inside a Tokio
/// runtime (the exporter batches in the background).
pub fn init(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Telemetry> {
    let json = match env("GRIDCASE_LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("") | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            anyhow::bail!("GRIDCASE_LOG_FORMAT: expected `text` or `json`, not `{other}`")
        }
    };
    let filter = env("GRIDCASE_LOG")
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new("info,tower_http=warn"));
    let logs = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    };
    let provider = match env("OTEL_EXPORTER_OTLP_ENDPOINT").filter(|e| !e.trim().is_empty()) {
        Some(_) => Some(otlp_provider(env)?),
        None => None,
    };
    let traces = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("gridcase")));
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .try_init()?;
    Ok(Telemetry { provider })
}

/// The OTLP exporter the standard variables describe (endpoint, headers and
/// timeout are read by the exporter itself).
fn otlp_provider(env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig as _;
    let protocol = env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
        .unwrap_or_else(|| "http/protobuf".into());
    let exporter = match protocol.trim() {
        "grpc" => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()?,
        "http/protobuf" => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()?,
        other => anyhow::bail!(
            "OTEL_EXPORTER_OTLP_PROTOCOL: expected `grpc` or `http/protobuf`, not `{other}`"
        ),
    };
    let service = env("OTEL_SERVICE_NAME").unwrap_or_else(|| "gridcase".into());
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service)
                .build(),
        )
        .build())
}

struct HeaderExtractor<'a>(&'a axum::http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut reqwest::header::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            reqwest::header::HeaderName::from_bytes(key.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The span of one HTTP request, continuing the caller's trace (`traceparent`).
pub(crate) fn http_span<B>(req: &axum::http::Request<B>) -> Span {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let span = tracing::info_span!(
        "http.request",
        otel.name = %format!("{} {route}", req.method()),
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = %route,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
    let _ = span.set_parent(parent);
    span
}

/// Send one upstream request in its own span, carrying the trace to the platform.
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    platform: &'static str,
    operation: &'static str,
    attempt: u32,
) -> reqwest::Result<reqwest::Response> {
    let span = tracing::info_span!(
        "upstream",
        otel.name = %format!("{platform} {operation}"),
        otel.kind = "client",
        upstream.platform = platform,
        upstream.operation = operation,
        upstream.attempt = attempt,
        http.response.status_code = tracing::field::Empty,
    );
    let mut headers = reqwest::header::HeaderMap::new();
    TraceContextPropagator::new()
        .inject_context(&span.context(), &mut HeaderInjector(&mut headers));
    let sent = req.headers(headers).send().instrument(span.clone()).await;
    if let Ok(resp) = &sent {
        span.record("http.response.status_code", resp.status().as_u16());
    }
    sent
}

/// The span of one GraphQL operation, named after it.
pub(crate) fn operation_span(name: Option<&str>) -> tracing::Span {
    let name = name.unwrap_or("anonymous");
    tracing::info_span!(
        "graphql.operation",
        otel.name = %format!("graphql {name}"),
        graphql.operation.name = name,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[tokio::test]
    async fn upstream_calls_carry_the_callers_trace_with_their_own_span_as_parent() {
        let provider = SdkTracerProvider::builder().build();
        let _subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
            .set_default();
        // A platform that answers with the traceparent it received.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let echo = axum::Router::new().route(
            "/",
            axum::routing::get(|h: axum::http::HeaderMap| async move {
                h.get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none")
                    .to_owned()
            }),
        );
        tokio::spawn(async move { axum::serve(listener, echo).await });

        let incoming = axum::http::Request::builder()
            .uri("/graphql")
            .header("traceparent", CALLER)
            .body(())
            .unwrap();
        let request = http_span(&incoming);
        let seen = async {
            send(
                reqwest::Client::new().get(format!("http://{addr}/")),
                "core-case",
                "get_case",
                0,
            )
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
        }
        .instrument(request)
        .await;
        assert!(
            seen.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "the platform sees the caller's trace: {seen}"
        );
        assert!(
            !seen.contains("00f067aa0ba902b7"),
            "its parent is the upstream span, not the caller's: {seen}"
        );
    }
}
