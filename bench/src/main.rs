//! The performance harness (`scripts/bench.sh`, or `--smoke` in the test run): each figure
//! measured against a baseline taken in the same run, on this machine, and printed as a
//! Markdown table for `BENCHMARKS.md`.
//!
//! It drives the release binaries as a user would: `graphgate simulate-graph` as Graph, and
//! `graphgate serve` pointed at it with a SQLite store, each its own process, so the memory
//! figure is `serve`'s alone.
//!
//! Figures (the letters): (a) cold start of `intake` under a Runtime API emulator,
//! (b) added latency of `POST /v1/changes`, (c)
//! throughput from 64 clients and peak RSS, (d) one sweep pass over many pending operations,
//! (e) DynamoDB requests of a change's life and of a pass as the table grows,
//! (f) binary sizes and the TLS crypto providers linked.

mod binaries;
mod cold_start;
mod process;
mod requests;
mod store_cost;
mod sweep;

use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use clap::Parser;

use cold_start::{Deployment, StartScale};
use process::{graphgate_env, peak_rss, start_serve, start_simulator};
use requests::{Target, graph_token, latency, throughput};
use store_cost::StoreScale;
use sweep::SweepScale;

#[derive(Parser)]
#[command(about = "graphgate's performance harness")]
struct Args {
    /// A short run that only checks the harness works (CI): its figures mean nothing.
    #[arg(long)]
    smoke: bool,
    /// Only these figures, by letter (`--only a,d`); all of them without it.
    #[arg(long)]
    only: Option<String>,
    /// Prints how long aws-lc's first and second random draws take in this fresh process, in
    /// nanoseconds: the harness runs itself so for figure (f).
    #[arg(long, hide = true)]
    first_random: bool,
}

/// How much each measurement does.
struct Scale {
    warm_up: usize,
    requests: usize,
    clients: usize,
    throughput_for: Duration,
    sweep: SweepScale,
    store: StoreScale,
    start: StartScale,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

const BEARER: &str = "bench-caller-token-0123456789abcdef0123";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    if args.first_random {
        println!("{}", binaries::first_random_draws());
        return Ok(());
    }
    let scale = if args.smoke {
        Scale {
            warm_up: 10,
            requests: 50,
            clients: 8,
            throughput_for: Duration::from_millis(500),
            sweep: SweepScale {
                pending: 200,
                latency: Duration::from_millis(50),
                concurrency: &[8, 64],
            },
            store: StoreScale {
                due: 10,
                tables: &[100, 1_000],
                shards: 4,
                sharded_at: 1_000,
            },
            start: StartScale { starts: 3 },
        }
    } else {
        Scale {
            warm_up: 200,
            requests: 2000,
            clients: 64,
            throughput_for: Duration::from_secs(10),
            sweep: SweepScale {
                pending: 10_000,
                latency: Duration::from_millis(50),
                concurrency: &[8, 64, 256],
            },
            store: StoreScale {
                due: 100,
                tables: &[1_000, 10_000, 100_000],
                shards: 4,
                sharded_at: 10_000,
            },
            start: StartScale { starts: 50 },
        }
    };
    let bin = std::env::current_exe()?
        .parent()
        .ok_or("the harness has no directory")?
        .to_path_buf();
    let dir = tempfile_dir()?;

    let (simulator, graph) = start_simulator(&bin)?;
    let serve_env = |synchronous: &str| {
        let mut env = graphgate_env(&graph, &dir.join(format!("{synchronous}.db")));
        env.push(("GRAPHGATE_SQLITE_SYNCHRONOUS", synchronous.to_owned()));
        env
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let wants = |letter: char| args.only.as_ref().is_none_or(|only| only.contains(letter));
    let mut rows = Vec::new();
    let devices = AtomicUsize::new(0);

    if wants('b') || wants('c') {
        let (serve, api) = start_serve(&bin, &serve_env("normal"))?;
        let token = graph_token(&http, &graph).await?;
        let straight = Target::Graph {
            base: graph.clone(),
            token,
        };
        let through = Target::Graphgate { base: api.clone() };
        // (b) One request at a time, graphgate and Graph in turn, after a warm-up of both;
        // then again against a second serve whose SQLite commits wait for the disk.
        if wants('b') {
            let normal = latency(&http, &straight, &through, &devices, &scale).await?;
            rows.extend(normal.rows("synchronous=NORMAL, the default"));
            let (_full_serve, full_api) = start_serve(&bin, &serve_env("full"))?;
            let full = Target::Graphgate { base: full_api };
            let measured = latency(&http, &straight, &full, &devices, &scale).await?;
            rows.extend(measured.rows("synchronous=FULL"));
        }
        // (c) Many clients at once, for a fixed time.
        if wants('c') {
            let graph_rate = throughput(&http, &straight, &devices, &scale).await?;
            let gate_rate = throughput(&http, &through, &devices, &scale).await?;
            rows.push(row(
                "c",
                &format!("changes accepted per second, {} clients", scale.clients),
                &format!("{gate_rate:.0}/s through graphgate, {graph_rate:.0}/s straight to Graph"),
                &format!("{:.2}× the simulator's rate", gate_rate / graph_rate),
                "report",
            ));
            let rss = peak_rss(serve.id()).unwrap_or(0);
            rows.push(row(
                "c",
                "peak RSS of serve",
                &format!("{:.1} MB", rss as f64 / 1_048_576.0),
                "",
                "≤ 64 MB",
            ));
        }
    }

    // (d) One sweep pass over many pending operations, Graph slow to answer.
    if wants('d') {
        rows.extend(sweep::rows(&bin, &graph, &dir, &http, &devices, &scale.sweep).await?);
    }

    // (e) DynamoDB requests of a change's life, and of a pass as the table grows; (a) cold
    // starts of `intake` as deployed, reading that change from its table, and its secrets, in
    // moto.
    if wants('e') || wants('a') {
        let (store_rows, stored) =
            store_cost::rows(&graph, &dir, &http, &devices, &scale.store, wants('e')).await?;
        rows.extend(store_rows);
        if wants('a') {
            let deployment = Deployment::in_moto(&graph, &stored.table, stored.change_id).await?;
            rows.extend(cold_start::rows(&bin, &deployment, &scale.start).await?);
        }
    }

    // (f) What was built next to the harness, and which crypto providers it links.
    if wants('f') {
        rows.extend(binaries::rows(&bin, scale.start.starts)?);
    }

    drop(simulator);
    let _ = std::fs::remove_dir_all(&dir);
    // In the order: the letter is the row's first cell.
    rows.sort_by_key(|row| row.chars().nth(2));
    println!(
        "| # | figure | measured | against the baseline | goal |\n|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
    if args.smoke {
        println!("(smoke run: the figures only show that the harness works)");
    }
    Ok(())
}

fn row(letter: &str, figure: &str, measured: &str, ratio: &str, goal: &str) -> String {
    format!("| {letter} | {figure} | {measured} | {ratio} | {goal} |")
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() as f64 - 1.0)).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// A fresh directory for the run's database.
fn tempfile_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!("graphgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
