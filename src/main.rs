//! The `gridcase` command line: parse, load configuration, hand over to the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gridcase::auth::Role;
use gridcase::config::{Secret, Settings, SANDBOX_JWT_SECRET, SANDBOX_WEBHOOK_SECRET};
use gridcase::sim::{self, Platform, SimOptions};
use gridcase::App;

#[derive(Parser)]
#[command(
    name = "gridcase",
    version,
    about = "One GraphQL API over OpenText Trading Grid and Core Case"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (sandbox mode with built-in simulators when no upstream URL is set).
    Serve {
        /// Address to listen on (overrides GRIDCASE_LISTEN and the file).
        #[arg(long)]
        listen: Option<String>,
        /// TOML configuration file.
        #[arg(long, env = "GRIDCASE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run a simulator of one platform.
    Simulate {
        /// trading-grid or core-case
        platform: Platform,
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Seed of the generated data (both simulators agree for the same seed).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Multiplies the amount of seeded data.
        #[arg(long, default_value_t = 1)]
        scale: u32,
        /// Delay added to every API request.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Fraction of API requests answered 503.
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Requests per second before answering 429.
        #[arg(long)]
        rate_limit: Option<u32>,
        /// Client id the token endpoint accepts.
        #[arg(long, default_value = sim::DEV_CLIENT_ID)]
        client_id: String,
        /// Client secret the token endpoint accepts.
        #[arg(long, default_value = sim::DEV_CLIENT_SECRET)]
        client_secret: String,
        /// Deliver every event as a signed webhook to this URL (e.g. http://127.0.0.1:4000/webhooks/trading-grid).
        #[arg(long, requires = "webhook_secret")]
        webhook_url: Option<String>,
        /// Secret the webhooks are signed with (the gateway's GRIDCASE_WEBHOOK_SECRET).
        #[arg(long, requires = "webhook_url")]
        webhook_secret: Option<String>,
    },
    /// Sign a bearer token (with GRIDCASE_JWT_SECRET, or the sandbox secret when unset;
    /// or with --private-key, as an identity provider would).
    Token {
        #[arg(long)]
        role: Role,
        /// Partner id, required for --role partner.
        #[arg(long)]
        partner: Option<String>,
        /// Subject claim.
        #[arg(long, default_value = "gridcase-cli")]
        subject: String,
        /// Lifetime, e.g. 1h, 30m, 7d.
        #[arg(long, default_value = "1h")]
        ttl: humantime::Duration,
        /// Sign with this private key PEM file instead (RS256 for RSA, ES256 for
        /// EC P-256), to test a gateway set up with GRIDCASE_JWT_PUBLIC_KEY or
        /// GRIDCASE_JWKS_URL.
        #[arg(long)]
        private_key: Option<PathBuf>,
        /// Key id (`kid`) for the token header, with --private-key.
        #[arg(long, requires = "private_key")]
        kid: Option<String>,
    },
    /// Print the GraphQL schema (SDL).
    PrintSchema {
        /// Print the Apollo Federation v2 subgraph SDL instead (`@key`, `@link`).
        #[arg(long)]
        federation: bool,
    },
}

fn env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// mimalloc: a request allocates and frees thousands of small objects (parsed
/// query, upstream records, the response tree), across worker threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line with the cause chain: configuration mistakes should read as such.
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let _telemetry = gridcase::telemetry::init(&env)?;
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve {
        listen: None,
        config: None,
    }) {
        Command::Serve { listen, config } => serve(listen, config).await,
        Command::Simulate {
            platform,
            listen,
            seed,
            scale,
            latency_ms,
            error_rate,
            rate_limit,
            client_id,
            client_secret,
            webhook_url,
            webhook_secret,
        } => {
            anyhow::ensure!(
                (0.0..=1.0).contains(&error_rate),
                "--error-rate must be between 0 and 1"
            );
            let opts = SimOptions {
                seed,
                scale,
                latency_ms,
                error_rate,
                rate_limit,
                client_id,
                client_secret,
                webhook_url,
                webhook_secret,
                ..SimOptions::default()
            };
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("cannot listen on {listen}"))?;
            eprintln!(
                "{platform} simulator on http://{} (seed {seed}, scale {scale})",
                listener.local_addr()?
            );
            sim::serve(platform, listener, opts, shutdown_signal()).await?;
            Ok(())
        }
        Command::Token {
            role,
            partner,
            subject,
            ttl,
            private_key,
            kid,
        } => {
            if role == Role::Partner && partner.is_none() {
                anyhow::bail!("--role partner needs --partner ID");
            }
            let settings = Settings::load(None, &env)?;
            if let Some(path) = private_key {
                let pem = std::fs::read(&path)
                    .with_context(|| format!("--private-key {}", path.display()))?;
                let claims = gridcase::auth::Claims::new(
                    role,
                    partner.as_deref(),
                    &subject,
                    ttl.into(),
                    settings.jwt_issuer(),
                    settings.jwt_audience(),
                );
                let token =
                    gridcase::auth::sign_with_private_key(&pem, None, kid.as_deref(), &claims)
                        .with_context(|| {
                            format!(
                                "--private-key {}: not an RSA or EC P-256 private key PEM",
                                path.display()
                            )
                        })?;
                println!("{token}");
                return Ok(());
            }
            let secret = match settings.jwt_secret() {
                Some(s) => s.clone(),
                None => {
                    eprintln!("GRIDCASE_JWT_SECRET is not set: signing with the sandbox secret");
                    Secret::new(SANDBOX_JWT_SECRET)
                }
            };
            let token = gridcase::auth::sign(
                &secret,
                role,
                partner.as_deref(),
                &subject,
                ttl.into(),
                settings.jwt_issuer(),
                settings.jwt_audience(),
            )?;
            println!("{token}");
            Ok(())
        }
        Command::PrintSchema { federation } => {
            if federation {
                print!("{}", gridcase::graphql::federation_sdl());
            } else {
                print!("{}", gridcase::graphql::sdl());
            }
            Ok(())
        }
    }
}

async fn serve(listen: Option<String>, config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let mut settings = Settings::load(config_path.as_deref(), &env)?;
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
    let app = App::build(config.clone()).await?;
    let url = format!("http://{}/graphql", app.addr());
    if sandbox {
        // The simulators act like platforms with webhooks configured: every event
        // they emit reaches the gateway's rules.
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
        let secret = Secret::new(SANDBOX_JWT_SECRET);
        let day = Duration::from_secs(24 * 3600);
        let partner = gridcase::auth::sign(
            &secret,
            Role::Partner,
            Some("TP-0001"),
            "sandbox-partner",
            day,
            None,
            None,
        )?;
        let agent =
            gridcase::auth::sign(&secret, Role::Agent, None, "sandbox-agent", day, None, None)?;
        eprintln!();
        eprintln!(
            "gridcase sandbox: simulated Trading Grid at {} and Core Case at {}",
            sims[0].base_url(),
            sims[1].base_url()
        );
        eprintln!("GraphiQL:       {url}");
        eprintln!(
            "Partner portal: http://{}/portal#sample-partner",
            app.addr()
        );
        eprintln!("partner token (TP-0001, 24h): {partner}");
        eprintln!("agent token (24h):            {agent}");
        eprintln!("In GraphiQL's Headers tab:    {{\"Authorization\": \"Bearer <token>\"}}");
        eprintln!();
    } else {
        eprintln!("gridcase listening on {url}");
    }
    app.run(shutdown_signal()).await?;
    for s in sims {
        s.shutdown().await;
    }
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
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
