//! `spawn_app()`: both simulators and a gateway on random ports, plus typed helpers.

use std::collections::HashMap;
use std::time::Duration;

use gridcase::auth::Role;
use gridcase::config::{Secret, Settings};
use gridcase::sim::{self, Platform, RunningSim, SimOptions};
use gridcase::App;
use serde_json::{json, Value};

pub const SECRET: &str = "test-secret-for-the-gridcase-suite-0123456789";

pub struct TestApp {
    pub url: String,
    pub tg: RunningSim,
    pub cc: RunningSim,
    pub http: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Both simulators (seed 42, scale 1) and a gateway pointed at them.
pub async fn spawn_app() -> TestApp {
    let loopback = "127.0.0.1:0".parse().unwrap();
    let tg = sim::start(Platform::TradingGrid, loopback, SimOptions::default())
        .await
        .expect("trading grid simulator starts");
    let cc = sim::start(Platform::CoreCase, loopback, SimOptions::default())
        .await
        .expect("core case simulator starts");
    let vars: HashMap<&str, String> = HashMap::from([
        ("GRIDCASE_LISTEN", "127.0.0.1:0".to_owned()),
        ("GRIDCASE_TRADING_GRID_URL", tg.base_url()),
        ("GRIDCASE_CORE_CASE_URL", cc.base_url()),
        ("GRIDCASE_JWT_SECRET", SECRET.to_owned()),
        // Failing upstreams should fail fast in tests.
        ("GRIDCASE_UPSTREAM_RETRIES", "1".to_owned()),
    ]);
    let config = Settings::load(None, &|k| vars.get(k).cloned())
        .unwrap()
        .resolve(false)
        .expect("test configuration is valid");
    let app = App::build(config).await.expect("gateway binds");
    let url = format!("http://{}", app.addr());
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(app.run(async {
        let _ = rx.await;
    }));
    TestApp {
        url,
        tg,
        cc,
        http: reqwest::Client::new(),
        shutdown: Some(tx),
    }
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

    fn sim(&self, platform: Platform) -> &RunningSim {
        match platform {
            Platform::TradingGrid => &self.tg,
            Platform::CoreCase => &self.cc,
        }
    }

    /// Requests per route the simulator saw since the last reset.
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
