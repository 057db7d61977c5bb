//! graphgate against the built-in simulator, as `serve --simulate` runs it.

use std::time::Duration;

use graphgate::simulator::Faults;
use serde_json::{Value, json};

use crate::helpers::*;

fn update(device: &str) -> Value {
    json!({"action": "updateSoftware", "deviceId": device, "softwareType": "teamsClient", "softwareVersion": "1.0.96.22"})
}

#[tokio::test]
async fn a_device_action_is_queued_then_progresses_across_polls() {
    let (app, sim) = spawn_simulated_app(Options::default()).await;
    let response = app.post_change(update("dev-1")).await;
    assert_eq!(response.status(), 202);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let origin = location.split("/beta/").next().unwrap().to_owned();
    // A software update's Location comes in the OData key form, as Graph documents it.
    assert!(location.starts_with(&format!(
        "{origin}/beta/teamwork/devices('dev-1')/operations('"
    )));
    assert_eq!(sim.tokens_issued(), 1);

    // While the operation is queued, Graph answers 409 for the same device.
    let p = problem(app.post_change(update("dev-1")).await, 409).await;
    assert_eq!(p["deviceId"], "dev-1");
    // Another device is not affected.
    assert_eq!(app.post_change(update("dev-2")).await.status(), 202);

    let token = sim_token(&app.http, &format!("{origin}{TOKEN_PATH}"), &origin).await;
    let mut seen = Vec::new();
    for _ in 0..3 {
        let op = json_of(app.http.get(&location).bearer_auth(&token)).await;
        assert_eq!(op["operationType"], "softwareUpdate");
        seen.push(op["status"].as_str().unwrap().to_owned());
    }
    assert_eq!(seen, ["queued", "InProgress", "succeeded"]);
    // The device's operation list, which the sweeper reads to recover a change.
    let listed = json_of(
        app.http
            .get(format!("{origin}/beta/teamwork/devices/dev-1/operations"))
            .bearer_auth(&token),
    )
    .await;
    let ops = listed["value"].as_array().unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["operationType"], "softwareUpdate");
    assert_eq!(ops[0]["status"], "succeeded");
    assert!(location.ends_with(&format!("('{}')", ops[0]["id"].as_str().unwrap())));
    // Finished: the device takes a new action.
    assert_eq!(app.post_change(update("dev-1")).await.status(), 202);

    let unauthenticated = app.http.get(&location).send().await.unwrap();
    assert_eq!(unauthenticated.status(), 401);
}

#[tokio::test]
async fn the_simulator_refuses_unsupported_devices_with_404_unknown_error() {
    let (app, _) = spawn_simulated_app(Options::default()).await;
    let p = problem(app.post_change(update("unsupported-rally-bar")).await, 422).await;
    assert_eq!(p["graphStatus"], 404);
    assert_eq!(p["graphCode"], "UnknownError");
    assert!(p["graphRequestId"].is_string());
}

#[tokio::test]
async fn app_upgrades_in_every_scope_succeed() {
    let (app, _) = spawn_simulated_app(Options::default()).await;
    for scope in ["teamId", "chatId", "userId"] {
        let mut body = json!({"action": "upgradeApp", "installationId": "aW5zdGFsbA==",
            "consentedPermissionSet": {"resourceSpecificPermissions": [
                {"permissionValue": "ChannelMessage.Read.Group", "permissionType": "application"}]}});
        body[scope] = json!("19:abc@thread.v2");
        let response = app.post_change(body).await;
        assert_eq!(response.status(), 200, "{scope}");
    }
}

#[tokio::test]
async fn simulated_throttling_is_retried_through() {
    let (app, sim) = spawn_simulated_app(Options::default()).await;
    sim.set_faults(Faults {
        throttle: 2,
        retry_after_secs: 0.15,
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(app.post_change(update("dev-1")).await.status(), 202);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn a_simulated_outage_until_the_deadline_is_a_503() {
    let (app, sim) = spawn_simulated_app(Options {
        request_timeout: Duration::from_millis(800),
        ..Options::default()
    })
    .await;
    sim.set_faults(Faults {
        unavailable: 1000,
        latency_ms: 20,
        ..Faults::default()
    });
    let response = app.post_change(update("dev-1")).await;
    assert!(response.headers().contains_key("retry-after"));
    problem(response, 503).await;
}

#[tokio::test]
async fn faults_can_be_set_over_http() {
    let (app, _) = spawn_simulated_app(Options::default()).await;
    let response = app.post_change(update("dev-1")).await;
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let origin = location.split("/beta/").next().unwrap();
    let faults = json!({"throttle": 1, "retryAfterSecs": 2.128, "unavailable": 0, "latencyMs": 0});
    let put = app
        .http
        .put(format!("{origin}/_simulator/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let token = sim_token(&app.http, &format!("{origin}{TOKEN_PATH}"), origin).await;
    let throttled = app
        .http
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(throttled.status(), 429);
    assert_eq!(throttled.headers()["retry-after"], "2.128");
    let bad = app
        .http
        .put(format!("{origin}/_simulator/faults"))
        .json(&json!({"throttle": "many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422);
}

#[tokio::test]
async fn the_simulator_answers_411_to_a_post_without_a_length_as_graph_does() {
    let (app, sim) = spawn_simulated_app(Options::default()).await;
    let origin = app.app.graph.base().origin();
    let token = sim_token(&app.http, &format!("{origin}{TOKEN_PATH}"), &origin).await;
    let restart_url = format!("{origin}/beta/teamwork/devices/dev-9/restart");
    // reqwest, like hyper underneath it, sends a bodyless POST over HTTP/1.1 with no length.
    let bare = app
        .http
        .post(&restart_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(bare.version(), reqwest::Version::HTTP_11);
    assert_eq!(bare.status(), 411);
    let sized = app
        .http
        .post(&restart_url)
        .bearer_auth(&token)
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(sized.status(), 202);
    // graphgate's own bodyless actions get through.
    assert_eq!(app.post_change(restart("dev-10")).await.status(), 202);
    let diagnostics = json!({"action": "runDiagnostics", "deviceId": "dev-11"});
    assert_eq!(app.post_change(diagnostics).await.status(), 202);
    let upgrade = json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1"});
    assert_eq!(app.post_change(upgrade).await.status(), 200);
    assert_eq!(sim.tokens_issued(), 2, "the test's token and graphgate's");
}

#[tokio::test]
async fn both_location_forms_are_followed_and_graphs_operation_facts_kept() {
    let (app, _) = spawn_simulated_app(Options::default()).await;
    let mut changes = Vec::new();
    for body in [update("dev-a"), restart("dev-b")] {
        let response = app.post_change(body).await;
        assert_eq!(response.status(), 202);
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let created: Value = response.json().await.unwrap();
        changes.push((created["changeId"].as_str().unwrap().to_owned(), location));
    }
    assert!(
        changes[0]
            .1
            .contains("/teamwork/devices('dev-a')/operations('")
    );
    assert!(changes[1].1.contains("/teamwork/devices/dev-b/operations/"));
    // The simulator moves an operation on with each read: three passes see it finish.
    for _ in 0..3 {
        app.sweep().await;
        app.advance(Duration::from_secs(600));
    }
    for (id, location) in changes {
        let view = json_of(
            app.http
                .get(format!("{}/v1/changes/{id}", app.address))
                .bearer_auth(TOKEN),
        )
        .await;
        assert_eq!(view["status"], "succeeded", "{view}");
        let operation = &view["operation"];
        let op_id = operation["id"].as_str().unwrap();
        assert!(
            location.trim_end_matches("')").ends_with(op_id),
            "{location} {op_id}"
        );
        for field in [
            "createdDateTime",
            "startedDateTime",
            "completedDateTime",
            "lastActionDateTime",
        ] {
            let at = operation[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field} in {view}"));
            assert!(
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .is_ok()
            );
        }
        // graphgate's own timestamps stay beside Graph's.
        assert!(view["createdAt"].is_string() && view["updatedAt"].is_string());
    }
}

#[tokio::test]
async fn deprecation_headers_are_kept_per_api_and_the_change_goes_on() {
    let (app, sim) = spawn_simulated_app(Options::default()).await;
    sim.set_faults(Faults {
        deprecated: true,
        ..Faults::default()
    });
    let response = app.post_change(restart("dev-d")).await;
    assert_eq!(response.status(), 202, "a deprecated API is still used");
    app.sweep().await;
    let notices = app.app.graph.retirement_notices();
    let apis: Vec<_> = notices.iter().map(|n| n.api).collect();
    assert_eq!(apis, ["getOperation", "restartDevice"]);
    for notice in &notices {
        assert_eq!(
            notice.deprecation.as_deref(),
            Some("Sat, 01 Nov 2025 00:00:00 GMT")
        );
        assert_eq!(
            notice.sunset.as_deref(),
            Some("Sun, 01 Nov 2026 00:00:00 GMT")
        );
        assert!(
            notice
                .link
                .as_deref()
                .unwrap()
                .contains("rel=\"deprecation\"")
        );
    }
}

#[tokio::test]
async fn a_retired_device_api_is_its_own_problem_not_a_missing_device() {
    let (app, sim) = spawn_simulated_app(Options::default()).await;
    // A change already following its operation when the API goes away.
    let earlier = app.post_change(restart("dev-r1")).await;
    let earlier: Value = earlier.json().await.unwrap();
    sim.set_faults(Faults {
        retired: true,
        ..Faults::default()
    });
    let p = problem(app.post_change(restart("dev-r2")).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-api-retired");
    assert_eq!(p["graphStatus"], 400);
    assert_eq!(p["graphCode"], "BadRequest");
    assert_eq!(
        p["graphMessage"],
        "Resource not found for the segment 'devices'."
    );
    assert!(p["detail"].as_str().unwrap().contains("no longer serves"));
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), graphgate::change::Status::Failed);
    assert_eq!(record.failure().unwrap().code, "graphApiRetired");

    app.sweep().await;
    let earlier = app.record(earlier["changeId"].as_str().unwrap()).await;
    assert_eq!(earlier.status(), graphgate::change::Status::Failed);
    assert_eq!(earlier.failure().unwrap().code, "graphApiRetired");

    // App upgrades live in v1.0 and go on working.
    let upgrade = json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1"});
    assert_eq!(app.post_change(upgrade).await.status(), 200);
    // A device that does not take an action is still Graph refusing it, not a retired API.
    sim.set_faults(Faults::default());
    problem(app.post_change(update("unsupported-bar")).await, 422).await;
}

#[tokio::test]
async fn an_upgrade_whose_answer_was_lost_is_found_done_not_sent_twice() {
    let (app, _) = spawn_simulated_app(Options::default()).await;
    let origin = app.app.graph.base().origin();
    let token = sim_token(&app.http, &format!("{origin}{TOKEN_PATH}"), &origin).await;
    let installation = format!("{origin}/v1.0/chats/19:abc@thread.v2/installedApps/inst-9");
    let version = || async {
        json_of(
            app.http
                .get(format!("{installation}?$expand=teamsAppDefinition"))
                .bearer_auth(&token),
        )
        .await["teamsAppDefinition"]["version"]
            .clone()
    };

    // The intake notes the definition before upgrading.
    let body =
        json!({"action": "upgradeApp", "chatId": "19:abc@thread.v2", "installationId": "inst-9"});
    let response = app.post_change(body.clone()).await;
    assert_eq!(response.status(), 200);
    let done: Value = response.json().await.unwrap();
    let record = app.record(done["changeId"].as_str().unwrap()).await;
    assert_eq!(
        record.installed_before().unwrap().version.as_deref(),
        Some("1.0.0")
    );
    assert_eq!(version().await, "1.0.1");

    // A second change whose submitter died after Graph took its upgrade, before storing the
    // answer: recorded on 1.0.1, and the installation is now on 1.0.2.
    let created = app.now() - time::Duration::minutes(2);
    let lost = submitting(body, created, created + time::Duration::seconds(55))
        .with_installed_before(graphgate::change::AppDefinition {
            id: "inst-9-definition-1".into(),
            version: Some("1.0.1".into()),
        });
    app.store.insert(&lost).await.unwrap();
    let upgraded = app
        .http
        .post(format!("{installation}/upgrade"))
        .bearer_auth(&token)
        .header("content-length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(upgraded.status(), 204);
    assert_eq!(version().await, "1.0.2");

    app.sweep().await;
    assert_eq!(
        app.record(lost.id().as_ref()).await.status(),
        graphgate::change::Status::Succeeded
    );
    assert_eq!(
        version().await,
        "1.0.2",
        "recovery did not upgrade a second time"
    );
}
