//! The `graphgate` binary as a newcomer runs it: the quick start, and the simulator alone.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::sim_token;

/// Kills the child when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `graphgate` with `args` and collects stdout lines until `done` says enough.
fn start(
    args: &[&str],
    dir: &std::path::Path,
    done: impl Fn(&[String]) -> bool,
) -> (Running, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphgate"))
        .args(args)
        .current_dir(dir)
        .env_remove("GRAPHGATE_CALLERS")
        .env_remove("GRAPHGATE_DB")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let running = Running(child);
    let mut lines = Vec::new();
    while !done(&lines) {
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("graphgate printed only {lines:?}"));
        lines.push(line);
    }
    (running, lines)
}

fn after<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.strip_prefix(prefix))
}

#[tokio::test]
async fn the_quick_start_works_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, lines) = start(
        &["serve", "--simulate", "--listen", "127.0.0.1:0"],
        dir.path(),
        |lines| {
            after(lines, "demo caller token: ").is_some()
                && after(lines, "graphgate listening on ").is_some()
        },
    );
    let address = after(&lines, "graphgate listening on ").unwrap();
    let token = after(&lines, "demo caller token: ").unwrap();

    let response = reqwest::Client::new()
        .post(format!("{address}/v1/changes"))
        .bearer_auth(token)
        .json(&json!({"action": "updateSoftware", "deviceId": "demo-device-1", "softwareType": "teamsClient",
            "softwareVersion": "1.0.96.22", "reference": "CHG0031234"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.contains("/beta/teamwork/devices/demo-device-1/operations/"),
        "{location}"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["location"], location.as_str());
    assert!(
        dir.path().join("graphgate.db").exists(),
        "the default SQLite file is used"
    );
}

#[tokio::test]
async fn simulate_graph_serves_the_simulator_alone() {
    let dir = tempfile::tempdir().unwrap();
    let (_sim, lines) = start(
        &[
            "simulate-graph",
            "--listen",
            "127.0.0.1:0",
            "--throttle",
            "1",
            "--retry-after-secs",
            "0.5",
        ],
        dir.path(),
        |lines| after(lines, "  GRAPH_TOKEN_URL=").is_some(),
    );
    let token_url = after(&lines, "  GRAPH_TOKEN_URL=").unwrap();
    let base = after(&lines, "  GRAPH_BASE_URL=").unwrap();
    let http = reqwest::Client::new();
    let origin = base.trim_end_matches("/beta");
    let token = &sim_token(&http, token_url, origin).await;
    let restart = |http: &reqwest::Client| {
        http.post(format!("{base}/teamwork/devices/d1/restart"))
            .bearer_auth(token)
            .send()
    };
    let throttled = restart(&http).await.unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "0.5");
    let accepted = restart(&http).await.unwrap();
    assert_eq!(accepted.status(), 202);
    assert!(
        accepted.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/teamwork/devices/d1/operations/")
    );
}
