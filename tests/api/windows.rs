//! Maintenance windows: a change with `notBefore`, `notAfter` or a daily `window` is
//! `scheduled` until its window opens, and Graph hears nothing of it until then; the sweeper
//! sends it when the window opens, lets it wait for the next one, or ends it `expired`.
//! `POST /v1/changes/{id}/cancel` cancels a change that has not reached Graph. On every store,
//! on the app's clock.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::*;
use crate::on_every_store;

/// Noon, on the day the tests are set.
fn noon() -> OffsetDateTime {
    OffsetDateTime::parse("2026-11-24T12:00:00Z", &Rfc3339).unwrap()
}

async fn app_at_noon(backend: Backend) -> TestApp {
    let app = spawn_app_with(Options {
        clock_start: Some(noon()),
        ..backend.options().await
    })
    .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    app
}

fn nightly(extra: Value) -> Value {
    let mut body = json!({"action": "restartDevice", "deviceId": "d1", "reference": "CHG7",
        "window": {"start": "22:00", "end": "05:00", "timeZone": "Europe/Lisbon"}});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

async fn a_windowed_change_goes_to_graph_only_when_its_window_opens(backend: Backend) {
    let app = app_at_noon(backend).await;
    let response = app.post_change(nightly(json!({}))).await;
    assert_eq!(response.status(), 202);
    assert!(response.headers().get("location").is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "scheduled");
    // Lisbon is on UTC in November.
    assert_eq!(body["opensAt"], "2026-11-24T22:00:00Z");
    let id = body["changeId"].as_str().unwrap().to_owned();
    let view = app.view(&id).await;
    assert_eq!(view["status"], "scheduled");
    assert_eq!(view["opensAt"], "2026-11-24T22:00:00Z");
    assert_eq!(
        view["window"],
        json!({"start": "22:00", "end": "05:00", "timeZone": "Europe/Lisbon"})
    );

    // Before the window, a pass finds nothing due.
    app.advance(Duration::from_secs(9 * 3600));
    assert_eq!(app.sweep().await.due, 0);
    assert!(app.graph_requests().await.is_empty(), "Graph heard nothing");

    app.advance(Duration::from_secs(3600 + 30));
    let report = app.sweep().await;
    assert_eq!(report.opened, 1, "{report:?}");
    let sent = app.graph_requests().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.path(), "/beta/teamwork/devices/d1/restart");
    let record = app.record(&id).await;
    assert_eq!(record.status().as_str(), "queued");
    assert_eq!(record.submitted_at(), app.now());

    app.sweep().await;
    let done: Value = app.view(&id).await;
    assert_eq!(done["status"], "succeeded");
}

async fn a_change_left_past_its_window_waits_for_the_next_or_expires(backend: Backend) {
    let app = app_at_noon(backend).await;
    let window = json!({"start": "22:00", "end": "23:00", "timeZone": "UTC"});
    let waits: Value = app
        .post_change(nightly(json!({"window": window})))
        .await
        .json()
        .await
        .unwrap();
    let expires: Value = app
        .post_change(nightly(json!({"window": window, "deviceId": "d2",
            "notAfter": "2026-11-24T22:30:00Z"})))
        .await
        .json()
        .await
        .unwrap();
    // No sweeper ran during the window (22:00 to 23:00).
    app.advance(Duration::from_secs(11 * 3600 + 1800));
    let report = app.sweep().await;
    assert_eq!((report.due, report.opened), (2, 0), "{report:?}");
    assert!(app.graph_requests().await.is_empty());

    let waiting: Value = app
        .get_change(TOKEN, waits["changeId"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(waiting["status"], "scheduled");
    assert_eq!(waiting["opensAt"], "2026-11-25T22:00:00Z");
    let expired: Value = app
        .get_change(TOKEN, expires["changeId"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["failure"]["code"], "expired");
}

async fn a_change_that_has_not_reached_graph_can_be_cancelled(backend: Backend) {
    let app = app_at_noon(backend).await;
    let scheduled: Value = app
        .post_change(nightly(json!({"notBefore": "2026-11-24T23:00:00Z"})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(scheduled["opensAt"], "2026-11-24T23:00:00Z");
    let id = scheduled["changeId"].as_str().unwrap();
    problem(app.cancel_change(RESTART_ONLY_TOKEN, id).await, 404).await;

    let cancelled = app.cancel_change(TOKEN, id).await;
    assert_eq!(cancelled.status(), 200);
    let view: Value = cancelled.json().await.unwrap();
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["failure"]["code"], "cancelled");
    let again: Value = app.cancel_change(TOKEN, id).await.json().await.unwrap();
    assert_eq!(again, view, "cancelling twice answers the same");

    app.advance(Duration::from_secs(12 * 3600));
    app.sweep().await;
    assert!(app.graph_requests().await.is_empty(), "Graph heard nothing");

    // A change that reached Graph cannot be cancelled.
    let sent: Value = app.post_change(restart("d3")).await.json().await.unwrap();
    let late = problem(
        app.cancel_change(TOKEN, sent["changeId"].as_str().unwrap())
            .await,
        409,
    )
    .await;
    assert_eq!(late["type"], "urn:graphgate:problem:not-cancellable");
    assert_eq!(late["changeStatus"], "queued");
    problem(app.cancel_change(TOKEN, "not-a-change").await, 404).await;
}

on_every_store!(
    a_windowed_change_goes_to_graph_only_when_its_window_opens,
    a_change_left_past_its_window_waits_for_the_next_or_expires,
    a_change_that_has_not_reached_graph_can_be_cancelled,
);

#[tokio::test]
async fn a_window_that_cannot_open_in_time_is_refused() {
    let app = app_at_noon(Backend::Sqlite).await;
    for (extra, field, detail) in [
        (
            json!({"notAfter": "2026-11-24T11:00:00Z"}),
            "notAfter",
            "has already passed",
        ),
        (
            json!({"notAfter": "2026-11-24T21:00:00Z"}),
            "window",
            "does not open before notAfter",
        ),
        (
            json!({"window": {"start": "22:00", "end": "05:00", "timeZone": "Moon/Base"}}),
            "window.timeZone",
            "\"Moon/Base\" is not an IANA time zone, such as Europe/Lisbon",
        ),
    ] {
        let refused = problem(app.post_change(nightly(extra)).await, 400).await;
        assert_eq!(refused["errors"][0]["field"], field);
        assert_eq!(refused["errors"][0]["detail"], detail);
    }
    // A dry run says when the change would go.
    let rehearsal: Value = app
        .post_change(nightly(json!({"dryRun": true})))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rehearsal["opensAt"], "2026-11-24T22:00:00Z", "{rehearsal}");
    assert!(
        app.graph_requests()
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET")
    );
}

#[tokio::test]
async fn a_scheduled_change_graph_does_not_take_waits_for_the_window_again() {
    let app = spawn_app_with(Options {
        clock_start: Some(noon()),
        ..Options::default()
    })
    .await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            graph_error(429, "TooManyRequests", "req-429").insert_header("Retry-After", "0.01"),
        )
        .up_to_n_times(5)
        .with_priority(1)
        .mount(&app.graph)
        .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let made: Value = app
        .post_change(nightly(
            json!({"window": {"start": "22:00", "end": "23:00", "timeZone": "UTC"}}),
        ))
        .await
        .json()
        .await
        .unwrap();
    let id = made["changeId"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(10 * 3600));
    app.sweep().await;
    let waiting: Value = app.view(&id).await;
    assert_eq!(waiting["status"], "scheduled", "{waiting}");
    assert!(waiting["opensAt"].is_string());
    // Past the window it waits for tomorrow's, and is not sent outside it.
    app.advance(Duration::from_secs(3600 + 60));
    app.sweep().await;
    let tomorrow: Value = app.view(&id).await;
    assert_eq!(tomorrow["opensAt"], "2026-11-25T22:00:00Z", "{tomorrow}");
    assert_eq!(
        app.graph_requests().await.len(),
        5,
        "only the throttled attempts"
    );
    app.advance(Duration::from_secs(23 * 3600));
    app.sweep().await;
    assert_eq!(app.record(&id).await.status().as_str(), "queued");
}
