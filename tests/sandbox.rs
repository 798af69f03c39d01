//! The README's first command: `gridcase serve` with nothing configured starts both
//! simulators, prints GraphiQL's URL and tokens, and the dashboard query answers
//! with the printed partner token. Runs the real binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_sandbox_prints_working_tokens_and_answers_the_dashboard() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("GRIDCASE_TRADING_GRID_URL")
        .env_remove("GRIDCASE_CORE_CASE_URL")
        .env_remove("GRIDCASE_REDIS_URL")
        .env("GRIDCASE_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the gridcase binary starts");
    let stderr = child.stderr.take().unwrap();
    let _guard = Kill(child);

    // Read what it prints until both tokens are there.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut url, mut partner, mut agent) = (None, None, None);
    let deadline = Instant::now() + Duration::from_secs(30);
    while partner.is_none() || agent.is_none() || url.is_none() {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the sandbox prints its URL and tokens");
        let last = line.split_whitespace().last().map(str::to_owned);
        if line.starts_with("GraphiQL:") {
            url = last;
        } else if line.starts_with("partner token") {
            partner = last;
        } else if line.starts_with("agent token") {
            agent = last;
        }
    }
    let url = url.unwrap();
    let http = reqwest::Client::new();

    let page = http
        .get(&url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "GraphiQL is served");

    let readme = include_str!("../README.md");
    let dashboard = readme
        .split("```graphql\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("the README's dashboard query");
    // GraphiQL opens ready to run the dashboard as the sample agent, and links to
    // the portal, which offers the sample partner's token.
    let page = page.text().await.unwrap();
    assert!(page.contains(&serde_json::to_string(dashboard).unwrap()));
    assert!(page.contains(&format!("Bearer {}", agent.as_deref().unwrap())));
    assert!(page.contains("/portal#sample-partner"));
    let sample: Value = http
        .get(url.replace("/graphql", "/portal/sandbox.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sample["partnerId"], "TP-0001");
    let answer: Value = http
        .post(&url)
        .bearer_auth(partner.unwrap())
        .json(&json!({ "query": dashboard }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer:#}");
    let issues = answer["data"]["partnerIssues"]["edges"].as_array().unwrap();
    assert!(!issues.is_empty());
    assert!(issues
        .iter()
        .all(|e| e["node"]["partner"]["id"] == "TP-0001"));
    assert!(issues
        .iter()
        .any(|e| e["node"]["case"]["milestone"].is_string()));

    let me: Value = http
        .post(&url)
        .bearer_auth(agent.unwrap())
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["me"]["role"], "AGENT");
}

#[tokio::test]
async fn gridcase_token_signs_with_the_configured_secret() {
    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args([
            "token",
            "--role",
            "partner",
            "--partner",
            "TP-0007",
            "--ttl",
            "10m",
        ])
        .env(
            "GRIDCASE_JWT_SECRET",
            "a-secret-for-this-test-of-32-characters",
        )
        .output()
        .unwrap();
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap();
    let config = gridcase::config::AuthConfig::with_secret(gridcase::config::Secret::new(
        "a-secret-for-this-test-of-32-characters",
    ));
    let principal = gridcase::auth::JwtVerifier::from_config(&config)
        .await
        .unwrap()
        .verify(token.trim())
        .await
        .expect("the printed token verifies")
        .principal;
    assert_eq!(principal.partner().map(|p| p.as_str()), Some("TP-0007"));

    let refused = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args(["token", "--role", "partner"])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a partner token needs --partner");
}

#[tokio::test]
async fn gridcase_token_signs_with_a_private_key_as_an_identity_provider_would() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
    let out = Command::new(env!("CARGO_BIN_EXE_gridcase"))
        .args([
            "token",
            "--role",
            "agent",
            "--kid",
            "key-a",
            "--private-key",
        ])
        .arg(format!("{fixtures}/rsa-a.key.pem"))
        .env_remove("GRIDCASE_JWT_SECRET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    let header = jsonwebtoken::decode_header(token.trim()).unwrap();
    assert_eq!(header.kid.as_deref(), Some("key-a"));
    let config = gridcase::config::AuthConfig {
        keys: gridcase::config::KeySource::PublicKey(
            std::fs::read_to_string(format!("{fixtures}/rsa-a.pub.pem")).unwrap(),
        ),
        algorithms: vec![jsonwebtoken::Algorithm::RS256],
        ..gridcase::config::AuthConfig::with_secret(gridcase::config::Secret::new(""))
    };
    let verified = gridcase::auth::JwtVerifier::from_config(&config)
        .await
        .unwrap()
        .verify(token.trim())
        .await
        .expect("the printed token verifies with the public key");
    assert_eq!(verified.principal.role(), gridcase::auth::Role::Agent);
}
