//! Verified outcomes: after Graph says an update succeeded, the sweeper reads the device's
//! software health until it reports the requested version, or the verification timeout
//! passes (`mismatch`); an app upgrade is verified from the installation's definition. The
//! callback waits for the answer and carries it. Against the simulator, whose devices report
//! a new version from the second read after the update, except `stale…` devices.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;
use crate::on_every_store;

async fn simulated(backend: Backend) -> TestApp {
    let options = backend.options().await;
    let (app, _) = spawn_simulated_app(Options {
        pacing: graphgate::change::Pacing {
            verify_timeout: Duration::from_secs(600),
            ..options.pacing
        },
        ..options
    })
    .await;
    app
}

fn update(device: &str) -> Value {
    json!({"action": "updateSoftware", "deviceId": device, "softwareType": "teamsClient",
        "softwareVersion": "1.0.96.22"})
}

/// Sweeps every 30 s of the app's clock until `id` has a verification with an answer.
async fn until_verified(app: &TestApp, id: &str) -> Value {
    for _ in 0..60 {
        app.sweep().await;
        let view = app.view(id).await;
        if view["verification"]["state"]
            .as_str()
            .is_some_and(|s| s != "pending")
        {
            return view;
        }
        app.advance(Duration::from_secs(30));
    }
    panic!("no verification answer for {id}");
}

async fn an_update_is_verified_when_the_device_reports_the_version(backend: Backend) {
    let app = simulated(backend).await;
    let hook = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&hook)
        .await;
    let mut body = update("room-7");
    body["callbackUrl"] = json!(format!("{}/hook", hook.uri()));
    let made: Value = app.post_change(body).await.json().await.unwrap();
    let id = made["changeId"].as_str().unwrap().to_owned();

    // The operation succeeds on its third read; the verification is then pending, and the
    // report waits for it.
    let mut succeeded = Value::Null;
    for _ in 0..10 {
        app.sweep().await;
        succeeded = app.view(&id).await;
        if succeeded["status"] == "succeeded" {
            break;
        }
        app.advance(Duration::from_secs(60));
    }
    assert_eq!(succeeded["status"], "succeeded", "{succeeded}");
    assert_eq!(succeeded["verification"]["state"], "pending");
    assert!(hook.received_requests().await.unwrap().is_empty());

    let view = until_verified(&app, &id).await;
    assert_eq!(view["verification"]["state"], "verified", "{view}");
    assert_eq!(view["verification"]["reportedVersion"], "1.0.96.22");
    assert!(view["verification"]["checkedAt"].is_string());
    assert!(view["verification"].get("until").is_none());
    app.sweep().await;
    let reports = hook.received_requests().await.unwrap();
    assert_eq!(reports.len(), 1);
    let report: Value = reports[0].body_json().unwrap();
    assert_eq!(
        report["data"]["verification"]["state"], "verified",
        "{report}"
    );
}

async fn a_device_that_never_reports_the_version_is_a_mismatch(backend: Backend) {
    let app = simulated(backend).await;
    let made: Value = app
        .post_change(update("stale-room-1"))
        .await
        .json()
        .await
        .unwrap();
    let id = made["changeId"].as_str().unwrap().to_owned();
    let view = until_verified(&app, &id).await;
    assert_eq!(view["status"], "succeeded");
    assert_eq!(view["verification"]["state"], "mismatch", "{view}");
    assert_eq!(view["verification"]["reportedVersion"], "1.0.96.20");
}

on_every_store!(
    an_update_is_verified_when_the_device_reports_the_version,
    a_device_that_never_reports_the_version_is_a_mismatch,
);

#[tokio::test]
async fn an_app_upgrade_is_verified_from_the_installations_definition() {
    let app = simulated(Backend::Sqlite).await;
    let made: Value = app
        .post_change(
            json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(made["status"], "succeeded");
    let id = made["changeId"].as_str().unwrap().to_owned();
    let view = until_verified(&app, &id).await;
    assert_eq!(view["verification"]["state"], "verified", "{view}");
    assert_eq!(view["verification"]["reportedVersion"], "1.0.1");
}

#[tokio::test]
async fn a_fleet_ends_once_its_children_are_verified() {
    let app = simulated(Backend::Sqlite).await;
    let made: Value = app
        .post_change(
            json!({"action": "updateSoftware", "softwareType": "teamsClient",
            "softwareVersion": "1.0.96.22", "deviceIds": ["room-a", "room-b", "stale-room-c"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = made["changeId"].as_str().unwrap().to_owned();
    let mut view = Value::Null;
    for _ in 0..80 {
        app.sweep().await;
        view = app.view(&id).await;
        if view["status"] != "running" {
            break;
        }
        app.advance(Duration::from_secs(30));
    }
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["fleet"]["counts"], json!({"succeeded": 3}));
    assert_eq!(
        view["fleet"]["verification"],
        json!({"verified": 2, "mismatch": 1})
    );
    let stale = view["fleet"]["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["deviceId"] == "stale-room-c")
        .unwrap();
    assert_eq!(stale["verification"], "mismatch");
}

#[tokio::test]
async fn a_device_whose_health_graph_refuses_ends_its_verification_at_once() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/d1/health"))
        .respond_with(graph_error(404, "NotFound", "req-health"))
        .with_priority(1)
        .mount(&app.graph)
        .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let made: Value = app.post_change(update("d1")).await.json().await.unwrap();
    let id = made["changeId"].as_str().unwrap().to_owned();
    app.sweep().await;
    assert_eq!(
        app.record(&id).await.verification().unwrap().state,
        graphgate::change::VerificationState::Pending
    );
    app.advance(Duration::from_secs(15));
    app.sweep().await;
    let view = app.view(&id).await;
    assert_eq!(view["status"], "succeeded");
    assert_eq!(
        view["verification"],
        json!({"state": "mismatch", "reason": "Graph answered 404 NotFound when asked for the target"})
    );
    let health_reads = app
        .graph_requests()
        .await
        .iter()
        .filter(|r| r.url.path().ends_with("/health"))
        .count();
    assert_eq!(health_reads, 1, "a refusal is not asked again");
}
