//! Simulators of both platforms: real HTTP servers speaking the Trading Grid and Core
//! Case REST contracts over a deterministic seeded world, with fault knobs for tests.
//!
//! The gateway's sandbox mode, the `gridcase simulate` command and the tests use the
//! public API below; everything else is internal.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) mod common;
pub(crate) mod core_case;
pub(crate) mod idempotency;
pub(crate) mod rng;
pub mod signing;
pub(crate) mod trading_grid;
pub(crate) mod webhook;
pub(crate) mod world;

/// Default client id accepted by both simulators.
pub const DEV_CLIENT_ID: &str = "gridcase-dev";
/// Default client secret accepted by both simulators.
pub const DEV_CLIENT_SECRET: &str = "gridcase-dev-secret";

/// Which platform a simulator plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    TradingGrid,
    CoreCase,
}

impl Platform {
    pub(crate) fn token_path(self) -> &'static str {
        match self {
            Platform::TradingGrid => "/oauth2/token",
            Platform::CoreCase => "/oauth/token",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Platform::TradingGrid => "trading-grid",
            Platform::CoreCase => "core-case",
        })
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "trading-grid" => Ok(Platform::TradingGrid),
            "core-case" => Ok(Platform::CoreCase),
            other => Err(format!(
                "unknown platform {other:?} (expected trading-grid or core-case)"
            )),
        }
    }
}

/// How a simulator seeds its world and misbehaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seed of the world; both simulators must use the same one to agree.
    pub seed: u64,
    /// Multiplies record counts.
    pub scale: u32,
    /// Added to every API request.
    pub latency_ms: u64,
    /// Fraction of API requests answered 503 (token requests excluded).
    pub error_rate: f64,
    /// Requests per second before answering 429 with `Retry-After`.
    pub rate_limit: Option<u32>,
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl: Duration,
    /// Where to POST every emitted event; also settable at `PUT /__sim/webhook`.
    pub webhook_url: Option<String>,
    /// Key of the `Webhook-Signature` HMAC; deliveries are unsigned without one.
    pub webhook_secret: Option<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            scale: 1,
            latency_ms: 0,
            error_rate: 0.0,
            rate_limit: None,
            client_id: DEV_CLIENT_ID.to_string(),
            client_secret: DEV_CLIENT_SECRET.to_string(),
            token_ttl: Duration::from_secs(3600),
            webhook_url: None,
            webhook_secret: None,
        }
    }
}

/// A simulator bound to a listener and running on a spawned tokio task.
///
/// Dropping it stops the server: the shutdown sender is dropped, which the server
/// treats as the signal to stop.
pub struct RunningSim {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningSim {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop gracefully and wait for the server task to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl fmt::Debug for RunningSim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningSim")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Bind `addr` (port 0 allowed), spawn the server, and return once it accepts connections.
pub async fn start(
    platform: Platform,
    addr: SocketAddr,
    opts: SimOptions,
) -> std::io::Result<RunningSim> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    // The world is built before spawning so the server answers from its first accept.
    let app = router(platform, opts);
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                // A send and a dropped sender both mean "stop".
                let _ = rx.await;
            })
            .await
    });
    Ok(RunningSim {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

/// Serve until `shutdown` resolves (used by the `gridcase simulate` command).
pub async fn serve(
    platform: Platform,
    listener: TcpListener,
    opts: SimOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(platform, opts))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The router alone (for in-process tests).
pub fn router(platform: Platform, opts: SimOptions) -> axum::Router {
    let world = world::World::generate(opts.seed, opts.scale);
    match platform {
        Platform::TradingGrid => trading_grid::router(world, &opts),
        Platform::CoreCase => core_case::router(world, &opts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip() {
        for p in [Platform::TradingGrid, Platform::CoreCase] {
            assert_eq!(p.to_string().parse::<Platform>(), Ok(p));
        }
        assert!("tg".parse::<Platform>().is_err());
    }
}

#[cfg(test)]
mod route_tests;
