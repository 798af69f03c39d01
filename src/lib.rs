//! gridcase: one GraphQL API over OpenText Active Community – Trading Grid
//! (partners, discussions, documents, EDI transactions) and OpenText Core Case
//! (cases, tasks, evidence, resolutions).
//!
//! A request flows: `http` (axum; bearer JWT → `auth::Principal`) → `graphql`
//! (schema, resolvers, per-request DataLoaders, policy applied on every path) →
//! `upstream` (one connector per platform over its REST API) → the platform, or
//! the built-in simulator of it in `sim`.
//!
//! # Layout
//!
//! - `commands` — what `gridcase serve` (sandbox start-up included), `simulate` and `token` do; `main.rs` only parses arguments
//! - `config`   — defaults → TOML file → `GRIDCASE_*` env (`mod.rs` types and defaults, `load.rs` the sources, `validate.rs` the checks) → validated [`Config`]
//! - `auth`     — JWT verification (secret, public key, JWKS), [`auth::Principal`], the record policy and the field table
//! - `domain`   — ids that parse, enums, status → milestone, records, every text a partner reads (`partner_view`); no I/O
//! - `upstream` — Trading Grid and Core Case connectors: wire models, mapping, HTTP clients
//! - `graphql`  — schema, query resolvers, types, loaders (`loaders/batch.rs`: when a wave's batches go out), operation limits, persisted queries and trusted documents; `errors.rs` is the one seam where an upstream failure becomes a coded GraphQL error (`FetchError`)
//! - `http`     — accept loop (deadlines, connection caps, shutdown), guards (body bounds, CSRF), rate limits, WebSocket; router: `/graphql`, `/graphql/stream` (SSE), `/portal`, `/documents/{id}/content`, `/webhooks/{platform}`, `/healthz`, `/readyz`, `/metrics`
//! - `metrics`  — Prometheus counters, and gauges of what is under way (webhooks, outbox passes, due steps, subscriptions)
//! - `telemetry`— logs (text or JSON) and OpenTelemetry traces over OTLP
//! - `workflows`— the use cases as idempotent step sequences: `engine.rs` (outbox run, execute, retry, step errors), `escalate.rs`, `evidence.rs`, `publish.rs`; `steps.rs` the persisted steps; `reconcile.rs` the reconciler
//! - `rules`    — platform events (webhooks, feed polling) → workflows
//! - `cache`    — the entity cache (memory or Redis), what each change evicts, and (`fanout.rs`) evictions shared between memory caches over Redis pub/sub
//! - `store`    — idempotency keys, outbox, webhook dedupe, activity: memory or Redis
//! - `events`   — the milestone bus
//! - `sim`      — simulators of both platforms (used by `gridcase simulate`, sandbox mode and tests; the gateway never calls into it): `world/` the seeded data by resource, `trading_grid/` and `core_case/` each with state (`mod.rs`), API `routes.rs` and `scenarios.rs`, `common.rs` what both serve (tokens, faults, stats, webhooks, paging)
//!
//! Modules only the gateway itself uses are crate-private, so the compiler reports
//! their dead code; public are what the binary, the examples and the black-box
//! tests use (and `test_redis`, with the `testing` feature, for `tests/`).

pub mod auth;
pub(crate) mod cache;
pub mod commands;
pub mod config;
pub(crate) mod domain;
pub(crate) mod events;
pub mod graphql;
mod http;
pub(crate) mod metrics;
pub(crate) mod rules;
pub mod sim;
pub mod store;
pub mod telemetry;
/// The Redis the tests run against; for `tests/` only (the `testing` feature).
#[cfg(any(test, feature = "testing"))]
#[doc(hidden)]
pub mod test_redis;
pub(crate) mod upstream;
pub(crate) mod workflows;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use config::Config;

use crate::config::PlatformConfig;
use crate::domain::Platform;
use crate::upstream::core_case::CoreCaseClient;
use crate::upstream::trading_grid::TradingGridClient;
use crate::upstream::HttpSettings;

/// A built gateway: listener bound, router ready, background work prepared.
pub struct App {
    listener: tokio::net::TcpListener,
    router: axum::Router,
    addr: SocketAddr,
    workflows: Arc<workflows::Workflows>,
    rules: Arc<rules::RuleEngine>,
    tg: Arc<dyn upstream::TradingGrid>,
    cc: Arc<dyn upstream::CoreCase>,
    serve_limits: http::server::ServeLimits,
    going_away: tokio_util::sync::CancellationToken,
    tasks: tokio_util::task::TaskTracker,
    /// `/metrics` on a listener of its own, when configured.
    metrics: Option<(tokio::net::TcpListener, axum::Router)>,
    /// The sample tokens GraphiQL and the portal offer, in sandbox mode.
    sandbox: Option<Arc<http::portal::Sandbox>>,
}

fn http_settings(
    platform: Platform,
    p: &PlatformConfig,
    metrics: &Arc<metrics::Metrics>,
    resilience: &Arc<upstream::Resilience>,
) -> HttpSettings {
    HttpSettings {
        platform,
        base_url: p.url.clone(),
        token_url: p.token_url.clone(),
        client_id: p.client_id.clone(),
        client_secret: p.client_secret.clone(),
        timeout: p.timeout,
        connect_timeout: p.connect_timeout,
        retries: p.retries,
        max_retry_after: p.resilience.max_retry_after,
        metrics: metrics.clone(),
        resilience: resilience.clone(),
    }
}

impl App {
    /// Wire everything from `config` and bind its listen address (port 0 allowed;
    /// [`App::addr`] tells the real one).
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let metrics = Arc::new(metrics::Metrics::new());
        // Breaker, retry budget and bulkhead per platform; `/readyz` reports the breakers.
        let guards = [
            (Platform::TradingGrid, &config.trading_grid),
            (Platform::CoreCase, &config.core_case),
        ]
        .map(|(p, c)| Arc::new(upstream::Resilience::new(p, &c.resilience)));
        let tg: Arc<dyn upstream::TradingGrid> = Arc::new(TradingGridClient::new(http_settings(
            Platform::TradingGrid,
            &config.trading_grid,
            &metrics,
            &guards[0],
        )));
        let cc: Arc<dyn upstream::CoreCase> = Arc::new(CoreCaseClient::new(http_settings(
            Platform::CoreCase,
            &config.core_case,
            &metrics,
            &guards[1],
        )));
        let public_url = config
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let store: Arc<dyn store::Store> = match &config.redis_url {
            Some(url) => {
                let redis = store::RedisStore::connect(url.expose(), &config.redis_namespace)
                    .await
                    .map_err(|e| anyhow::anyhow!("GRIDCASE_REDIS_URL: {e}"))?;
                // The store must survive a Redis restart: say so when it would not.
                redis.warn_unless_durable().await;
                Arc::new(redis)
            }
            None => Arc::new(store::MemoryStore::new()),
        };
        let bus: Arc<dyn events::MilestoneBus> = match &config.redis_url {
            Some(url) => Arc::new(
                events::RedisBus::connect(url.expose(), &config.redis_namespace)
                    .await
                    .map_err(|e| anyhow::anyhow!("GRIDCASE_REDIS_URL: {e}"))?,
            ),
            None => Arc::new(events::MemoryBus::default()),
        };
        // Registered subscriptions (one per shared execution) show in
        // `gridcase_subscriptions_active`.
        let bus: Arc<dyn events::MilestoneBus> = Arc::new(metrics::CountedBus {
            inner: bus,
            metrics: metrics.clone(),
        });
        let cache = cache::connect(&config, metrics.clone()).await?;
        let trusted = match &config.http.trusted_documents {
            Some(path) => {
                let docs = graphql::TrustedDocuments::load(path, config.http.trusted_documents_for)
                    .map_err(|e| {
                        anyhow::anyhow!("http.trusted_documents (GRIDCASE_TRUSTED_DOCUMENTS): {e}")
                    })?;
                tracing::info!(operations = docs.len(), "trusted documents: only the manifest's operations are accepted from the callers it binds");
                Some(Arc::new(docs))
            }
            None => None,
        };
        // Reads go straight to the connectors (through the cache, in the
        // loaders); the workflows' writes and the events they poll evict.
        let (read_tg, read_cc) = (tg.clone(), cc.clone());
        let tg: Arc<dyn upstream::TradingGrid> = Arc::new(cache::evict::EvictingTradingGrid {
            inner: tg,
            cache: cache.clone(),
        });
        let cc: Arc<dyn upstream::CoreCase> = Arc::new(cache::evict::EvictingCoreCase {
            inner: cc,
            cache: cache.clone(),
        });
        let workflows = Arc::new(workflows::Workflows::new(
            tg.clone(),
            cc.clone(),
            store.clone(),
            bus,
            metrics.clone(),
        ));
        let rules = Arc::new(rules::RuleEngine::new(
            workflows.clone(),
            config.rules.clone(),
        ));
        let schema = graphql::build(
            graphql::Services {
                tg: read_tg,
                cc: read_cc,
                public_url,
                max_page_size: config.limits.max_page_size,
                workflows: workflows.clone(),
                cache: cache.clone(),
                trusted,
            },
            &config.limits,
            config.http.introspection,
            metrics.clone(),
        );
        let sandbox = http::portal::sandbox(&config)?;
        let state = http::AppState {
            schema,
            verifier: Arc::new(auth::JwtVerifier::from_config(&config.auth).await?),
            tg: tg.clone(),
            cc: cc.clone(),
            store,
            rules: rules.clone(),
            webhook_secret: config.webhook_secret.clone(),
            metrics,
            http: Arc::new(config.http.clone()),
            limits: (&config.limits).into(),
            going_away: tokio_util::sync::CancellationToken::new(),
            tasks: tokio_util::task::TaskTracker::new(),
            rate_limits: Arc::new(http::ratelimit::RateLimits::new(&config.rate_limit)),
            readiness: http::health::Readiness {
                upstreams: guards,
                redis: config.redis_url.is_some(),
            },
            stream: config.stream.clone(),
            sandbox: sandbox.clone(),
            cache,
        };
        let serve_limits = http::server::ServeLimits {
            header_timeout: config.http.header_timeout,
            max_connections: config.http.max_connections,
            max_connections_per_ip: config.http.max_connections_per_ip,
            shutdown_timeout: config.http.shutdown_timeout,
        };
        let (going_away, tasks) = (state.going_away.clone(), state.tasks.clone());
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr()?;
        // `/metrics` inside the network boundary: its own listener, off the public router.
        let metrics = match config.metrics_listen {
            Some(at) => Some((
                tokio::net::TcpListener::bind(at)
                    .await
                    .map_err(|e| anyhow::anyhow!("GRIDCASE_METRICS_LISTEN {at}: {e}"))?,
                http::metrics_router(state.clone()),
            )),
            None => None,
        };
        Ok(App {
            listener,
            router: http::router(state, metrics.is_none()),
            addr,
            workflows,
            rules,
            tg,
            cc,
            serve_limits,
            going_away,
            tasks,
            metrics,
            sandbox,
        })
    }

    /// In sandbox mode, the sample partner's and agent's tokens (24 h) that the
    /// portal and GraphiQL offer.
    pub fn sandbox_tokens(&self) -> Option<(&str, &str)> {
        self.sandbox
            .as_deref()
            .map(|s| (s.partner_token.as_str(), s.agent_token.as_str()))
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where `/metrics` is served when it has a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    /// Serve until `shutdown` resolves, then stop accepting, close WebSockets with
    /// `1001`, finish in-flight requests and stop the background work (outbox
    /// worker, feed pollers, reconciler) this app owns — all within the shutdown deadline
    /// (`http.shutdown_timeout_ms`), so open sockets cannot hold the process.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut tasks = vec![tokio::spawn(
            self.workflows.clone().run_outbox(stopped.clone()),
        )];
        if let Some(every) = self.rules.rules().poll_interval {
            for platform in [Platform::TradingGrid, Platform::CoreCase] {
                tasks.push(tokio::spawn(self.rules.clone().poll(
                    platform,
                    self.tg.clone(),
                    self.cc.clone(),
                    every,
                    stopped.clone(),
                )));
            }
        }
        if let Some(every) = self.rules.rules().reconcile_interval {
            let reconciler = Arc::new(workflows::reconcile::Reconciler::new(
                self.workflows.clone(),
                self.rules.rules().clone(),
            ));
            tasks.push(tokio::spawn(reconciler.run(every, stopped.clone())));
        }
        if let Some((listener, router)) = self.metrics {
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!(error = %e, "metrics listener failed");
                }
            }));
        }
        let deadline = self.serve_limits.shutdown_timeout;
        let served = http::server::serve(
            self.listener,
            self.router,
            self.serve_limits,
            shutdown,
            self.going_away,
            self.tasks,
        )
        .await;
        let _ = stop.send(true);
        // Whatever the serving drain left of the deadline bounds the background
        // work too (a step stuck on a hung platform must not hold the exit).
        let background = futures::future::join_all(tasks);
        if tokio::time::timeout(deadline, background).await.is_err() {
            tracing::warn!("background work did not stop within the shutdown deadline");
        }
        served
    }
}
