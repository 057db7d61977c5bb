//! The performance harness (`scripts/bench.sh`, or `--smoke` in the test run): each figure
//! measured against a baseline taken in the same run, on this machine, and printed as a
//! Markdown table for `BENCHMARKS.md`.
//!
//! It drives the release binaries as a user would: `graphgate simulate-graph` as Graph, and
//! `graphgate serve` pointed at it with a SQLite store, each its own process, so the memory
//! figure is `serve`'s alone.
//!
//! Figures so far (the letters): (b) added latency of `POST /v1/changes`, (c)
//! throughput from 64 clients and peak RSS, (f) binary sizes and the TLS crypto providers
//! linked.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[derive(Parser)]
#[command(about = "graphgate's performance harness")]
struct Args {
    /// A short run that only checks the harness works (CI): its figures mean nothing.
    #[arg(long)]
    smoke: bool,
}

/// How much each measurement does.
struct Scale {
    warm_up: usize,
    requests: usize,
    clients: usize,
    throughput_for: Duration,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

const BEARER: &str = "bench-caller-token-0123456789abcdef0123";

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = Args::parse();
    let scale = if args.smoke {
        Scale {
            warm_up: 10,
            requests: 50,
            clients: 8,
            throughput_for: Duration::from_millis(500),
        }
    } else {
        Scale {
            warm_up: 200,
            requests: 2000,
            clients: 64,
            throughput_for: Duration::from_secs(10),
        }
    };
    let bin = std::env::current_exe()?
        .parent()
        .ok_or("the harness has no directory")?
        .to_path_buf();
    let dir = tempfile_dir()?;

    let (simulator, graph) = spawn(
        Command::new(bin.join("graphgate")).args(["simulate-graph", "--listen", "127.0.0.1:0"]),
        "Graph simulator on ",
    )?;
    let (serve, api) = start_serve(&bin, &graph, &dir, "normal")?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let token = graph_token(&http, &graph).await?;
    let straight = Target::Graph {
        base: graph.clone(),
        token,
    };
    let through = Target::Graphgate { base: api.clone() };

    let mut rows = Vec::new();
    let devices = Arc::new(AtomicUsize::new(0));
    // (b) One request at a time, graphgate and Graph in turn, after a warm-up of both; then
    // again against a second serve whose SQLite commits wait for the disk.
    let normal = latency(&http, &straight, &through, &devices, &scale).await?;
    rows.extend(normal.rows("synchronous=NORMAL, the default"));
    {
        let (_full_serve, full_api) = start_serve(&bin, &graph, &dir, "full")?;
        let full = Target::Graphgate { base: full_api };
        let measured = latency(&http, &straight, &full, &devices, &scale).await?;
        rows.extend(measured.rows("synchronous=FULL"));
    }

    // (c) Many clients at once, for a fixed time.
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

    // (f) What was built next to the harness, and which crypto providers it links.
    for name in ["intake", "sweeper", "graphgate"] {
        if let Ok(meta) = std::fs::metadata(bin.join(name)) {
            rows.push(row(
                "f",
                &format!("`{name}` size"),
                &format!("{:.1} MB", meta.len() as f64 / 1_048_576.0),
                "",
                "",
            ));
        }
    }
    let providers: Vec<&str> = ["ring", "aws-lc-rs"]
        .into_iter()
        .filter(|p| linked(p))
        .collect();
    rows.push(row(
        "f",
        "TLS crypto providers linked",
        &providers.join(", "),
        "",
        "one",
    ));

    drop(serve);
    drop(simulator);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "| # | figure | measured | against the baseline | goal |\n|---|---|---|---|---|\n{}",
        rows.join("\n")
    );
    if args.smoke {
        println!("(smoke run: the figures only show that the harness works)");
    }
    Ok(())
}

/// Starts `graphgate serve` against the simulator at `graph`, its SQLite file in `dir` with
/// `GRAPHGATE_SQLITE_SYNCHRONOUS=synchronous`, and no sweep pass during the run.
fn start_serve(
    bin: &std::path::Path,
    graph: &str,
    dir: &std::path::Path,
    synchronous: &str,
) -> Result<(Running, String), Error> {
    let callers =
        json!([{"name": "bench", "auth": {"scheme": "bearer", "token": BEARER}, "allow": ["*"]}]);
    spawn(
        Command::new(bin.join("graphgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("GRAPH_BASE_URL", graph)
            .env(
                "GRAPH_TOKEN_URL",
                format!("{graph}/simulated-tenant/oauth2/v2.0/token"),
            )
            .env("GRAPH_CLIENT_ID", "graphgate-bench")
            .env("GRAPH_CLIENT_SECRET", "bench-secret")
            .env("GRAPHGATE_CALLERS", callers.to_string())
            .env("GRAPHGATE_DB", dir.join(format!("{synchronous}.db")))
            .env("GRAPHGATE_SQLITE_SYNCHRONOUS", synchronous)
            .env("GRAPHGATE_SWEEP_INTERVAL_SECS", "3600"),
        "graphgate listening on ",
    )
}

/// p50 and p99 of one request at a time, straight to Graph and through graphgate in turn.
struct Latency {
    straight: (Duration, Duration),
    through: (Duration, Duration),
}

impl Latency {
    fn rows(&self, setting: &str) -> Vec<String> {
        [
            ("p50", self.straight.0, self.through.0),
            ("p99", self.straight.1, self.through.1),
        ]
        .into_iter()
        .map(|(p, base, gate)| {
            row(
                "b",
                &format!("added latency, {p}, {setting}"),
                &format!(
                    "{} through graphgate, {} straight to Graph",
                    ms(gate),
                    ms(base)
                ),
                &format!("adds {}", ms(gate.saturating_sub(base))),
                if p == "p99" { "adds ≤ 1 ms" } else { "" },
            )
        })
        .collect()
    }
}

async fn latency(
    http: &reqwest::Client,
    straight: &Target,
    through: &Target,
    devices: &AtomicUsize,
    scale: &Scale,
) -> Result<Latency, Error> {
    for _ in 0..scale.warm_up {
        straight.send(http, devices).await?;
        through.send(http, devices).await?;
    }
    let (mut base, mut gate) = (Vec::new(), Vec::new());
    for _ in 0..scale.requests {
        base.push(straight.send(http, devices).await?);
        gate.push(through.send(http, devices).await?);
    }
    Ok(Latency {
        straight: (percentile(&mut base, 50.0), percentile(&mut base, 99.0)),
        through: (percentile(&mut gate, 50.0), percentile(&mut gate, 99.0)),
    })
}

fn row(letter: &str, figure: &str, measured: &str, ratio: &str, goal: &str) -> String {
    format!("| {letter} | {figure} | {measured} | {ratio} | {goal} |")
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() as f64 - 1.0)).round() as usize;
    samples[rank.min(samples.len() - 1)]
}

/// Where a restart is sent: Graph's own action, or graphgate's API.
enum Target {
    Graph { base: String, token: String },
    Graphgate { base: String },
}

impl Target {
    /// Sends one restart of a device no request used before (Graph answers 409 for a device
    /// with an operation queued), and answers how long it took.
    async fn send(&self, http: &reqwest::Client, devices: &AtomicUsize) -> Result<Duration, Error> {
        let device = format!("bench-{}", devices.fetch_add(1, Ordering::Relaxed));
        let request = match self {
            Target::Graph { base, token } => http
                .post(format!("{base}/beta/teamwork/devices/{device}/restart"))
                .bearer_auth(token)
                .header("content-length", "0"),
            Target::Graphgate { base } => http
                .post(format!("{base}/v1/changes"))
                .bearer_auth(BEARER)
                .json(&json!({"action": "restartDevice", "deviceId": device})),
        };
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        response.bytes().await?;
        let took = started.elapsed();
        if status != reqwest::StatusCode::ACCEPTED {
            return Err(format!("expected 202, got {status}").into());
        }
        Ok(took)
    }
}

/// Requests answered per second by `target` from the scale's clients, each sending one
/// after another for the scale's time.
async fn throughput(
    http: &reqwest::Client,
    target: &Target,
    devices: &Arc<AtomicUsize>,
    scale: &Scale,
) -> Result<f64, Error> {
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let client = || async {
        while started.elapsed() < scale.throughput_for {
            target.send(http, devices).await?;
            done.fetch_add(1, Ordering::Relaxed);
        }
        Ok::<(), Error>(())
    };
    let results = futures::future::join_all((0..scale.clients).map(|_| client())).await;
    for result in results {
        result?;
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

async fn graph_token(http: &reqwest::Client, graph: &str) -> Result<String, Error> {
    let grant: serde_json::Value = http
        .post(format!("{graph}/simulated-tenant/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "graphgate-bench"),
            ("client_secret", "bench-secret"),
            ("scope", &format!("{graph}/.default")),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(grant["access_token"]
        .as_str()
        .ok_or("no token from the simulator")?
        .to_owned())
}

/// A child process that is stopped when dropped.
struct Running(Child);

impl Running {
    fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `command` and reads its stdout until a line starting with `banner`: the address
/// after it.
fn spawn(command: &mut Command, banner: &str) -> Result<(Running, String), Error> {
    let mut child = command
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let running = Running(child);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix(banner) {
            let address = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            // Keep draining stdout so the child never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            return Ok((running, address));
        }
    }
    Err(format!("the process never printed {banner:?}").into())
}

/// The process's peak resident memory, in bytes (`VmHWM`, Linux).
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Whether `package` is in the dependency graph of what graphgate ships on this target
/// (`cargo tree` succeeds, printing nothing, for a package only other targets use).
fn linked(package: &str) -> bool {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "tree",
            "--edges",
            "normal",
            "--invert",
            package,
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success() && !out.stdout.is_empty())
}

/// A fresh directory for the run's database.
fn tempfile_dir() -> Result<PathBuf, Error> {
    let dir = std::env::temp_dir().join(format!("graphgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
