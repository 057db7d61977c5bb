//! The sample API Gateway events in `events/` go through `lambda_http`'s own request parsing
//! and then the real Router, as the `intake` function runs them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use graphgate::lambda::{Trigger, on_schedule};
use serde_json::Value;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

fn event(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&sample_event(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn every_sample_event_goes_through_the_router() {
    // The signed events were signed at their own time, which the app's clock is set to.
    let app = spawn_app_with(Options {
        clock_start: Some(time::OffsetDateTime::from_unix_timestamp(1_795_428_000).unwrap()),
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path_regex(
            "^/beta/teamwork/devices/[^/]+/(updateSoftware|restart|runDiagnostics)$",
        ))
        .respond_with(accepted("0f3ce432-e432-0f3c-32e4-3c0f32e43c0f"))
        .expect(8)
        .mount(&app.graph)
        .await;
    Mock::given(method("POST"))
        .and(path_regex(
            "^/v1.0/teams/[^/]+/installedApps/[^/]+/upgrade$",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.graph)
        .await;

    Mock::given(method("GET"))
        .and(path_regex("^/beta/teamwork/devices$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"value": []})))
        .expect(1)
        .mount(&app.graph)
        .await;

    let expected = [
        ("healthz.json", 200),
        ("create-change-update-software.json", 202),
        ("create-change-restart-device.json", 202),
        ("function-url-create-change.json", 202),
        ("create-change-run-diagnostics.json", 202),
        ("create-change-upgrade-app.json", 200),
        ("create-change-unauthenticated.json", 401),
        ("create-change-standard-webhooks.json", 202),
        ("create-change-hmac-sha256.json", 202),
        ("slack-command.json", 200),
        ("teams-message.json", 200),
        ("get-change.json", 404),
        ("list-devices.json", 200),
    ];
    let sweeper_events = ["sweeper-eventbridge-rule.json", "sweeper-scheduler.json"];
    let mut files: Vec<String> =
        std::fs::read_dir(format!("{}/events", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|name| name.ends_with(".json"))
            .collect();
    files.sort();
    let mut covered: Vec<String> = expected
        .iter()
        .map(|(n, _)| n.to_string())
        .chain(sweeper_events.iter().map(|n| n.to_string()))
        .collect();
    covered.sort();
    assert_eq!(files, covered, "every sample event has an expectation");

    for (name, status) in expected {
        let (got, body) = app.through_router(event(name)).await;
        assert_eq!(got, status, "{name}: {body}");
        if name.starts_with("create-change-") && status < 300 {
            assert!(body["changeId"].is_string(), "{name}");
        }
        if name.starts_with("slack-") || name.starts_with("teams-") {
            assert!(
                body["text"]
                    .as_str()
                    .unwrap()
                    .starts_with("accepted: change "),
                "{name}: {body}"
            );
        }
    }
    let update = app
        .graph
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path().ends_with("/updateSoftware"))
        .unwrap();
    assert_eq!(
        update.body_json::<Value>().unwrap(),
        serde_json::json!({"softwareType": "teamsClient", "softwareVersion": "1.0.96.22"})
    );
}

#[tokio::test]
async fn the_lambda_deadline_bounds_graph_retries() {
    // The request timeout alone would allow 20 s; the invocation has 2.5 s left, less the
    // 1.5 s margin graphgate keeps to answer.
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_secs(20),
        ..Options::default()
    })
    .await;
    every_post(ResponseTemplate::new(503))
        .mount(&app.graph)
        .await;
    let mut request = event("create-change-restart-device.json");
    let mut context = lambda_http::Context::default();
    let deadline = SystemTime::now() + Duration::from_millis(2500);
    context.deadline = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    request.extensions_mut().insert(context);

    let started = std::time::Instant::now();
    let (status, body) = app.through_router(request).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "took {:?}",
        started.elapsed()
    );
    assert!(!app.graph.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_scheduler_events_run_a_sweep_pass() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    Mock::given(method("GET"))
        .respond_with(operation("succeeded"))
        .expect(2)
        .mount(&app.graph)
        .await;
    let sweeper = app.app.sweeper();
    for (name, trigger) in [
        (
            "sweeper-eventbridge-rule.json",
            Trigger::Rule {
                time: Some("2026-11-23T10:00:00Z".into()),
            },
        ),
        ("sweeper-scheduler.json", Trigger::Scheduler),
    ] {
        assert_eq!(app.post_change(restart("d1")).await.status(), 202);
        let payload: Value = serde_json::from_str(&sample_event(name)).unwrap();
        assert_eq!(Trigger::of(&payload), trigger, "{name}");
        let deadline = SystemTime::now() + Duration::from_secs(30);
        let report = on_schedule(&sweeper, &payload, deadline, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!((report.due, report.finished), (1, 1), "{name}");
    }
}

#[tokio::test]
async fn a_sweep_invoked_with_too_little_time_left_starts_nothing() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&app.graph)
        .await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    let deadline = SystemTime::now() + Duration::from_secs(3);
    let report = on_schedule(
        &app.app.sweeper(),
        &serde_json::json!({}),
        deadline,
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!((report.due, report.deferred, report.polled), (1, 1, 0));
}
