//! The `gridcase` command line: parse the arguments, hand over to [`gridcase::commands`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use gridcase::auth::Role;
use gridcase::commands;
use gridcase::sim::{self, Platform, SimOptions};

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
        Command::Serve { listen, config } => {
            commands::serve(listen, config.as_deref(), &env, commands::shutdown_signal()).await
        }
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
            commands::simulate(platform, listen, opts).await
        }
        Command::Token {
            role,
            partner,
            subject,
            ttl,
            private_key,
            kid,
        } => {
            let req = commands::TokenRequest {
                role,
                partner,
                subject,
                ttl: ttl.into(),
                private_key,
                kid,
            };
            println!("{}", commands::token(req, &env)?);
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
