//! The `graphgate` binary as a newcomer runs it: the quick start, and the simulator alone.

use serde_json::{Value, json};

use crate::helpers::{Running, after, eventually, json_of, sim_token, start};

/// `graphgate serve --simulate` in `dir` with `env`, as the quick start runs it, and the
/// address and demo caller token its banner prints.
fn serve_simulated(dir: &std::path::Path, env: &[(&str, String)]) -> (Running, String, String) {
    let (serve, lines) = start(
        &["serve", "--simulate", "--listen", "127.0.0.1:0"],
        dir,
        env,
        |lines| {
            after(lines, "demo caller token: ").is_some()
                && after(lines, "graphgate listening on ").is_some()
        },
    );
    let address = after(&lines, "graphgate listening on ").unwrap().to_owned();
    let token = after(&lines, "demo caller token: ").unwrap().to_owned();
    (serve, address, token)
}

#[tokio::test]
async fn the_quick_start_works_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, address, token) = serve_simulated(dir.path(), &[]);

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
        location.contains("/beta/teamwork/devices('demo-device-1')/operations('"),
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
async fn serve_simulate_starts_with_the_readmes_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, address, token) = serve_simulated(dir.path(), &[]);
    let http = reqwest::Client::new();
    let behind = json_of(
        http.get(format!(
            "{address}/v1/devices?deviceType=teamsRoom&updateAvailable=teamsClient"
        ))
        .bearer_auth(&token),
    )
    .await;
    let ids: Vec<&str> = behind["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["room-lisbon", "room-oslo", "stale-room-quito"]);
    let all = json_of(
        http.get(format!("{address}/v1/devices"))
            .bearer_auth(&token),
    )
    .await;
    assert_eq!(all["count"], 6);
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
        &[],
        |lines| after(lines, "  GRAPH_TOKEN_URL=").is_some(),
    );
    let token_url = after(&lines, "  GRAPH_TOKEN_URL=").unwrap();
    let origin = after(&lines, "  GRAPH_BASE_URL=").unwrap();
    let http = reqwest::Client::new();
    let token = &sim_token(&http, token_url, origin).await;
    let restart = |http: &reqwest::Client| {
        http.post(format!("{origin}/beta/teamwork/devices/d1/restart"))
            .bearer_auth(token)
            .header("content-length", "0")
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

#[tokio::test]
async fn serve_sweeps_in_the_background_until_the_change_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("GRAPHGATE_SWEEP_INTERVAL_SECS", "0.2".to_owned()),
        ("GRAPHGATE_POLL_INTERVAL_SECS", "0.2".to_owned()),
    ];
    let (_serve, lines) = start(
        &["serve", "--simulate", "--listen", "127.0.0.1:0"],
        dir.path(),
        &env,
        |lines| {
            after(lines, "demo caller token: ").is_some()
                && after(lines, "graphgate listening on ").is_some()
        },
    );
    let address = after(&lines, "graphgate listening on ").unwrap();
    let token = after(&lines, "demo caller token: ").unwrap();
    let http = reqwest::Client::new();
    let created = json_of(
        http.post(format!("{address}/v1/changes"))
            .bearer_auth(token)
            .json(&json!({"action": "restartDevice", "deviceId": "room-12"})),
    )
    .await;
    let status_url = format!("{address}{}", created["statusUrl"].as_str().unwrap());
    // The simulator's operation succeeds on its third poll: about 0.2 + 0.2 + 0.4 s.
    let view = eventually(
        "the change succeeds",
        std::time::Duration::from_secs(15),
        || async {
            let view = json_of(http.get(&status_url).bearer_auth(token)).await;
            (view["status"] == "succeeded").then_some(view)
        },
    )
    .await;
    assert_eq!(view["operationStatus"], "succeeded");
}

#[tokio::test]
async fn sweep_once_runs_one_pass_and_prints_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("GRAPH_BASE_URL", "http://127.0.0.1:9/beta".to_owned()),
        (
            "GRAPH_TOKEN_URL",
            "http://127.0.0.1:9/t/oauth2/v2.0/token".to_owned(),
        ),
        ("GRAPH_CLIENT_ID", "app".to_owned()),
        ("GRAPH_CLIENT_SECRET", "secret".to_owned()),
        ("GRAPHGATE_CALLERS", crate::helpers::callers_json()),
    ];
    let (_sweep, lines) = start(&["sweep", "--once"], dir.path(), &env, |lines| {
        !lines.is_empty()
    });
    let report: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(report["due"], 0);
    assert_eq!(report["polled"], 0);
}

#[tokio::test]
async fn serve_keeps_serving_when_its_stdout_is_closed() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_graphgate"))
        .args(["serve", "--simulate", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("GRAPHGATE_CALLERS")
        .env_remove("GRAPHGATE_DB")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone now: like `graphgate serve | head -1`.
    let running = crate::helpers::Running(child);
    let address = first
        .trim()
        .strip_prefix("graphgate listening on ")
        .unwrap()
        .to_owned();
    // Time for the real process to meet its closed stdout as it runs; it gives no sign of
    // having done so to wait on.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let health = reqwest::get(format!("{address}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    drop(running);
}

#[tokio::test]
async fn serve_simulate_signs_in_with_a_certificate_when_given_one() {
    let dir = tempfile::tempdir().unwrap();
    let certificate = format!(
        "{}/tests/fixtures/graph-client-cert.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let (_serve, address, token) =
        serve_simulated(dir.path(), &[("GRAPH_CLIENT_CERTIFICATE", certificate)]);
    let response = reqwest::Client::new()
        .post(format!("{address}/v1/changes"))
        .bearer_auth(token)
        .json(&json!({"action": "restartDevice", "deviceId": "demo-device-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

/// `serve --simulate` shows the gate: its demo callers gated on the simulated ServiceNow
/// and Jira act on an approved ticket and are refused on one that is not.
#[tokio::test]
async fn serve_simulate_shows_the_gate_on_simulated_tickets() {
    let dir = tempfile::tempdir().unwrap();
    let (_serve, lines) = start(
        &["serve", "--simulate", "--listen", "127.0.0.1:0"],
        dir.path(),
        &[],
        |lines| {
            after(lines, "graphgate listening on ").is_some()
                && after(lines, "gated on the simulated Jira").is_some()
        },
    );
    let address = after(&lines, "graphgate listening on ").unwrap();
    let token_of = |system: &str| {
        let line = after(&lines, &format!("gated on the simulated {system} (caller ")).unwrap();
        let token = line.split("token ").nth(1).unwrap();
        token.split(')').next().unwrap().to_owned()
    };
    let http = reqwest::Client::new();
    // A device each: the simulator answers 409 while a device has an operation queued.
    for (system, device, approved, refused) in [
        ("ServiceNow", "room-lisbon", "CHG0030001", "CHG0030002"),
        ("Jira", "room-oslo", "CHG-1", "CHG-2"),
    ] {
        let token = token_of(system);
        let post = |reference: &str| {
            http.post(format!("{address}/v1/changes"))
                .bearer_auth(&token)
                .json(&json!({"action": "restartDevice", "deviceId": device,
                    "reference": reference}))
                .send()
        };
        let accepted = post(approved).await.unwrap();
        let status = accepted.status();
        assert_eq!(status, 202, "{system}: {}", accepted.text().await.unwrap());
        let refusal = post(refused).await.unwrap();
        assert_eq!(refusal.status(), 409, "{system}");
        let problem: Value = refusal.json().await.unwrap();
        assert_eq!(problem["type"], "urn:graphgate:problem:ticket-not-approved");
    }
    // Approved in the simulator, as the tutorial shows, the refused change goes ahead.
    let simulator = after(&lines, "Graph simulator on ").unwrap();
    let simulator = simulator.split(' ').next().unwrap();
    let approved = http
        .patch(format!(
            "{simulator}/_simulator/tickets/servicenow/CHG0030002"
        ))
        .json(&json!({"approval": "approved", "state": "-1"}))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success());
    let again = http
        .post(format!("{address}/v1/changes"))
        .bearer_auth(token_of("ServiceNow"))
        .json(&json!({"action": "restartDevice", "deviceId": "room-kyoto",
            "reference": "CHG0030002"}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 202);
}
