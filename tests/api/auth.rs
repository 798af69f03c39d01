//! Tokens from an identity provider: a gateway with a JWKS URL and no secret,
//! against a small key-set server in the test that can rotate keys, fail, stop,
//! and count how often it is asked. Also: idempotency keys belong to one caller.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use gridcase::auth::{sign_with_private_key, Claims, Role, JWKS_MIN_REFETCH};
use serde_json::{json, Value};

use crate::helpers::*;

const RSA_A_KEY: &str = include_str!("../fixtures/jwt/rsa-a.key.pem");
const RSA_B_KEY: &str = include_str!("../fixtures/jwt/rsa-b.key.pem");
const EC_KEY: &str = include_str!("../fixtures/jwt/ec-p256.key.pem");
const RSA_A_JWK: &str = include_str!("../fixtures/jwt/rsa-a.jwk.json");
const RSA_B_JWK: &str = include_str!("../fixtures/jwt/rsa-b.jwk.json");
const EC_JWK: &str = include_str!("../fixtures/jwt/ec-p256.jwk.json");

#[derive(Default)]
struct KeySetState {
    keys: Mutex<Vec<Value>>,
    failing: AtomicBool,
    hits: AtomicU64,
}

/// An identity provider's JWKS endpoint on a loopback port.
struct IdentityProvider {
    jwks_url: String,
    state: Arc<KeySetState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

async fn key_set(State(s): State<Arc<KeySetState>>) -> Response {
    s.hits.fetch_add(1, Ordering::SeqCst);
    if s.failing.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance").into_response();
    }
    let keys = s.keys.lock().unwrap().clone();
    Json(json!({ "keys": keys })).into_response()
}

impl IdentityProvider {
    async fn start(jwks: &[&str]) -> Self {
        let state = Arc::new(KeySetState::default());
        *state.keys.lock().unwrap() = jwks
            .iter()
            .map(|j| serde_json::from_str(j).unwrap())
            .collect();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = axum::Router::new()
            .route("/.well-known/jwks.json", axum::routing::get(key_set))
            .with_state(state.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        Self {
            jwks_url: format!("http://{addr}/.well-known/jwks.json"),
            state,
            stop: Some(stop),
            server: Some(server),
        }
    }

    fn add_key(&self, jwk: &str) {
        self.state
            .keys
            .lock()
            .unwrap()
            .push(serde_json::from_str(jwk).unwrap());
    }

    fn fail(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    fn hits(&self) -> u64 {
        self.state.hits.load(Ordering::SeqCst)
    }

    /// Stop answering at all (connections refused).
    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap();
        }
    }
}

/// A gateway that knows only the identity provider's key set (no secret).
async fn gateway_for(idp: &IdentityProvider, extra: &[(&'static str, String)]) -> TestApp {
    let mut settings = vec![
        ("GRIDCASE_JWT_SECRET", String::new()),
        ("GRIDCASE_JWKS_URL", idp.jwks_url.clone()),
    ];
    settings.extend_from_slice(extra);
    spawn_app_with(&settings).await
}

fn idp_token(private_key: &str, kid: &str, role: Role, partner: Option<&str>) -> String {
    let claims = Claims::new(
        role,
        partner,
        "idp-user",
        Duration::from_secs(600),
        None,
        None,
    );
    sign_with_private_key(private_key.as_bytes(), None, Some(kid), &claims).unwrap()
}

/// The status and body of `{ me { role partner { id } } }`.
async fn me(app: &TestApp, token: &str) -> (u16, Value) {
    let resp = app
        .http
        .post(format!("{}/graphql", app.url))
        .bearer_auth(token)
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn tokens_signed_with_a_key_of_the_identity_providers_set_are_accepted() {
    let idp = IdentityProvider::start(&[RSA_A_JWK, EC_JWK]).await;
    let app = gateway_for(&idp, &[]).await;

    let (status, body) = me(&app, &idp_token(RSA_A_KEY, "key-a", Role::Agent, None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["role"], "AGENT");
    let (status, body) = me(
        &app,
        &idp_token(EC_KEY, "key-ec", Role::Partner, Some("TP-0002")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["role"], "PARTNER");

    // Signed by another key while naming key-a; and the HMAC tokens of old.
    let (status, body) = me(&app, &idp_token(RSA_B_KEY, "key-a", Role::Admin, None)).await;
    assert_eq!(status, 401);
    assert_eq!(
        body["errors"][0]["message"], "the bearer token is invalid or expired",
        "no validation detail reaches the client"
    );
    assert_eq!(me(&app, &agent()).await.0, 401);
}

#[tokio::test]
async fn a_key_rotated_in_at_the_identity_provider_is_accepted_without_restart() {
    let idp = IdentityProvider::start(&[RSA_A_JWK]).await;
    let app = gateway_for(&idp, &[]).await;
    assert_eq!(idp.hits(), 1, "the key set is fetched at start");

    idp.add_key(RSA_B_JWK);
    let (status, body) = me(&app, &idp_token(RSA_B_KEY, "key-b", Role::Agent, None)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(idp.hits(), 2, "the unknown key id caused one refetch");
    assert_eq!(
        me(&app, &idp_token(RSA_A_KEY, "key-a", Role::Agent, None))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn when_the_key_set_answers_500_the_last_good_keys_keep_working() {
    let idp = IdentityProvider::start(&[RSA_A_JWK]).await;
    let app = gateway_for(&idp, &[]).await;
    let known = idp_token(RSA_A_KEY, "key-a", Role::Agent, None);
    assert_eq!(me(&app, &known).await.0, 200);

    idp.fail(true);
    let unknown = idp_token(RSA_B_KEY, "key-b", Role::Agent, None);
    assert_eq!(me(&app, &unknown).await.0, 401);
    assert_eq!(idp.hits(), 2, "the unknown key id was looked for");
    assert_eq!(me(&app, &known).await.0, 200);
}

#[tokio::test]
async fn failed_periodic_refreshes_keep_the_last_good_keys() {
    let idp = IdentityProvider::start(&[RSA_A_JWK]).await;
    let app = gateway_for(&idp, &[("GRIDCASE_JWKS_REFRESH_MS", "1000".into())]).await;
    let known = idp_token(RSA_A_KEY, "key-a", Role::Agent, None);
    assert_eq!(me(&app, &known).await.0, 200);

    idp.fail(true);
    // Spend the unknown-key refetch, so the new key below must come by refresh.
    let unknown = idp_token(RSA_B_KEY, "key-b", Role::Agent, None);
    assert_eq!(me(&app, &unknown).await.0, 401);
    let after = idp.hits();
    eventually("two failed periodic refreshes", || async {
        (idp.hits() >= after + 2).then_some(())
    })
    .await;
    assert_eq!(me(&app, &known).await.0, 200);

    // And a refresh that succeeds again brings new keys in by itself.
    idp.add_key(RSA_B_JWK);
    idp.fail(false);
    let healed = idp.hits();
    eventually("a successful periodic refresh", || async {
        (idp.hits() > healed).then_some(())
    })
    .await;
    eventually("the new key is accepted", || async {
        (me(&app, &unknown).await.0 == 200).then_some(())
    })
    .await;
}

#[tokio::test]
async fn when_the_identity_provider_is_down_the_last_good_keys_keep_working() {
    let mut idp = IdentityProvider::start(&[RSA_A_JWK]).await;
    let app = gateway_for(&idp, &[]).await;
    let known = idp_token(RSA_A_KEY, "key-a", Role::Agent, None);
    assert_eq!(me(&app, &known).await.0, 200);

    idp.shut_down().await;
    // An unknown key id makes the gateway try the (unreachable) key set.
    let unknown = idp_token(RSA_B_KEY, "key-b", Role::Agent, None);
    assert_eq!(me(&app, &unknown).await.0, 401);
    assert_eq!(me(&app, &known).await.0, 200);
}

#[tokio::test]
async fn a_burst_of_unknown_key_ids_refetches_the_key_set_at_most_once_per_window() {
    let idp = IdentityProvider::start(&[RSA_A_JWK]).await;
    let app = gateway_for(&idp, &[]).await;
    assert_eq!(idp.hits(), 1);
    let started = Instant::now();

    let concurrent = (0..30).map(|i| {
        let token = idp_token(RSA_B_KEY, &format!("made-up-{i}"), Role::Admin, None);
        let app = &app;
        async move { me(app, &token).await.0 }
    });
    let statuses = futures::future::join_all(concurrent).await;
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    for i in 30..60 {
        let token = idp_token(RSA_B_KEY, &format!("made-up-{i}"), Role::Admin, None);
        assert_eq!(me(&app, &token).await.0, 401);
    }

    let refetches = idp.hits() - 1;
    // However slow this machine is, each refetch needs a window of its own.
    let windows = 1 + started.elapsed().as_secs() / JWKS_MIN_REFETCH.as_secs();
    assert!(refetches >= 1, "an unknown key id is looked for");
    assert!(
        refetches <= windows,
        "{refetches} refetches in {windows} window(s) of {JWKS_MIN_REFETCH:?}"
    );
    assert_eq!(
        me(&app, &idp_token(RSA_A_KEY, "key-a", Role::Agent, None))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn an_idempotency_key_never_replays_another_callers_answer() {
    let app = spawn_app().await;
    let open = |partner: &'static str| {
        let app = &app;
        async move {
            let data = app
                .data(
                    &agent(),
                    r#"query($p: ID!) { partnerIssues(first: 100, filter: { partnerId: $p, kinds: [SHIPMENT_DISCREPANCY, INVOICE_DISCREPANCY, ORDER_DISCREPANCY] }) { edges { node { id case { id } } } } }"#,
                    json!({ "p": partner }),
                )
                .await;
            nodes(&data["partnerIssues"])
                .into_iter()
                .find(|i| i["case"].is_null())
                .expect("an open dispute")["id"]
                .clone()
        }
    };
    let (mine, theirs) = (open("TP-0003").await, open("TP-0004").await);
    let staff = |subject: &str| {
        gridcase::auth::sign(
            &gridcase::config::Secret::new(SECRET),
            Role::Agent,
            None,
            subject,
            Duration::from_secs(600),
            None,
            None,
        )
        .unwrap()
    };
    const ESCALATE: &str =
        r#"mutation($input: EscalateInput!) { escalate(input: $input) { created case { id } } }"#;
    let escalate = |token: String, issue: Value| {
        let app = &app;
        async move {
            app.graphql(
                &token,
                ESCALATE,
                json!({ "input": { "issueId": issue, "idempotencyKey": "ticket-42" } }),
            )
            .await
        }
    };

    let alice = escalate(staff("alice"), mine.clone()).await;
    let bob = escalate(staff("bob"), theirs.clone()).await;
    assert!(bob.get("errors").is_none(), "{bob:#}");
    assert_eq!(bob["data"]["escalate"]["created"], true);
    assert_ne!(
        bob["data"]["escalate"]["case"]["id"], alice["data"]["escalate"]["case"]["id"],
        "bob got alice's answer"
    );
    // Alice's key still guards Alice's own repeats.
    let again = escalate(staff("alice"), mine).await;
    assert_eq!(
        again["data"]["escalate"]["case"]["id"],
        alice["data"]["escalate"]["case"]["id"]
    );
    let misuse = escalate(staff("alice"), theirs).await;
    assert_eq!(error_codes(&misuse), vec!["IDEMPOTENCY_CONFLICT"]);
}
