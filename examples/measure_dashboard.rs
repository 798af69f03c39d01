//! Measures the portal dashboard query: upstream calls per query, and latency with
//! simulated upstream latency, which shows how many sequential round trips the
//! gateway needs (and that both platforms are called concurrently).
//!
//! `cargo run --release --example measure_dashboard [-- LATENCY_MS RUNS [CLIENTS [CACHE]]]`
//!
//! CLIENTS concurrent clients each run the query RUNS times (default 1); CACHE is
//! `off` (default: every query reaches the platforms) or `memory` (after the
//! warm-up every query is answered from the entity cache).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gridcase::auth::Role;
use gridcase::config::{Secret, Settings};
use gridcase::sim::{self, Platform, SimOptions};
use gridcase::App;
use serde_json::{json, Value};

const DASHBOARD: &str = r#"query Dashboard { partnerIssues(first: 50) { edges { node {
  id title kind partner { id name }
  documents { id name kind sha256 }
  transactions { id documentType status }
  case { id number milestone evidence { id name } resolution { summary } }
} } } }"#;

const SECRET: &str = "measurement-secret-measurement-secret";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let latency_ms: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(25);
    let runs: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(40);
    let clients: usize = args.get(3).and_then(|a| a.parse().ok()).unwrap_or(1);
    let cache = args.get(4).cloned().unwrap_or_else(|| "off".to_owned());

    let opts = SimOptions {
        latency_ms,
        ..SimOptions::default()
    };
    let loopback = "127.0.0.1:0".parse()?;
    let tg = sim::start(Platform::TradingGrid, loopback, opts.clone()).await?;
    let cc = sim::start(Platform::CoreCase, loopback, opts).await?;
    let vars: HashMap<&str, String> = HashMap::from([
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
        ("GRIDCASE_CACHE", cache.clone()),
    ]);
    let config = Settings::load(None, &|k| vars.get(k).cloned())?.resolve(false)?;
    let app = App::build(config).await?;
    let url = format!("http://{}/graphql", app.addr());
    tokio::spawn(app.run(std::future::pending()));

    let http = reqwest::Client::new();
    let token = gridcase::auth::sign(
        &Secret::new(SECRET),
        Role::Agent,
        None,
        "measure",
        Duration::from_secs(600),
        None,
        None,
    )?;
    let query = |http: reqwest::Client, url: String, token: String| async move {
        let body: Value = http
            .post(url)
            .bearer_auth(token)
            .json(&json!({ "query": DASHBOARD }))
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(body.get("errors").is_none(), "errors: {body}");
        Ok::<_, anyhow::Error>(body)
    };
    let stats = |base: String| {
        let http = http.clone();
        async move {
            let v: Value = http
                .get(format!("{base}/__sim/stats"))
                .send()
                .await?
                .json()
                .await?;
            Ok::<_, anyhow::Error>(v["total"].as_u64().unwrap_or(0))
        }
    };
    let reset = |base: String| {
        let http = http.clone();
        async move {
            http.post(format!("{base}/__sim/stats/reset"))
                .send()
                .await?;
            Ok::<_, anyhow::Error>(())
        }
    };

    // Warm up: connection pools and the OAuth2 tokens.
    for _ in 0..3 {
        query(http.clone(), url.clone(), token.clone()).await?;
    }
    reset(tg.base_url()).await?;
    reset(cc.base_url()).await?;

    let mut times = Vec::with_capacity(runs * clients);
    let wall = Instant::now();
    let per_client = (0..clients).map(|_| {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        async move {
            let mut times = Vec::with_capacity(runs);
            for _ in 0..runs {
                let start = Instant::now();
                query(http.clone(), url.clone(), token.clone()).await?;
                times.push(start.elapsed());
            }
            Ok::<_, anyhow::Error>(times)
        }
    });
    for t in futures::future::join_all(per_client).await {
        times.extend(t?);
    }
    let wall = wall.elapsed();
    let tg_calls = stats(tg.base_url()).await?;
    let cc_calls = stats(cc.base_url()).await?;
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    let queries = (runs * clients) as f64;
    let per_query = (tg_calls + cc_calls) as f64 / queries;
    println!(
        "dashboard query (50 issues), {clients} concurrent clients x {runs} runs, cache {cache}, simulated upstream latency {latency_ms} ms"
    );
    println!(
        "upstream calls per query: {per_query:.2} (Trading Grid {:.2}, Core Case {:.2})",
        tg_calls as f64 / queries,
        cc_calls as f64 / queries
    );
    println!("throughput: {:.0} queries/s", queries / wall.as_secs_f64());
    println!(
        "latency: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.95).as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    if latency_ms > 0 {
        println!(
            "sequential round trips implied by p50: {:.1} (calls one after another would be {per_query:.0})",
            pct(0.50).as_secs_f64() * 1e3 / latency_ms as f64
        );
    }
    Ok(())
}
