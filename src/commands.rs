//! What the `gridcase` commands do, so the binary only parses its arguments:
//! `serve` (load the configuration, start the built-in simulators in sandbox
//! mode, build the gateway, run it until a shutdown signal), `simulate` and
//! `token`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::auth::Role;
use crate::config::{Secret, Settings, SANDBOX_JWT_SECRET, SANDBOX_WEBHOOK_SECRET};
use crate::sim::{self, Platform, RunningSim, SimOptions};
use crate::App;

/// Run the gateway configured by `config_path` and `env`, listening on
/// `listen` when given (it overrides the configuration), until `shutdown`.
pub async fn serve(
    listen: Option<String>,
    config_path: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut settings = Settings::load(config_path, env)?;
    let sandbox = settings.is_sandbox();
    // Sandbox: both simulators in-process on loopback ports, spoken to over HTTP
    // exactly as real platforms would be.
    let mut sims = Vec::new();
    if sandbox {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let tg = sim::start(Platform::TradingGrid, loopback, SimOptions::default()).await?;
        let cc = sim::start(Platform::CoreCase, loopback, SimOptions::default()).await?;
        settings = settings.into_sandbox(&tg.base_url(), &cc.base_url());
        sims.push(tg);
        sims.push(cc);
    }
    let mut config = settings.resolve(sandbox)?;
    if let Some(listen) = listen {
        config.listen = listen
            .parse()
            .with_context(|| format!("--listen {listen}: expected HOST:PORT"))?;
    }
    // Its errors say what failed: the listen address, Redis, the key set, …
    let app = App::build(config).await?;
    if sandbox {
        connect_sandbox(&app, &sims).await?;
    } else {
        eprintln!("gridcase listening on http://{}/graphql", app.addr());
    }
    app.run(shutdown).await?;
    for s in sims {
        s.shutdown().await;
    }
    Ok(())
}

/// Point the simulators' webhooks at the gateway, as platforms with webhooks
/// configured would be, and print where everything is with two day-long tokens.
async fn connect_sandbox(app: &App, sims: &[RunningSim]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for (sim, path) in [(&sims[0], "trading-grid"), (&sims[1], "core-case")] {
        http.put(format!("{}/__sim/webhook", sim.base_url()))
            .json(&serde_json::json!({
                "url": format!("http://{}/webhooks/{path}", app.addr()),
                "secret": SANDBOX_WEBHOOK_SECRET,
            }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .context("configuring the sandbox simulators' webhooks")?;
    }
    eprintln!();
    eprintln!(
        "gridcase sandbox: simulated Trading Grid at {} and Core Case at {}",
        sims[0].base_url(),
        sims[1].base_url()
    );
    eprintln!("GraphiQL:       http://{}/graphql", app.addr());
    eprintln!(
        "Partner portal: http://{}/portal#sample-partner",
        app.addr()
    );
    // The very tokens the portal and GraphiQL offer; none when a JWT secret of
    // the operator's own was configured.
    match app.sandbox_tokens() {
        Some((partner, agent)) => {
            eprintln!("partner token (TP-0001, 24h): {partner}");
            eprintln!("agent token (24h):            {agent}");
            eprintln!("In GraphiQL's Headers tab:    {{\"Authorization\": \"Bearer <token>\"}}");
        }
        None => eprintln!(
            "Tokens:         `gridcase token --role agent` (with the same GRIDCASE_JWT_SECRET)"
        ),
    }
    eprintln!();
    Ok(())
}

/// Serve one platform's simulator on `listen` until a shutdown signal.
pub async fn simulate(
    platform: Platform,
    listen: SocketAddr,
    opts: SimOptions,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&opts.error_rate),
        "--error-rate must be between 0 and 1"
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    eprintln!(
        "{platform} simulator on http://{} (seed {}, scale {})",
        listener.local_addr()?,
        opts.seed,
        opts.scale
    );
    sim::serve(platform, listener, opts, shutdown_signal()).await?;
    Ok(())
}

/// What `gridcase token` is asked to sign.
pub struct TokenRequest {
    pub role: Role,
    pub partner: Option<String>,
    pub subject: String,
    pub ttl: Duration,
    /// Sign as an identity provider would, with this private key PEM file.
    pub private_key: Option<PathBuf>,
    pub kid: Option<String>,
}

/// A bearer token: signed with the configured (or the sandbox) secret, or
/// with a private key.
pub fn token(req: TokenRequest, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<String> {
    if req.role == Role::Partner && req.partner.is_none() {
        anyhow::bail!("--role partner needs --partner ID");
    }
    let settings = Settings::load(None, env)?;
    if let Some(path) = req.private_key {
        let pem =
            std::fs::read(&path).with_context(|| format!("--private-key {}", path.display()))?;
        let claims = crate::auth::Claims::new(
            req.role,
            req.partner.as_deref(),
            &req.subject,
            req.ttl,
            settings.jwt_issuer(),
            settings.jwt_audience(),
        );
        return crate::auth::sign_with_private_key(&pem, None, req.kid.as_deref(), &claims)
            .with_context(|| {
                format!(
                    "--private-key {}: not an RSA or EC P-256 private key PEM",
                    path.display()
                )
            });
    }
    let secret = match settings.jwt_secret() {
        Some(s) => s.clone(),
        None => {
            eprintln!("GRIDCASE_JWT_SECRET is not set: signing with the sandbox secret");
            Secret::new(SANDBOX_JWT_SECRET)
        }
    };
    Ok(crate::auth::sign(
        &secret,
        req.role,
        req.partner.as_deref(),
        &req.subject,
        req.ttl,
        settings.jwt_issuer(),
        settings.jwt_audience(),
    )?)
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
