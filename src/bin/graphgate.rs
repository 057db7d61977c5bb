//! The graphgate command line: run it locally, or run the Graph simulator alone.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use graphgate::simulator::{self, Faults};
use graphgate::telemetry::error_chain;
use graphgate::{local, telemetry};

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
    /// Check the app registration before the first change: sign-in, the token's permissions,
    /// what each action needs, and whether Graph still serves the device API. Exits 1 when
    /// nothing can be done.
    Check {
        /// Print the findings as JSON, as `GET /v1/check` answers.
        #[arg(long)]
        json: bool,
    },
    /// List the Teams devices Graph knows, with their type, health and software versions
    /// (needs TeamworkDevice.Read.All).
    Devices {
        /// Only devices of this type (teamsRoom, collaborationBar, ipPhone, ...).
        #[arg(long)]
        device_type: Option<String>,
        /// Only devices with an update available for this software type (teamsClient, ...).
        #[arg(long)]
        update_available: Option<String>,
        /// Print the inventory as JSON, as `GET /v1/devices` answers.
        #[arg(long)]
        json: bool,
    },
    /// Run only the Graph simulator (token endpoint and Graph routes).
    SimulateGraph {
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// Lifetime of issued tokens, in seconds.
        #[arg(long, default_value_t = 3599)]
        token_lifetime_secs: u64,
        #[command(flatten)]
        faults: Faults,
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
        Command::Serve { listen, simulate } => local::serve(listen, simulate).await,
        Command::Sweep { once: _ } => local::sweep_once().await,
        Command::Check { json } => {
            if local::check(json).await? {
                Ok(())
            } else {
                Err("this app registration can carry out none of graphgate's actions".into())
            }
        }
        Command::Devices {
            device_type,
            update_available,
            json,
        } => {
            local::devices(
                &[
                    ("deviceType", device_type),
                    ("updateAvailable", update_available),
                ],
                json,
            )
            .await
        }
        Command::SimulateGraph {
            listen,
            token_lifetime_secs,
            faults,
        } => Ok(simulator::run(listen, Duration::from_secs(token_lifetime_secs), faults).await?),
    }
}
