//! `spawn_app()`: both simulators and a gateway on random ports, plus typed helpers.
//!
//! Tests wait on facts, never on the clock: [`within`] (and [`eventually`]) poll a
//! condition until a deadline, [`TestApp::quiet`] waits until nothing more can
//! happen on its own, [`subscribed`] until a subscription is registered.

use std::collections::HashMap;
use std::time::Duration;

use gridcase::auth::Role;
use gridcase::config::{Secret, Settings};
use gridcase::sim::{self, Platform, RunningSim, SimOptions};
use gridcase::App;
use serde_json::{json, Value};

pub const SECRET: &str = "test-secret-for-the-gridcase-suite-0123456789";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret-0123456789";

pub struct TestApp {
    pub url: String,
    pub tg: RunningSim,
    pub cc: RunningSim,
    pub http: reqwest::Client,
    pub shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    /// The gateway's serving task, done once it has stopped its background work.
    pub done: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Both simulators (seed 42, scale 1) and a gateway pointed at them, with the
/// simulators' webhooks delivered to the gateway.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Like [`spawn_app`], with extra `GRIDCASE_*` settings.
pub async fn spawn_app_with(extra: &[(&'static str, String)]) -> TestApp {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let tg = sim::start(Platform::TradingGrid, loopback, SimOptions::default())
        .await
        .expect("trading grid simulator starts");
    let cc = sim::start(Platform::CoreCase, loopback, SimOptions::default())
        .await
        .expect("core case simulator starts");
    let gw = run_gateway(&tg.base_url(), &cc.base_url(), extra).await;
    let app = TestApp {
        url: gw.url,
        tg,
        cc,
        http: reqwest::Client::new(),
        shutdown: Some(gw.stop),
        done: Some(gw.done),
    };
    app.route_webhooks_to(&app.url).await;
    app
}

/// A gateway on the given simulators; returns its URL and its stop switch.
pub async fn start_gateway(
    tg: &str,
    cc: &str,
    extra: &[(&'static str, String)],
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let gw = run_gateway(tg, cc, extra).await;
    (gw.url, gw.stop)
}

/// A running gateway whose end can be awaited.
pub struct RunningGateway {
    pub url: String,
    pub stop: tokio::sync::oneshot::Sender<()>,
    pub done: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A gateway over the simulators at `tg` and `cc`, configured as every test's is
/// (plus `extra`), built but not yet serving; its start-up error if it refuses.
pub async fn build_gateway(
    tg: &str,
    cc: &str,
    extra: &[(&'static str, String)],
) -> anyhow::Result<App> {
    let mut vars: HashMap<&str, String> = HashMap::from([
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
        ("GRIDCASE_WEBHOOK_SECRET", WEBHOOK_SECRET.to_owned()),
        // Failing upstreams should fail fast in tests.
        ("GRIDCASE_UPSTREAM_RETRIES", "1".to_owned()),
        // No background intake unless a test asks: upstream call counts stay exact.
        ("GRIDCASE_POLL_INTERVAL_MS", "0".to_owned()),
        ("GRIDCASE_RECONCILE_INTERVAL_MS", "0".to_owned()),
        // Tests ask as fast as the machine allows; the rate-limit tests turn
        // limiting on with budgets of their own.
        ("GRIDCASE_RATE_LIMIT_ENABLED", "false".to_owned()),
    ]);
    vars.extend(extra.iter().cloned());
    let config = Settings::load(None, &|k| vars.get(k).cloned())?.resolve(false)?;
    App::build(config).await
}

pub async fn run_gateway(tg: &str, cc: &str, extra: &[(&'static str, String)]) -> RunningGateway {
    let app = build_gateway(tg, cc, extra).await.expect("gateway starts");
    let url = format!("http://{}", app.addr());
    let (stop, rx) = tokio::sync::oneshot::channel();
    let done = tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    RunningGateway { url, stop, done }
}

pub fn token_for(role: Role, partner: Option<&str>) -> String {
    gridcase::auth::sign(
        &Secret::new(SECRET),
        role,
        partner,
        "test",
        Duration::from_secs(600),
        None,
        None,
    )
    .unwrap()
}

pub fn agent() -> String {
    token_for(Role::Agent, None)
}

pub fn partner(id: &str) -> String {
    token_for(Role::Partner, Some(id))
}

impl TestApp {
    /// POST a query; returns the whole response body (data + errors).
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/graphql", self.url))
            .bearer_auth(token)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GraphQL answered {}", resp.status());
        resp.json().await.unwrap()
    }

    /// POST a query that must succeed without errors; returns `data`.
    pub async fn data(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.graphql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    pub fn sim(&self, platform: Platform) -> &RunningSim {
        match platform {
            Platform::TradingGrid => &self.tg,
            Platform::CoreCase => &self.cc,
        }
    }

    /// Requests per route the simulator saw since the last reset.
    #[allow(dead_code)] // used by tests/budget.rs, which shares this file
    pub async fn upstream_calls(&self, platform: Platform) -> (u64, Value) {
        let stats: Value = self
            .http
            .get(format!("{}/__sim/stats", self.sim(platform).base_url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (stats["total"].as_u64().unwrap(), stats["routes"].clone())
    }

    #[allow(dead_code)] // used by tests/budget.rs
    pub async fn reset_upstream_calls(&self) {
        for p in [Platform::TradingGrid, Platform::CoreCase] {
            let resp = self
                .http
                .post(format!("{}/__sim/stats/reset", self.sim(p).base_url()))
                .send()
                .await
                .unwrap();
            assert!(resp.status().is_success());
        }
    }

    /// Stop the gateway and wait until it has: requests drained, outbox worker
    /// and pollers stopped.
    pub async fn stop_gateway(&mut self) {
        if let Some(stop) = self.shutdown.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            tokio::time::timeout(Duration::from_secs(20), done)
                .await
                .expect("the gateway stops within its shutdown deadline")
                .expect("the gateway task ends without panicking")
                .expect("the gateway serves until told to stop");
        }
    }

    pub async fn set_faults(&self, platform: Platform, faults: Value) {
        let resp = self
            .http
            .put(format!("{}/__sim/faults", self.sim(platform).base_url()))
            .json(&faults)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "faults: {}", resp.status());
    }
}

impl TestApp {
    /// A counter or gauge from the gateway's `/metrics` (summed over label sets
    /// matching `labels`).
    pub async fn metric(&self, name: &str, labels: &str) -> f64 {
        metric(&self.http, &self.url, name, labels).await
    }
}

/// A counter or gauge from `/metrics` of the gateway at `gateway` (summed over
/// label sets matching `labels`).
pub async fn metric(http: &reqwest::Client, gateway: &str, name: &str, labels: &str) -> f64 {
    let text = http
        .get(format!("{gateway}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    sum_of(&text, name, labels)
}

fn sum_of(metrics: &str, name: &str, labels: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.split(['{', ' ']).next() == Some(name) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Whether the gateway at `gateway` is handling no webhook, running no outbox
/// pass and has no outbox step due (one scrape: the due steps are read before
/// the passes, so a step claimed in between is counted as running).
async fn gateway_quiet(http: &reqwest::Client, gateway: &str) -> bool {
    let Ok(resp) = http.get(format!("{gateway}/metrics")).send().await else {
        return false;
    };
    let Ok(text) = resp.text().await else {
        return false;
    };
    text.contains("# TYPE gridcase_outbox_due gauge")
        && [
            "gridcase_webhooks_in_flight",
            "gridcase_workflow_runs_in_flight",
            "gridcase_outbox_due",
        ]
        .iter()
        .all(|g| sum_of(&text, g, "") == 0.0)
}

/// Wait until the gateway at `gateway` has `n` milestone subscriptions
/// registered: whatever is published from then on reaches them.
pub async fn subscribed(http: &reqwest::Client, gateway: &str, n: usize) {
    eventually("the subscription is registered", || async {
        (metric(http, gateway, "gridcase_subscriptions_active", "").await >= n as f64).then_some(())
    })
    .await;
}

async fn get_json(http: &reqwest::Client, url: &str) -> Option<Value> {
    http.get(url).send().await.ok()?.json().await.ok()
}

impl TestApp {
    /// Point both simulators' webhooks at a gateway.
    pub async fn route_webhooks_to(&self, gateway: &str) {
        for (p, path) in [
            (Platform::TradingGrid, "trading-grid"),
            (Platform::CoreCase, "core-case"),
        ] {
            let resp = self
                .http
                .put(format!("{}/__sim/webhook", self.sim(p).base_url()))
                .json(&json!({ "url": format!("{gateway}/webhooks/{path}"), "secret": WEBHOOK_SECRET }))
                .send()
                .await
                .unwrap();
            assert!(
                resp.status().is_success(),
                "webhook target: {}",
                resp.status()
            );
        }
    }

    /// Act as a person on a platform would (`/__sim/scenarios/{name}`).
    pub async fn scenario(&self, platform: Platform, name: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!(
                "{}/__sim/scenarios/{name}",
                self.sim(platform).base_url()
            ))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert!(status.is_success(), "scenario {name}: {status} {body}");
        body
    }

    /// Read a platform's API directly (as the platform sees things), with a dev token.
    pub async fn upstream(&self, platform: Platform, path_and_query: &str) -> Value {
        let base = self.sim(platform).base_url();
        let token_path = match platform {
            Platform::TradingGrid => "/oauth2/token",
            Platform::CoreCase => "/oauth/token",
        };
        let token: Value = self
            .http
            .post(format!("{base}{token_path}"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", sim::DEV_CLIENT_ID),
                ("client_secret", sim::DEV_CLIENT_SECRET),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let resp = self
            .http
            .get(format!("{base}{path_and_query}"))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert!(
            resp.status().is_success(),
            "{path_and_query}: {}",
            resp.status()
        );
        resp.json().await.unwrap()
    }

    /// Wait until both simulators have delivered every webhook they queued.
    /// Delivered means answered: the gateway has handled them.
    pub async fn webhooks_settled(&self) {
        eventually("webhooks delivered", || async {
            self.webhooks_delivered().await.then_some(())
        })
        .await;
    }

    /// Whether neither simulator has a webhook waiting to be delivered.
    async fn webhooks_delivered(&self) -> bool {
        for p in [Platform::TradingGrid, Platform::CoreCase] {
            let url = format!("{}/__sim/webhook", self.sim(p).base_url());
            let Some(s) = get_json(&self.http, &url).await else {
                return false;
            };
            if s["pending"] != 0 {
                return false;
            }
        }
        true
    }

    /// Wait until nothing more can happen on its own: both simulators have
    /// delivered every webhook they queued, and the gateway is handling none,
    /// running no outbox pass and has no step due. Then a test may assert that
    /// something did *not* happen, or happened exactly once.
    pub async fn quiet(&self) {
        eventually("the simulators and the gateway are quiet", || async {
            // The simulators again after the gateway: what the gateway did last
            // (a post, a case update) may have queued another webhook.
            (self.webhooks_delivered().await
                && gateway_quiet(&self.http, &self.url).await
                && self.webhooks_delivered().await)
                .then_some(())
        })
        .await;
    }

    /// Every community message of a discussion, as Trading Grid has them.
    pub async fn community_messages(&self, discussion: &str) -> Vec<Value> {
        let page = self
            .upstream(
                Platform::TradingGrid,
                &format!("/v1/discussions/{discussion}/messages?limit=100"),
            )
            .await;
        page["items"].as_array().unwrap().clone()
    }
}

/// Convergence: webhooks on and off, signed deliveries, the gateway's counters.
#[allow(dead_code)] // used by tests/api/converge.rs only
impl TestApp {
    /// Stop a simulator's webhooks (a platform whose deliveries are lost).
    pub async fn stop_webhooks(&self, platform: Platform) {
        let resp = self
            .http
            .put(format!("{}/__sim/webhook", self.sim(platform).base_url()))
            .json(&json!({ "url": null }))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }

    /// Deliver `event` (a platform event as JSON) to the gateway, signed as the
    /// platform signs it; returns the HTTP status.
    pub async fn deliver(&self, path: &str, event: &Value) -> u16 {
        use hmac::Mac;
        let body = event.to_string();
        let ts = chrono::Utc::now().timestamp();
        let mut mac =
            hmac::Hmac::<sha2::Sha256>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
        mac.update(format!("{ts}.{body}").as_bytes());
        let sig = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        self.http
            .post(format!("{}/webhooks/{path}", self.url))
            .header("webhook-id", event["id"].as_str().unwrap())
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Wait until the reconciler has completed a whole sweep that started after
    /// this call (two completions: the one running may have started before).
    pub async fn one_full_sweep(&self) {
        let done = r#"result="done""#;
        let start = self.metric("gridcase_reconcile_sweeps_total", done).await;
        eventually("a full reconciler sweep", || async {
            (self.metric("gridcase_reconcile_sweeps_total", done).await >= start + 2.0)
                .then_some(())
        })
        .await;
    }
}

/// How often [`within`] looks again.
const POLL_EVERY: Duration = Duration::from_millis(50);

/// Ask `check` until it returns `Some`, every [`POLL_EVERY`], for at most
/// `deadline`; `None` when it never did. The one polling loop of the tests: the
/// interval is how often a fact is looked at, never a time waited for it to happen.
pub async fn within<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let give_up = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return Some(v);
        }
        if tokio::time::Instant::now() >= give_up {
            return None;
        }
        // The polling interval: how often the fact is looked at again.
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// [`within`] 15 s, failing the test with `what` when `check` never returns
/// `Some`: for effects that arrive by webhook or from the outbox.
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    within(Duration::from_secs(15), check)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for: {what}"))
}

/// Error codes of a GraphQL response, in order.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errs| {
            errs.iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// `edges[].node` of a connection.
pub fn nodes(connection: &Value) -> Vec<Value> {
    connection["edges"]
        .as_array()
        .expect("a connection")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// The README's dashboard query, exactly.
pub const DASHBOARD: &str = r#"query Dashboard { partnerIssues(first: 50) { edges { node {
  id title kind partner { id name }
  documents { id name kind sha256 }
  transactions { id documentType status }
  case { id number milestone evidence { id name } resolution { summary } }
} } } }"#;

/// A Redis for tests: the crate's own launcher (`GRIDCASE_TEST_REDIS_URL`, or a
/// `redis-server` of the test's own on a free port, stopped when dropped).
#[allow(unused_imports)] // not every test binary sharing this file uses Redis
pub use gridcase::test_redis::{test_redis, TestRedis};

/// Send `cmd` to the Redis at `url` on a connection of its own.
pub async fn redis_query<T: redis::FromRedisValue>(url: &str, cmd: &redis::Cmd) -> T {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    cmd.query_async(&mut conn).await.unwrap()
}
