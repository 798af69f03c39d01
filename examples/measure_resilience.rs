//! Measures what the per-caller rate limits and the upstream breaker, retry budget
//! and bulkhead buy, against the built-in simulators' fault knobs:
//!
//! 1. a 100 % Trading Grid outage: calls the platform sees, without and with the
//!    retry budget and the circuit breaker;
//! 2. 30 % upstream errors on both platforms: share of dashboards answered in
//!    full, and retries per call;
//! 3. one partner flooding: another partner's latency and errors, with rate limits
//!    off and on.
//!
//! `cargo run --release --example measure_resilience [-- outage|errors|flood]`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gridcase::auth::Role;
use gridcase::config::{Secret, Settings};
use gridcase::sim::{self, Platform, RunningSim, SimOptions};
use gridcase::App;
use serde_json::{json, Value};

const DASHBOARD: &str = r#"query Dashboard { partnerIssues(first: 50) { edges { node {
  id title kind partner { id name }
  documents { id name kind sha256 }
  transactions { id documentType status }
  case { id number milestone evidence { id name } resolution { summary } }
} } } }"#;

const SMALL: &str = r#"{ partnerIssues(first: 5) { edges { node { id title } } } }"#;

const SECRET: &str = "measurement-secret-measurement-secret";

struct Gateway {
    url: String,
    tg: RunningSim,
    cc: RunningSim,
    http: reqwest::Client,
}

async fn gateway(extra: &[(&'static str, &str)]) -> anyhow::Result<Gateway> {
    let loopback = "127.0.0.1:0".parse()?;
    let tg = sim::start(Platform::TradingGrid, loopback, SimOptions::default()).await?;
    let cc = sim::start(Platform::CoreCase, loopback, SimOptions::default()).await?;
    let mut vars: HashMap<&str, String> = HashMap::from([
        ("GRIDCASE_LISTEN", "127.0.0.1:0".to_owned()),
        ("GRIDCASE_TRADING_GRID_URL", tg.base_url()),
        ("GRIDCASE_CORE_CASE_URL", cc.base_url()),
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
    ]);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let config = Settings::load(None, &|k| vars.get(k).cloned())?.resolve(false)?;
    let app = App::build(config).await?;
    let url = format!("http://{}", app.addr());
    tokio::spawn(app.run(std::future::pending()));
    Ok(Gateway {
        url,
        tg,
        cc,
        http: reqwest::Client::new(),
    })
}

fn token(role: Role, partner: Option<&str>) -> anyhow::Result<String> {
    Ok(gridcase::auth::sign(
        &Secret::new(SECRET),
        role,
        partner,
        "measure",
        Duration::from_secs(3600),
        None,
        None,
    )?)
}

impl Gateway {
    /// `(HTTP status, answered without errors)`.
    async fn ask(&self, token: &str, query: &str) -> anyhow::Result<(u16, bool)> {
        let resp = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(token)
            .json(&json!({ "query": query }))
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await?;
        Ok((status, status == 200 && body.get("errors").is_none()))
    }

    async fn sim_calls(&self, p: Platform) -> anyhow::Result<u64> {
        let base = match p {
            Platform::TradingGrid => self.tg.base_url(),
            Platform::CoreCase => self.cc.base_url(),
        };
        let v: Value = self
            .http
            .get(format!("{base}/__sim/stats"))
            .send()
            .await?
            .json()
            .await?;
        Ok(v["total"].as_u64().unwrap_or(0))
    }

    async fn faults(&self, p: Platform, faults: Value) -> anyhow::Result<()> {
        let base = match p {
            Platform::TradingGrid => self.tg.base_url(),
            Platform::CoreCase => self.cc.base_url(),
        };
        self.http
            .put(format!("{base}/__sim/faults"))
            .json(&faults)
            .send()
            .await?
            .error_for_status()?;
        Ok(())
    }

    /// Sum of a metric over both platforms.
    async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

async fn outage(label: &str, extra: &[(&'static str, &str)], runs: usize) -> anyhow::Result<()> {
    let g = gateway(extra).await?;
    let agent = token(Role::Agent, None)?;
    g.ask(&agent, DASHBOARD).await?; // warm: pools and platform tokens
    let before = g.sim_calls(Platform::TradingGrid).await?;
    g.faults(Platform::TradingGrid, json!({ "error_rate": 1.0 }))
        .await?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        g.ask(&agent, DASHBOARD).await?;
        times.push(start.elapsed());
    }
    times.sort();
    let seen = g.sim_calls(Platform::TradingGrid).await? - before;
    println!(
        "| {label} | {runs} | {seen} | {:.2} | {:.1} ms |",
        seen as f64 / runs as f64,
        ms(pct(&times, 0.5))
    );
    Ok(())
}

async fn errors30(
    label: &str,
    extra: &[(&'static str, &str)],
    runs: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let g = std::sync::Arc::new(gateway(extra).await?);
    let agent = token(Role::Agent, None)?;
    g.ask(&agent, DASHBOARD).await?;
    let calls0 = g.metric("gridcase_upstream_calls_total").await?;
    let retries0 = g.metric("gridcase_upstream_retries_total").await?;
    let refused0 = g.metric("gridcase_upstream_refused_total").await?;
    for p in [Platform::TradingGrid, Platform::CoreCase] {
        g.faults(p, json!({ "error_rate": 0.3 })).await?;
    }
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers = (0..concurrency).map(|_| {
        let (g, agent, next) = (g.clone(), agent.clone(), next.clone());
        tokio::spawn(async move {
            let mut full = 0usize;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < runs {
                if g.ask(&agent, DASHBOARD).await?.1 {
                    full += 1;
                }
            }
            Ok::<_, anyhow::Error>(full)
        })
    });
    let mut full = 0;
    for w in futures::future::join_all(workers).await {
        full += w??;
    }
    let calls = g.metric("gridcase_upstream_calls_total").await? - calls0;
    let retries = g.metric("gridcase_upstream_retries_total").await? - retries0;
    let refused = g.metric("gridcase_upstream_refused_total").await? - refused0;
    println!(
        "| {label} | {runs} × {concurrency} | {full}/{runs} ({:.0} %) | {calls:.0} | {retries:.0} ({:.0} %) | {refused:.0} |",
        100.0 * full as f64 / runs as f64,
        100.0 * retries / calls.max(1.0),
    );
    Ok(())
}

async fn flood(label: &str, extra: &[(&'static str, &str)]) -> anyhow::Result<()> {
    let g = std::sync::Arc::new(gateway(extra).await?);
    let (a, b) = (
        token(Role::Partner, Some("TP-0001"))?,
        token(Role::Partner, Some("TP-0002"))?,
    );
    g.ask(&b, SMALL).await?;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooders: Vec<_> = (0..16)
        .map(|_| {
            let (g, a, stop) = (g.clone(), a.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut limited) = (0u64, 0u64);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    match g.ask(&a, SMALL).await {
                        Ok((429, _)) => limited += 1,
                        Ok(_) => ok += 1,
                        Err(_) => {}
                    }
                }
                (ok, limited)
            })
        })
        .collect();
    let (mut times, mut b_failed) = (Vec::new(), 0);
    for _ in 0..100 {
        let start = Instant::now();
        if !g.ask(&b, SMALL).await?.1 {
            b_failed += 1;
        }
        times.push(start.elapsed());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut a_ok, mut a_limited) = (0, 0);
    for f in flooders {
        let (ok, limited) = f.await?;
        a_ok += ok;
        a_limited += limited;
    }
    times.sort();
    println!(
        "| {label} | {a_ok} | {a_limited} | {:.1} ms | {:.1} ms | {b_failed}/100 |",
        ms(pct(&times, 0.5)),
        ms(pct(&times, 0.95))
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let only = std::env::args().nth(1);
    let run = |part: &str| only.as_deref().is_none_or(|o| o == part);
    if run("outage") {
        outages().await?;
    }
    if run("errors") {
        errors().await?;
    }
    if run("flood") {
        floods().await?;
    }
    Ok(())
}

async fn outages() -> anyhow::Result<()> {
    println!("## 100 % Trading Grid outage: 50 dashboard queries one after another\n");
    println!("| gateway | queries | calls Trading Grid saw | per query | p50 answer |");
    println!("|---|---|---|---|---|");
    let no_breaker = [("GRIDCASE_UPSTREAM_BREAKER_FAILURES", "1000000")];
    let unbounded = [
        ("GRIDCASE_UPSTREAM_BREAKER_FAILURES", "1000000"),
        ("GRIDCASE_UPSTREAM_RETRY_BUDGET_PERCENT", "100"),
        ("GRIDCASE_UPSTREAM_RETRY_BUDGET_MIN_PER_SECOND", "10000"),
    ];
    outage("no breaker, no retry budget", &unbounded, 50).await?;
    outage("retry budget only", &no_breaker, 50).await?;
    outage("breaker + retry budget (defaults)", &[], 50).await?;
    Ok(())
}

async fn errors() -> anyhow::Result<()> {
    println!("## 30 % errors on both platforms: dashboard queries\n");
    println!("| gateway | queries × concurrency | answered in full | calls | retries (of calls) | calls/retries refused |");
    println!("|---|---|---|---|---|---|");
    errors30("defaults (2 retries per call)", &[], 100, 1).await?;
    let ten = [("GRIDCASE_UPSTREAM_RETRIES", "10")];
    errors30("10 retries per call", &ten, 100, 1).await?;
    let ratio_only = [
        ("GRIDCASE_UPSTREAM_RETRIES", "10"),
        ("GRIDCASE_UPSTREAM_RETRY_BUDGET_MIN_PER_SECOND", "0"),
    ];
    errors30("10 retries, budget without reserve", &ratio_only, 400, 16).await?;
    Ok(())
}

async fn floods() -> anyhow::Result<()> {
    println!("## Partner TP-0001 floods (16 concurrent small queries) while TP-0002 asks 100 of the same\n");
    println!("| rate limits | flooder served | flooder refused (429) | TP-0002 p50 | TP-0002 p95 | TP-0002 failed |");
    println!("|---|---|---|---|---|---|");
    flood("off", &[("GRIDCASE_RATE_LIMIT_ENABLED", "false")]).await?;
    flood("on (defaults: 20/s, burst 40 per partner)", &[]).await?;
    Ok(())
}
