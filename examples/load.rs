//! Load tool: drives a gateway with concurrent GraphQL clients (or WebSocket
//! subscribers) for a bounded time and prints what a capacity plan needs:
//! requests per second, latency percentiles, upstream calls per request (from the
//! simulators' `/__sim/stats`), the gateway's CPU time per request and its RSS.
//!
//! ```text
//! cargo run --release --example load -- --query dashboard --clients 32 --seconds 10 \
//!     [--latency-ms 20] [--cache off|memory|redis] [--url URL --token T [--pid PID]] \
//!     [--subscribers N [--milestones M] [--transport ws|sse]]
//! ```
//!
//! Without `--url` it starts both simulators and a gateway itself, each in a child
//! process of its own (this executable again, with a hidden `--role`), so the
//! gateway's CPU time and RSS are read from `/proc/<pid>` of a process that runs
//! nothing but the gateway: neither the simulators nor these load clients are
//! counted. With `--url` it targets a running gateway; CPU and RSS are reported
//! when `--pid` names its process, upstream calls when `--tg-url`/`--cc-url` name
//! simulators.
//!
//! Every loop is bounded: clients stop at `--seconds` or after `--max-requests`,
//! subscribers wait for each milestone at most `--deliver-timeout-s`.

use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use gridcase::auth::Role;
use gridcase::config::{Secret, Settings};
use gridcase::sim::{self, Platform, SimOptions};
use gridcase::App;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// The README's dashboard query.
const DASHBOARD: &str = r#"query Dashboard { partnerIssues(first: 50) { edges { node {
  id title kind partner { id name }
  documents { id name kind sha256 }
  transactions { id documentType status }
  case { id number milestone evidence { id name } resolution { summary } }
} } } }"#;

const MILESTONES: &str = "subscription { caseMilestones { caseId milestone at } }";

const SECRET: &str = "load-tool-secret-load-tool-secret-0123456789";
const WEBHOOK_SECRET: &str = "load-tool-webhook-secret-0123456789";

#[derive(Parser, Debug)]
#[command(about = "Drive a gridcase gateway and measure it")]
struct Args {
    /// `dashboard` (the README's query) or a GraphQL query text.
    #[arg(long, default_value = "dashboard")]
    query: String,
    /// Concurrent HTTP clients, each sending one request after the other.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// How long the clients run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Upper bound on requests, whatever the time.
    #[arg(long, default_value_t = 2_000_000)]
    max_requests: u64,
    /// Latency the started simulators add to every API request.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Entity cache of the started gateway (`GRIDCASE_CACHE`); unset = its default.
    #[arg(long, value_parser = ["off", "memory", "redis"])]
    cache: Option<String>,
    /// A running gateway (`http://host:port`) instead of starting one.
    #[arg(long)]
    url: Option<String>,
    /// Bearer token for `--url` (started gateways get an agent token).
    #[arg(long)]
    token: Option<String>,
    /// Process id of the `--url` gateway, for its CPU time and RSS.
    #[arg(long)]
    pid: Option<u32>,
    /// Trading Grid simulator of the `--url` gateway, for upstream call counts.
    #[arg(long)]
    tg_url: Option<String>,
    /// Core Case simulator of the `--url` gateway (also where milestones are made).
    #[arg(long)]
    cc_url: Option<String>,
    /// Instead of HTTP clients: this many `caseMilestones` subscribers.
    #[arg(long, default_value_t = 0)]
    subscribers: usize,
    /// How subscribers subscribe: `ws` (graphql-transport-ws on `/graphql/ws`)
    /// or `sse` (GraphQL over SSE on `/graphql/stream`, as the portal does).
    #[arg(long, default_value = "ws")]
    transport: String,
    /// Milestones published (one after the other) to the subscribers.
    #[arg(long, default_value_t = 5)]
    milestones: usize,
    /// How long every subscriber has to receive one milestone.
    #[arg(long, default_value_t = 30)]
    deliver_timeout_s: u64,
    /// Print the gateway's log (stderr) instead of discarding it.
    #[arg(long)]
    verbose: bool,
    /// Internal: run as the `simulators` or `gateway` child process.
    #[arg(long, hide = true)]
    role: Option<String>,
}

/// The allocator `gridcase` ships with, so the gateway measured here is the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match args.role.as_deref() {
        Some("simulators") => rt.block_on(child_simulators(args.latency_ms)),
        Some("gateway") => rt.block_on(child_gateway(&args)),
        Some(other) => bail!("unknown role {other}"),
        None => rt.block_on(drive(args)),
    }
}

/// Raise the soft open-files limit to the hard one: thousands of sockets need it.
fn raise_fd_limit() {
    // SAFETY: plain libc calls on a stack value.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

fn open_files_limit() -> u64 {
    // SAFETY: as above.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur
    }
}

/// Block until the parent closes our stdin (it exited or is done with us).
async fn until_parent_leaves() {
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
}

async fn child_simulators(latency_ms: u64) -> anyhow::Result<()> {
    let opts = SimOptions {
        latency_ms,
        ..SimOptions::default()
    };
    let loopback = "127.0.0.1:0".parse()?;
    let tg = sim::start(Platform::TradingGrid, loopback, opts.clone()).await?;
    let cc = sim::start(Platform::CoreCase, loopback, opts).await?;
    println!("{} {}", tg.base_url(), cc.base_url());
    std::io::stdout().flush()?;
    until_parent_leaves().await;
    Ok(())
}

async fn child_gateway(args: &Args) -> anyhow::Result<()> {
    // Logging as `gridcase serve` does, so its cost is part of the measurement.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRIDCASE_LOG")
                .unwrap_or_else(|_| "info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let tg = args.tg_url.clone().context("--tg-url")?;
    let cc = args.cc_url.clone().context("--cc-url")?;
    let connections = (args.subscribers + 1024).to_string();
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("GRIDCASE_LISTEN", "127.0.0.1:0".to_owned()),
        ("GRIDCASE_TRADING_GRID_URL", tg),
        ("GRIDCASE_CORE_CASE_URL", cc),
        // The simulators' development credentials: a platform URL needs credentials.
        (
            "GRIDCASE_TRADING_GRID_CLIENT_ID",
            gridcase::sim::DEV_CLIENT_ID.to_owned(),
        ),
        (
            "GRIDCASE_TRADING_GRID_CLIENT_SECRET",
            gridcase::sim::DEV_CLIENT_SECRET.to_owned(),
        ),
        (
            "GRIDCASE_CORE_CASE_CLIENT_ID",
            gridcase::sim::DEV_CLIENT_ID.to_owned(),
        ),
        (
            "GRIDCASE_CORE_CASE_CLIENT_SECRET",
            gridcase::sim::DEV_CLIENT_SECRET.to_owned(),
        ),
        ("GRIDCASE_JWT_SECRET", SECRET.to_owned()),
        ("GRIDCASE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        // All load comes from 127.0.0.1.
        ("GRIDCASE_HTTP__MAX_CONNECTIONS_PER_IP", connections.clone()),
        ("GRIDCASE_HTTP__MAX_CONNECTIONS", connections),
    ]);
    if let Some(cache) = &args.cache {
        vars.insert("GRIDCASE_CACHE", cache.clone());
    }
    // Anything else (GRIDCASE_REDIS_URL, …) comes from the environment.
    let config = Settings::load(None, &|k| {
        vars.get(k).cloned().or_else(|| std::env::var(k).ok())
    })?
    .resolve(false)?;
    let app = App::build(config).await?;
    println!("http://{}", app.addr());
    std::io::stdout().flush()?;
    app.run(until_parent_leaves()).await?;
    Ok(())
}

/// A child process of this executable; it exits when its stdin closes (on drop).
struct ChildProc {
    child: Child,
    first_line: String,
}

impl ChildProc {
    fn spawn(role: &str, args: &[String], verbose: bool) -> anyhow::Result<Self> {
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("--role")
            .arg(role)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if verbose {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .with_context(|| format!("starting the {role} process"))?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut first_line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut first_line)?;
        if first_line.trim().is_empty() {
            bail!("the {role} process did not start (run with --verbose to see why)");
        }
        Ok(Self {
            child,
            first_line: first_line.trim().to_owned(),
        })
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the tool talks to.
struct Target {
    graphql: String,
    base: String,
    token: String,
    pid: Option<u32>,
    tg: Option<String>,
    cc: Option<String>,
    _children: Vec<ChildProc>,
}

async fn target(args: &Args, http: &reqwest::Client) -> anyhow::Result<Target> {
    if let Some(url) = &args.url {
        let base = url
            .trim_end_matches('/')
            .trim_end_matches("/graphql")
            .to_owned();
        return Ok(Target {
            graphql: format!("{base}/graphql"),
            base,
            token: args.token.clone().context("--url needs --token")?,
            pid: args.pid,
            tg: args.tg_url.clone(),
            cc: args.cc_url.clone(),
            _children: vec![],
        });
    }
    let sims = ChildProc::spawn(
        "simulators",
        &["--latency-ms".into(), args.latency_ms.to_string()],
        args.verbose,
    )?;
    let (tg, cc) = sims
        .first_line
        .split_once(' ')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .context("simulator addresses")?;
    let mut gw_args = vec![
        "--tg-url".into(),
        tg.clone(),
        "--cc-url".into(),
        cc.clone(),
        "--subscribers".into(),
        args.subscribers.to_string(),
    ];
    if let Some(c) = &args.cache {
        gw_args.extend(["--cache".into(), c.clone()]);
    }
    let gateway = ChildProc::spawn("gateway", &gw_args, args.verbose)?;
    let base = gateway.first_line.clone();
    let pid = gateway.child.id();
    // For `perf record -p PID` alongside a run.
    eprintln!("gateway {base} (pid {pid}); simulators {tg} {cc}");
    // Webhooks of both simulators go to the gateway (milestones come that way).
    for (sim, path) in [(&tg, "trading-grid"), (&cc, "core-case")] {
        let resp = http
            .put(format!("{sim}/__sim/webhook"))
            .json(&json!({ "url": format!("{base}/webhooks/{path}"), "secret": WEBHOOK_SECRET }))
            .send()
            .await?;
        anyhow::ensure!(
            resp.status().is_success(),
            "webhook target: {}",
            resp.status()
        );
    }
    let token = gridcase::auth::sign(
        &Secret::new(SECRET),
        Role::Agent,
        None,
        "load",
        Duration::from_secs(3600),
        None,
        None,
    )?;
    Ok(Target {
        graphql: format!("{base}/graphql"),
        base,
        token,
        pid: Some(pid),
        tg: Some(tg),
        cc: Some(cc),
        _children: vec![gateway, sims],
    })
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is the first.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some((utime + stime) / ticks)
}

/// A `VmRSS`-style line of `/proc/<pid>/status`, in bytes.
fn status_bytes(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn sim_total(http: &reqwest::Client, base: &str) -> anyhow::Result<u64> {
    let v: Value = http
        .get(format!("{base}/__sim/stats"))
        .send()
        .await?
        .json()
        .await?;
    v["total"].as_u64().context("stats total")
}

async fn sim_reset(http: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    let resp = http
        .post(format!("{base}/__sim/stats/reset"))
        .send()
        .await?;
    anyhow::ensure!(resp.status().is_success(), "stats reset: {}", resp.status());
    Ok(())
}

async fn drive(args: Args) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients.max(8))
        .timeout(Duration::from_secs(60))
        .build()?;
    let target = target(&args, &http).await?;
    if args.subscribers > 0 {
        subscribers(&args, &target, &http).await
    } else {
        load(&args, &target, &http).await
    }
}

/// One GraphQL POST; `Ok(false)` when it answered with errors.
async fn one(
    http: &reqwest::Client,
    graphql: &str,
    token: &str,
    body: &bytes::Bytes,
) -> anyhow::Result<bool> {
    let resp = http
        .post(graphql)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await?;
    let ok = resp.status().is_success();
    let bytes = resp.bytes().await?;
    // Cheap check, so the clients cost little CPU next to the gateway.
    Ok(ok && !bytes.windows(9).any(|w| w == b"\"errors\":"))
}

async fn load(args: &Args, t: &Target, http: &reqwest::Client) -> anyhow::Result<()> {
    anyhow::ensure!(args.clients > 0, "--clients must be at least 1");
    let query = if args.query == "dashboard" {
        DASHBOARD
    } else {
        args.query.as_str()
    };
    let body = bytes::Bytes::from(json!({ "query": query }).to_string());
    // Warm up: connection pools, upstream tokens; a failing query stops here.
    for _ in 0..3 {
        if !one(http, &t.graphql, &t.token, &body).await? {
            let v: Value = http
                .post(&t.graphql)
                .bearer_auth(&t.token)
                .json(&json!({ "query": query }))
                .send()
                .await?
                .json()
                .await?;
            bail!("the query fails: {v}");
        }
    }
    for sim in [&t.tg, &t.cc].into_iter().flatten() {
        sim_reset(http, sim).await?;
    }
    let cpu_before = t.pid.and_then(cpu_seconds);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let issued = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let mut clients = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        let (http, body, issued, errors) =
            (http.clone(), body.clone(), issued.clone(), errors.clone());
        let (graphql, token, max) = (t.graphql.clone(), t.token.clone(), args.max_requests);
        clients.push(tokio::spawn(async move {
            let mut times: Vec<Duration> = Vec::new();
            while Instant::now() < deadline && issued.fetch_add(1, Ordering::Relaxed) < max {
                let start = Instant::now();
                match one(&http, &graphql, &token, &body).await {
                    Ok(true) => times.push(start.elapsed()),
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            times
        }));
    }
    let mut times = Vec::new();
    for c in clients {
        times.extend(c.await?);
    }
    let elapsed = started.elapsed();
    let cpu_after = t.pid.and_then(cpu_seconds);
    let rss = t.pid.and_then(|p| status_bytes(p, "VmRSS:"));
    let errors = errors.load(Ordering::Relaxed);
    anyhow::ensure!(!times.is_empty(), "no request succeeded ({errors} failed)");
    times.sort();
    let n = times.len();
    let pct = |p: f64| times[((n as f64 * p) as usize).min(n - 1)].as_secs_f64() * 1e3;
    let rps = n as f64 / elapsed.as_secs_f64();
    let mut calls = Vec::new();
    for sim in [&t.tg, &t.cc] {
        calls.push(match sim {
            Some(s) => Some(sim_total(http, s).await? as f64 / n as f64),
            None => None,
        });
    }
    let cpu_ms = match (cpu_before, cpu_after) {
        (Some(a), Some(b)) => Some((b - a) * 1e3 / n as f64),
        _ => None,
    };
    let opt = |v: Option<f64>, digits: usize| {
        v.map(|v| format!("{v:.digits$}"))
            .unwrap_or_else(|| "n/a".into())
    };
    let upstream = match (calls[0], calls[1]) {
        (Some(a), Some(b)) => Some(a + b),
        _ => None,
    };
    println!(
        "query {}, {} clients, {:.1} s, simulated upstream latency {} ms, cache {}",
        if args.query == "dashboard" {
            "dashboard"
        } else {
            "custom"
        },
        args.clients,
        elapsed.as_secs_f64(),
        args.latency_ms,
        args.cache.as_deref().unwrap_or("(gateway default)")
    );
    println!("requests: {n} answered, {errors} failed; {rps:.1} per second");
    println!("latency: p50 {:.1} ms, p99 {:.1} ms", pct(0.50), pct(0.99));
    println!(
        "upstream calls per request: {} (Trading Grid {}, Core Case {})",
        opt(upstream, 2),
        opt(calls[0], 2),
        opt(calls[1], 2)
    );
    println!(
        "gateway CPU per request: {} ms (utime+stime of the gateway process only)",
        opt(cpu_ms, 2)
    );
    println!("gateway RSS: {} MB", opt(rss.map(mb), 1));
    println!(
        "| {} | {} | {} | {rps:.0} | {:.1} | {:.1} | {} | {} | {} |",
        args.clients,
        args.cache.as_deref().unwrap_or("default"),
        args.latency_ms,
        pct(0.50),
        pct(0.99),
        opt(upstream, 2),
        opt(cpu_ms, 2),
        opt(rss.map(mb), 0)
    );
    Ok(())
}

/// Deliveries of the milestones, counted per case (by its place in `index`) as
/// they arrive; each socket keeps its own latencies until the end, so receiving
/// costs the load tool little (it shares the machine with the gateway).
struct Deliveries {
    index: HashMap<String, usize>,
    counts: Vec<AtomicUsize>,
}

impl Deliveries {
    fn new(cases: &[(String, String)]) -> Self {
        Self {
            index: cases
                .iter()
                .enumerate()
                .map(|(i, c)| (c.0.clone(), i))
                .collect(),
            counts: cases.iter().map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    fn count(&self, case: &str) -> usize {
        self.index
            .get(case)
            .map_or(0, |&i| self.counts[i].load(Ordering::Relaxed))
    }
}

/// The part of a `next` message the load tool reads.
#[derive(serde::Deserialize)]
struct Next<'a> {
    #[serde(borrow)]
    payload: NextPayload<'a>,
}

#[derive(serde::Deserialize)]
struct NextPayload<'a> {
    #[serde(borrow)]
    data: NextData<'a>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextData<'a> {
    #[serde(borrow)]
    case_milestones: NextEvent<'a>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct NextEvent<'a> {
    case_id: &'a str,
    at: &'a str,
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connect, authenticate and subscribe one socket.
async fn subscribe_one(ws_url: &str, token: &str) -> anyhow::Result<Ws> {
    let mut request = ws_url.into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    // Small buffers: ten thousand sockets here should not need gigabytes either.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    ws.send(Message::text(
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } })
            .to_string(),
    ))
    .await?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.contains("connection_ack") => break,
            Some(Ok(Message::Text(_) | Message::Ping(_) | Message::Pong(_))) => continue,
            other => bail!("no connection_ack: {other:?}"),
        }
    }
    ws.send(Message::text(
        json!({ "id": "1", "type": "subscribe", "payload": { "query": MILESTONES } }).to_string(),
    ))
    .await?;
    Ok(ws)
}

/// A `caseMilestones` subscription over GraphQL over SSE; the response body's
/// events (their data is the GraphQL response).
async fn stream_one(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> anyhow::Result<futures::stream::BoxStream<'static, anyhow::Result<String>>> {
    use eventsource_stream::Eventsource;
    let resp = http
        .post(url)
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .json(&json!({ "query": MILESTONES }))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "stream refused: {}",
        resp.status()
    );
    Ok(resp
        .bytes_stream()
        .eventsource()
        .filter_map(|e| async move {
            match e {
                Ok(e) if e.event == "next" => Some(Ok(e.data)),
                Ok(_) => None,
                Err(e) => Some(Err(anyhow!("{e}"))),
            }
        })
        .boxed())
}

/// One subscriber: the GraphQL responses it receives, as text.
enum Subscriber {
    Ws(Box<Ws>),
    Sse(futures::stream::BoxStream<'static, anyhow::Result<String>>),
}

/// What a subscriber got next.
enum Received {
    /// A graphql-transport-ws message, or an SSE `next` event's data.
    Text(String),
    /// The server closed (the WebSocket close code, or how the stream ended).
    Closed(String),
}

impl Subscriber {
    async fn next(&mut self) -> Received {
        match self {
            Subscriber::Ws(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) => return Received::Text(t.to_string()),
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.map(|f| u16::from(f.code).to_string());
                        return Received::Closed(code.unwrap_or_else(|| "none".into()));
                    }
                    Some(Ok(_)) => continue,
                    _ => return Received::Closed("reset".into()),
                }
            },
            Subscriber::Sse(events) => match events.next().await {
                Some(Ok(data)) => Received::Text(data),
                Some(Err(_)) => Received::Closed("reset".into()),
                None => Received::Closed("stream ended".into()),
            },
        }
    }

    /// The milestone in a received text, if it is one.
    fn parse<'a>(&self, text: &'a str) -> Option<NextEvent<'a>> {
        let data = match self {
            Subscriber::Ws(_) => serde_json::from_str::<Next>(text).ok()?.payload,
            Subscriber::Sse(_) => serde_json::from_str::<NextPayload>(text).ok()?,
        };
        Some(data.data.case_milestones)
    }

    async fn close(self) {
        if let Subscriber::Ws(mut ws) = self {
            let _ = Ws::close(&mut ws, None).await;
        }
    }
}

async fn subscribers(args: &Args, t: &Target, http: &reqwest::Client) -> anyhow::Result<()> {
    let n = args.subscribers;
    let cc =
        t.cc.clone()
            .context("--subscribers needs the Core Case simulator (--cc-url) to make milestones")?;
    anyhow::ensure!(
        (n as u64) + 256 < open_files_limit(),
        "{n} sockets need more open files than the limit {} allows",
        open_files_limit()
    );
    // Cases to move, one milestone each (an announcement is made once per case and
    // milestone): warm-ups first, then the measured ones.
    let cases: Value = http
        .post(&t.graphql)
        .bearer_auth(&t.token)
        .json(&json!({ "query": "{ cases(first: 100, filter: { milestones: [RECEIVED, UNDER_REVIEW, AWAITING_DOCUMENTS] }) { edges { node { id milestone } } } }" }))
        .send()
        .await?
        .json()
        .await?;
    let mut cases: Vec<(String, String)> = cases["data"]["cases"]["edges"]
        .as_array()
        .ok_or_else(|| anyhow!("cases: {cases}"))?
        .iter()
        .filter_map(|e| {
            let node = &e["node"];
            let status = match node["milestone"].as_str()? {
                "UNDER_REVIEW" => "waiting_on_partner",
                _ => "in_progress",
            };
            Some((node["id"].as_str()?.to_owned(), status.to_owned()))
        })
        .collect();
    const WARMUPS: usize = 10;
    anyhow::ensure!(
        cases.len() >= args.milestones + WARMUPS,
        "only {} open cases to move; ask for fewer --milestones",
        cases.len()
    );

    let pid = t.pid;
    let rss_before = pid.and_then(|p| status_bytes(p, "VmRSS:"));
    let ws_url = format!("{}/graphql/ws", t.base.replace("http://", "ws://"));
    let sse_url = format!("{}/graphql/stream", t.base);
    let sse = match args.transport.as_str() {
        "ws" => false,
        "sse" => true,
        other => bail!("--transport is ws or sse, not {other}"),
    };
    // One connection per stream, as browsers make them.
    let streams = reqwest::Client::builder()
        .http1_only()
        .pool_max_idle_per_host(0)
        .build()?;
    let deliveries = Arc::new(Deliveries::new(&cases));
    let warm = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
    let handshakes = Arc::new(tokio::sync::Semaphore::new(256));
    let connect_started = Instant::now();
    let mut sockets = Vec::with_capacity(n);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    for _ in 0..n {
        let (ws_url, sse_url, token) = (ws_url.clone(), sse_url.clone(), t.token.clone());
        let streams = streams.clone();
        let (deliveries, warm, failed, closed, handshakes) = (
            deliveries.clone(),
            warm.clone(),
            failed.clone(),
            closed.clone(),
            handshakes.clone(),
        );
        let mut stop = stop_rx.clone();
        sockets.push(tokio::spawn(async move {
            let subscriber = {
                let _permit = handshakes.acquire().await;
                let open = async {
                    if sse {
                        stream_one(&streams, &sse_url, &token)
                            .await
                            .map(Subscriber::Sse)
                    } else {
                        subscribe_one(&ws_url, &token)
                            .await
                            .map(|ws| Subscriber::Ws(Box::new(ws)))
                    }
                };
                tokio::time::timeout(Duration::from_secs(60), open).await
            };
            let mut subscriber = match subscriber {
                Ok(Ok(s)) => s,
                _ => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    return vec![];
                }
            };
            let mut seen_any = false;
            let mut got = Vec::new();
            let stopped = stop.changed();
            tokio::pin!(stopped);
            loop {
                let received = tokio::select! {
                    _ = &mut stopped => break,
                    r = subscriber.next() => r,
                };
                let text = match received {
                    Received::Text(t) => t,
                    Received::Closed(how) => {
                        *closed.lock().unwrap().entry(how).or_default() += 1;
                        return got;
                    }
                };
                let received = chrono::Utc::now();
                let Some(event) = subscriber.parse(&text) else {
                    continue;
                };
                let Some(&case) = deliveries.index.get(event.case_id) else {
                    continue;
                };
                let Ok(at) = chrono::DateTime::parse_from_rfc3339(event.at) else {
                    continue;
                };
                let ms = (received - at.with_timezone(&chrono::Utc))
                    .num_microseconds()
                    .unwrap_or(0) as f64
                    / 1e3;
                if !seen_any {
                    seen_any = true;
                    warm.fetch_add(1, Ordering::Relaxed);
                }
                deliveries.counts[case].fetch_add(1, Ordering::Relaxed);
                got.push((case, ms));
            }
            subscriber.close().await;
            got
        }));
    }

    let move_case = |case: &(String, String)| {
        let (http, cc) = (http.clone(), cc.clone());
        let body = json!({ "case_id": case.0, "status": case.1 });
        async move {
            let resp = http
                .post(format!("{cc}/__sim/scenarios/case-worker-moves-case"))
                .json(&body)
                .send()
                .await?;
            anyhow::ensure!(
                resp.status().is_success(),
                "moving a case: {}",
                resp.status()
            );
            Ok::<_, anyhow::Error>(())
        }
    };
    let live = |failed: &AtomicUsize, closed: &Mutex<HashMap<String, usize>>| {
        n - failed.load(Ordering::Relaxed) - closed.lock().unwrap().values().sum::<usize>()
    };
    let deliver_timeout = Duration::from_secs(args.deliver_timeout_s);

    // Warm-up milestones until every socket has received one: then every
    // subscription is registered and the measured ones can reach all of them.
    let mut measured = cases.split_off(WARMUPS);
    let mut warmups = cases.into_iter();
    let mut warm_deadline = Instant::now();
    while warm.load(Ordering::Relaxed) < live(&failed, &closed) {
        if Instant::now() >= warm_deadline {
            let Some(case) = warmups.next() else {
                bail!(
                    "after {WARMUPS} warm-up milestones only {} of {n} subscribers received one",
                    warm.load(Ordering::Relaxed)
                );
            };
            move_case(&case).await?;
            warm_deadline = Instant::now() + deliver_timeout;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connected_in = connect_started.elapsed();
    let rss_subscribed = pid.and_then(|p| status_bytes(p, "VmRSS:"));

    measured.truncate(args.milestones);
    let mut latencies = Vec::new();
    let mut delivered = 0usize;
    for case in &measured {
        move_case(case).await?;
        let until = Instant::now() + deliver_timeout;
        loop {
            let got = deliveries.count(&case.0);
            if got >= live(&failed, &closed) || Instant::now() >= until {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let rss_after = pid.and_then(|p| status_bytes(p, "VmRSS:"));
    let hwm = pid.and_then(|p| status_bytes(p, "VmHWM:"));
    let measured_at: std::collections::HashSet<usize> =
        measured.iter().map(|c| deliveries.index[&c.0]).collect();
    let _ = stop_tx.send(true);
    for s in sockets {
        if let Ok(Ok(got)) = tokio::time::timeout(Duration::from_secs(5), s).await {
            for (case, ms) in got {
                if measured_at.contains(&case) {
                    delivered += 1;
                    latencies.push(ms);
                }
            }
        }
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let opt_mb = |v: Option<u64>| {
        v.map(|v| format!("{:.1}", mb(v)))
            .unwrap_or_else(|| "n/a".into())
    };
    let per_socket = match (rss_before, rss_subscribed) {
        (Some(a), Some(b)) => format!("{:.1}", (b.saturating_sub(a)) as f64 / 1024.0 / n as f64),
        _ => "n/a".into(),
    };
    println!(
        "{n} caseMilestones subscribers over {} ({} failed to connect), subscribed in {:.1} s",
        if sse { "SSE" } else { "WebSocket" },
        failed.load(Ordering::Relaxed),
        connected_in.as_secs_f64()
    );
    println!(
        "deliveries: {delivered} of {} ({} milestones × {n} subscribers)",
        measured.len() * n,
        measured.len()
    );
    println!(
        "delivery latency (publish → receipt): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(0.50),
        pct(0.99),
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "gateway RSS: {} MB before, {} MB subscribed, {} MB after deliveries, peak {} MB; {per_socket} KB per socket",
        opt_mb(rss_before),
        opt_mb(rss_subscribed),
        opt_mb(rss_after),
        opt_mb(hwm)
    );
    let closed = closed.lock().unwrap();
    if !closed.is_empty() {
        println!("closed by the gateway during the run (close code: sockets): {closed:?}");
    }
    Ok(())
}
