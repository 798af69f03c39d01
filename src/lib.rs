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
//! - `config`   — file + `GRIDCASE_*` env → validated [`Config`]
//! - `auth`     — JWT verification, [`auth::Principal`], the policy table
//! - `domain`   — ids that parse, enums, status → milestone, records; no I/O
//! - `upstream` — Trading Grid and Core Case connectors: wire models, mapping, HTTP clients
//! - `graphql`  — schema, query resolvers, types, loaders, errors
//! - `http`     — router: `/graphql`, `/documents/{id}/content`, `/webhooks/{platform}`, `/healthz`, `/readyz`, `/metrics`
//! - `metrics`  — Prometheus counters
//! - `workflows`— the use cases as idempotent step sequences; the outbox worker
//! - `rules`    — platform events (webhooks, feed polling) → workflows
//! - `cache`    — the entity cache (memory or Redis) and what each change evicts
//! - `store`    — idempotency keys, outbox, webhook dedupe, activity: memory or Redis
//! - `events`   — the milestone bus
//! - `sim`      — simulators of both platforms (used by `gridcase simulate`, sandbox mode and tests; the gateway never calls into it)

pub mod auth;
pub mod cache;
pub mod config;
pub mod domain;
pub mod events;
pub mod graphql;
mod http;
pub mod metrics;
pub mod rules;
pub mod sim;
pub mod store;
#[cfg(test)]
mod test_redis;
pub mod upstream;
pub mod workflows;

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
}

fn http_settings(
    platform: Platform,
    p: &PlatformConfig,
    metrics: &Arc<metrics::Metrics>,
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
        max_retry_after: std::time::Duration::from_secs(2),
        metrics: metrics.clone(),
    }
}

impl App {
    /// Wire everything from `config` and bind its listen address (port 0 allowed;
    /// [`App::addr`] tells the real one).
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let metrics = Arc::new(metrics::Metrics::new());
        let tg: Arc<dyn upstream::TradingGrid> = Arc::new(TradingGridClient::new(http_settings(
            Platform::TradingGrid,
            &config.trading_grid,
            &metrics,
        )));
        let cc: Arc<dyn upstream::CoreCase> = Arc::new(CoreCaseClient::new(http_settings(
            Platform::CoreCase,
            &config.core_case,
            &metrics,
        )));
        let public_url = config
            .public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let store: Arc<dyn store::Store> = match &config.redis_url {
            Some(url) => Arc::new(
                store::RedisStore::connect(url.expose(), &config.redis_namespace)
                    .await
                    .map_err(|e| anyhow::anyhow!("GRIDCASE_REDIS_URL: {e}"))?,
            ),
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
        let cache = Arc::new(cache::connect(&config, metrics.clone()).await?);
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
            },
            &config.limits,
        );
        let state = http::AppState {
            schema,
            verifier: Arc::new(auth::JwtVerifier::new(&config.auth)),
            tg: tg.clone(),
            cc: cc.clone(),
            store,
            rules: rules.clone(),
            webhook_secret: config.webhook_secret.clone(),
            metrics,
            cache,
        };
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        Ok(App {
            listener,
            router: http::router(state),
            addr,
            workflows,
            rules,
            tg,
            cc,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `shutdown` resolves, then finish in-flight requests and stop
    /// the background work (outbox worker, feed pollers) this app owns.
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
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await;
        let _ = stop.send(true);
        for t in tasks {
            let _ = t.await;
        }
        served
    }
}
