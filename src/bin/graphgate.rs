//! The graphgate command line: run it locally, or run the Graph simulator alone.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use graphgate::simulator::{self, Faults};
use graphgate::telemetry::error_chain;
use graphgate::{serve, telemetry};

#[derive(Parser)]
#[command(
    version,
    about = "Approved change requests in, Microsoft Graph actions out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API and sweep pending changes (store: GRAPHGATE_DB or GRAPHGATE_TABLE).
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Use the built-in Graph simulator instead of a real tenant.
        #[arg(long)]
        simulate: bool,
    },
    /// Follow pending changes in the store (GRAPHGATE_DB or GRAPHGATE_TABLE).
    Sweep {
        /// Run one pass and exit (the only mode: `serve` runs its own loop).
        #[arg(long, required = true)]
        once: bool,
    },
    /// Run only the Graph simulator (token endpoint and Graph routes).
    SimulateGraph {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Lifetime of issued tokens, in seconds.
        #[arg(long, default_value_t = 3599)]
        token_lifetime_secs: u64,
        /// Answer the next N Graph calls with 429.
        #[arg(long, default_value_t = 0)]
        throttle: u32,
        /// Retry-After sent with each 429, in (fractional) seconds.
        #[arg(long, default_value_t = 2.128)]
        retry_after_secs: f64,
        /// Answer the next N Graph calls (after throttled ones) with 503.
        #[arg(long, default_value_t = 0)]
        unavailable: u32,
        /// Delay every Graph call by this many milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    telemetry::init(telemetry::Format::Text);
    match run(Cli::parse().command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graphgate: {}", error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve { listen, simulate } => serve::run(listen, simulate).await,
        Command::Sweep { once: _ } => serve::sweep_once().await,
        Command::SimulateGraph {
            listen,
            token_lifetime_secs,
            throttle,
            retry_after_secs,
            unavailable,
            latency_ms,
        } => {
            let faults = Faults {
                throttle,
                retry_after_secs,
                unavailable,
                latency_ms,
            };
            simulator::run(listen, Duration::from_secs(token_lifetime_secs), faults).await?;
            Ok(())
        }
    }
}
