//! Measures how fast the gateway converges under faults, with a real
//! `redis-server` (started here on a free port): how long a mutation takes to
//! answer `RETRY_LATER` once Redis is gone, and how long a step held by a replica
//! that died waits before another replica runs it.
//!
//! `cargo run --release --example measure_convergence [-- RUNS]`

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gridcase::auth::Role;
use gridcase::config::{Secret, Settings};
use gridcase::sim::{self, Platform, SimOptions};
use gridcase::store::{OutboxEntry, RedisStore, StepState, Store};
use gridcase::App;
use serde_json::{json, Value};

const SECRET: &str = "measurement-secret-measurement-secret";

fn redis_server() -> anyhow::Result<(std::process::Child, String)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir = std::env::temp_dir().join(format!("gridcase-measure-redis-{port}"));
    std::fs::create_dir_all(&dir)?;
    let child = std::process::Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .spawn()?;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((child, format!("redis://127.0.0.1:{port}")))
}

async fn gateway(tg: &str, cc: &str, redis: &str, ns: &str) -> anyhow::Result<String> {
    let vars: HashMap<&str, String> = HashMap::from([
        ("GRIDCASE_LISTEN", "127.0.0.1:0".to_owned()),
        ("GRIDCASE_TRADING_GRID_URL", tg.to_owned()),
        ("GRIDCASE_CORE_CASE_URL", cc.to_owned()),
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
        ("GRIDCASE_REDIS_URL", redis.to_owned()),
        ("GRIDCASE_REDIS_NAMESPACE", ns.to_owned()),
        ("GRIDCASE_POLL_INTERVAL_MS", "0".to_owned()),
        ("GRIDCASE_RECONCILE_INTERVAL_MS", "0".to_owned()),
    ]);
    let config = Settings::load(None, &|k| vars.get(k).cloned())?.resolve(false)?;
    let app = App::build(config).await?;
    let url = format!("http://{}", app.addr());
    tokio::spawn(app.run(std::future::pending()));
    Ok(url)
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);
    let loopback = "127.0.0.1:0".parse()?;
    let tg = sim::start(Platform::TradingGrid, loopback, SimOptions::default()).await?;
    let cc = sim::start(Platform::CoreCase, loopback, SimOptions::default()).await?;
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

    // 1. A dead replica's step: claimed with the step lease, never finished.
    let mut takeover = vec![];
    for run in 0..runs {
        let (mut redis, url) = redis_server()?;
        let ns = format!("measure-{run}");
        let gw = gateway(&tg.base_url(), &cc.base_url(), &url, &ns).await?;
        let replica = RedisStore::connect(&url, &ns).await?;
        let marker = format!("Taken over, run {run}.");
        // Due in a second, so this replica (not the gateway's worker) claims it.
        let due = chrono::Utc::now() + chrono::Duration::seconds(1);
        replica
            .outbox_push(OutboxEntry {
                id: format!("status:measure-{run}/message"),
                case_id: "CASE-MEASURE".into(),
                step: json!({ "kind": "post_message", "discussion_id": "DSC-000001", "body": marker }),
                actor: "agent:measure".into(),
                attempts: 0,
                next_at: due,
                last_error: None,
                workflow: format!("status:measure-{run}"),
                order: 0,
                state: StepState::Pending,
            })
            .await?;
        // Claimed as a replica's worker claims it when due; the replica dies then.
        let claimed = replica
            .outbox_claim_due(due, 1, Duration::from_secs(6))
            .await?;
        anyhow::ensure!(claimed.len() == 1, "the replica holds the step");
        let wait = (due - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
        let died = Instant::now();
        loop {
            let messages: Value = http
                .post(format!("{gw}/graphql"))
                .bearer_auth(&token)
                .json(&json!({ "query": r#"{ partnerIssue(id: "DSC-000001") { messages { body } } }"# }))
                .send()
                .await?
                .json()
                .await?;
            if messages.to_string().contains(&marker) {
                break;
            }
            anyhow::ensure!(died.elapsed() < Duration::from_secs(60), "never taken over");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        takeover.push(died.elapsed().as_secs_f64());
        let _ = redis.kill();
        let _ = redis.wait();
    }

    // 2. Redis gone: how long a mutation takes to say RETRY_LATER.
    let (mut redis, url) = redis_server()?;
    let gw = gateway(&tg.base_url(), &cc.base_url(), &url, "measure-down").await?;
    redis.kill()?;
    redis.wait()?;
    let mut refusals = vec![];
    for _ in 0..runs * 4 {
        let started = Instant::now();
        let resp = http
            .post(format!("{gw}/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": r#"mutation { escalate(input: { issueId: "DSC-000001" }) { created } }"# }))
            .send()
            .await?;
        let retry_after = resp.headers().contains_key("retry-after");
        let body: Value = resp.json().await?;
        anyhow::ensure!(
            retry_after && body.to_string().contains("RETRY_LATER"),
            "not refused: {body}"
        );
        refusals.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    println!(
        "dead replica's step taken over after: p50 {:.1} s, max {:.1} s ({} runs; lease 6 s)",
        percentile(takeover.clone(), 0.5),
        percentile(takeover.clone(), 1.0),
        takeover.len()
    );
    println!(
        "mutation with Redis down answers RETRY_LATER in: p50 {:.0} ms, max {:.0} ms ({} calls)",
        percentile(refusals.clone(), 0.5),
        percentile(refusals.clone(), 1.0),
        refusals.len()
    );
    Ok(())
}
