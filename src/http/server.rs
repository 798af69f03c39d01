//! The accept loop: hyper connections with a header-read deadline, a cap on open
//! connections (in total and per client address), and a graceful shutdown with a
//! hard deadline, so neither slow clients nor open sockets can hold the process.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Bounds of the accept loop.
#[derive(Debug, Clone)]
pub(crate) struct ServeLimits {
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub shutdown_timeout: Duration,
}

/// Open connections per client address; a slot is given back when its guard drops.
#[derive(Default)]
struct PerIp(Mutex<HashMap<IpAddr, usize>>);

struct Slot {
    table: Arc<PerIp>,
    ip: IpAddr,
}

impl PerIp {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Slot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// The connection a request came on, counted against the caps; a WebSocket keeps
/// it for as long as the socket is open, so upgraded connections count too.
#[derive(Clone)]
pub(crate) struct ConnectionSlot(
    #[allow(dead_code)] Arc<(tokio::sync::OwnedSemaphorePermit, Slot)>,
);

/// Serve `router` on `listener` until `shutdown` resolves. Then: stop accepting,
/// tell upgraded connections (WebSockets) through `going_away`, let in-flight
/// requests and `tracked` work finish, and return when all is done or when
/// `shutdown_timeout` has passed, whichever comes first.
pub(crate) async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    going_away: CancellationToken,
    tracked: TaskTracker,
) -> std::io::Result<()> {
    let total = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let per_ip = Arc::new(PerIp::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .max_concurrent_streams(100);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = total.clone().try_acquire_owned() else {
            tracing::warn!("connection refused: the gateway is at its connection limit");
            continue;
        };
        let Some(slot) = per_ip.take(remote.ip(), limits.max_connections_per_ip) else {
            tracing::info!("connection refused: too many connections from one address");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let held = ConnectionSlot(Arc::new((permit, slot)));
        let for_requests = held.clone();
        let service = TowerToHyperService::new(router.clone().map_request(
            move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut()
                    .insert(ConnectInfo::<SocketAddr>(remote));
                req.extensions_mut().insert(for_requests.clone());
                req.map(axum::body::Body::new)
            },
        ));
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(held);
        });
    }
    drop(listener);
    going_away.cancel();
    tracked.close();
    let drained = async {
        graceful.shutdown().await;
        tracked.wait().await;
    };
    if tokio::time::timeout(limits.shutdown_timeout, drained)
        .await
        .is_err()
    {
        tracing::warn!(
            deadline = ?limits.shutdown_timeout,
            "shutdown deadline reached with work still open; exiting anyway"
        );
    }
    Ok(())
}
