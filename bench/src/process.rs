//! The processes the harness starts: the simulator as Graph, and `graphgate serve`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::{BEARER, Error};

/// What `graphgate serve` (and the harness's own sweeper) is given: the simulator at `graph`
/// as Graph, the bench caller, and a SQLite store at `db`.
pub fn graphgate_env(graph: &str, db: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("GRAPH_BASE_URL", graph.to_owned()),
        (
            "GRAPH_TOKEN_URL",
            format!("{graph}/simulated-tenant/oauth2/v2.0/token"),
        ),
        ("GRAPH_CLIENT_ID", "graphgate-bench".to_owned()),
        ("GRAPH_CLIENT_SECRET", "bench-secret".to_owned()),
        ("GRAPHGATE_CALLERS", bench_callers()),
        ("GRAPHGATE_DB", db.display().to_string()),
        // No sweep pass while a figure is measured.
        ("GRAPHGATE_SWEEP_INTERVAL_SECS", "3600".to_owned()),
    ]
}

/// The caller registry: one caller, the harness, allowed every action, with a signing secret
/// for its callbacks.
pub fn bench_callers() -> String {
    json!([{"name": "bench", "auth": {"scheme": "bearer", "token": BEARER}, "allow": ["*"],
        "signingSecret": "whsec_YmVuY2gtc2lnbmluZy1zZWNyZXQtMDEyMzQ1Njc4OWFi"}])
    .to_string()
}

/// Starts `graphgate serve` with `env` (see [`graphgate_env`]), and answers its address.
pub fn start_serve(bin: &Path, env: &[(&str, String)]) -> Result<(Running, String), Error> {
    spawn(
        Command::new(bin.join("graphgate"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(env.iter().map(|(k, v)| (k, v))),
        "graphgate listening on ",
    )
}

/// Starts the Graph simulator, and answers its address.
pub fn start_simulator(bin: &Path) -> Result<(Running, String), Error> {
    spawn(
        Command::new(bin.join("graphgate")).args(["simulate-graph", "--listen", "127.0.0.1:0"]),
        "Graph simulator on ",
    )
}

/// A child process that is stopped when dropped.
pub struct Running(Child);

impl Running {
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl From<Child> for Running {
    fn from(child: Child) -> Self {
        Running(child)
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
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
