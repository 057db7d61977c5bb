//! The `graphgate` binary run as a child process, and what it prints.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::CLIENT_SECRET;

/// Kills the child when the test ends, however it ends.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the `graphgate` binary with `args` and `env` (and no graphgate variables from the
/// test's own environment), collecting stdout lines until `done` says enough.
pub fn start(
    args: &[&str],
    dir: &std::path::Path,
    env: &[(&str, String)],
    done: impl Fn(&[String]) -> bool,
) -> (Running, Vec<String>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graphgate"));
    command.args(args);
    start_command(command, dir, env, done)
}

/// As [`start`], for a command that runs the binary some other way (through a shell that
/// sets a limit first, say).
pub fn start_command(
    mut command: Command,
    dir: &std::path::Path,
    env: &[(&str, String)],
    done: impl Fn(&[String]) -> bool,
) -> (Running, Vec<String>) {
    let mut child = command
        .current_dir(dir)
        .env_remove("GRAPHGATE_CALLERS")
        .env_remove("GRAPHGATE_DB")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Read to the end even once the test stops listening: a closed pipe would be a
        // different situation from the one under test.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
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

pub fn after<'a>(lines: &'a [String], prefix: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| l.strip_prefix(prefix))
}

/// Runs the `graphgate` binary with `args` against the Graph (and token endpoint) at
/// `origin`, as the simulator serves them, with nothing else in its environment; its exit
/// code and stdout. Neither output may show the client secret or a token.
pub async fn run_cli(origin: &str, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_graphgate"));
    command
        .args(args)
        .env_clear()
        .env("GRAPH_BASE_URL", origin)
        .env(
            "GRAPH_TOKEN_URL",
            format!("{origin}/simulated-tenant/oauth2/v2.0/token"),
        )
        .env("GRAPH_CLIENT_ID", "graphgate-cli")
        .env("GRAPH_CLIENT_SECRET", CLIENT_SECRET)
        .env("RUST_LOG", "debug");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    for printed in [&stdout, &stderr] {
        assert!(
            !printed.contains(CLIENT_SECRET),
            "the secret leaked: {printed}"
        );
        assert!(!printed.contains("eyJ"), "a token leaked: {printed}");
    }
    (output.status.code().unwrap(), stdout)
}
