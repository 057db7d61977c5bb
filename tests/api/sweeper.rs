//! The sweep pass against a fake Graph over real HTTP: progress, failure, timeouts,
//! throttling, the deadline, and two sweepers on one store.

use std::time::Duration;

use graphgate::change::{Due, Pacing, Status};
use graphgate::sweeper::SweepSettings;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

async fn submit_restart(app: &TestApp, device: String) -> String {
    let response = app.post_change(restart(&device)).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["changeId"].as_str().unwrap().to_owned()
}

async fn mount_accepting(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path_regex("^/beta/teamwork/devices/([^/]+)/restart$"))
        .respond_with(accepted_for_its_device)
        .mount(&app.graph)
        .await;
}

async fn an_operation_is_followed_until_it_succeeds(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    mount_accepting(&app).await;
    let id = submit_restart(&app, "dev-1".into()).await;
    let op_path = "/beta/teamwork/devices/dev-1/operations/op-dev-1";
    Mock::given(method("GET"))
        .and(path(op_path))
        .respond_with(operation("queued"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .and(path(op_path))
        .respond_with(operation("InProgress"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .and(path(op_path))
        .respond_with(operation("Successful"))
        .mount(&app.graph)
        .await;

    let first = app.sweep().await;
    assert_eq!((first.due, first.polled, first.finished), (1, 1, 0));
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::Queued);
    let poll_base = Pacing::default().poll_base;
    assert_eq!(record.due(), Some(Due::Poll(app.now() + poll_base)));

    // Not due again until its next poll time, and then polled with a doubled wait.
    app.advance(poll_base - Duration::from_millis(1));
    assert_eq!(app.sweep().await.due, 0);
    app.advance(Duration::from_millis(1));
    app.sweep().await;
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::Running);
    assert_eq!(record.operation_status(), Some("InProgress"));
    assert_eq!(record.due(), Some(Due::Poll(app.now() + poll_base * 2)));

    app.advance(poll_base * 2);
    let last = app.sweep().await;
    assert_eq!(last.finished, 1);
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::Succeeded);
    assert_eq!(record.due(), None);
    let view: Value = app.get_change(TOKEN, &id).await.json().await.unwrap();
    assert_eq!(view["status"], "succeeded");

    let polls: Vec<_> = app
        .graph_requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "GET")
        .collect();
    assert_eq!(polls.len(), 3);
    assert!(
        polls
            .iter()
            .all(|r| bearer(r).starts_with("Bearer graph-token-"))
    );
}

async fn a_failed_operation_keeps_graphs_error(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    mount_accepting(&app).await;
    let id = submit_restart(&app, "dev-2".into()).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": {
            "id": "op-dev-2", "status": "failed", "operationType": "deviceRestart",
            "error": {"code": "DeviceOffline", "message": "The device did not respond."}}})))
        .mount(&app.graph)
        .await;
    let report = app.sweep().await;
    assert_eq!(report.finished, 1);
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::Failed);
    let failure = record.failure().unwrap();
    assert_eq!(failure.code, "DeviceOffline");
    assert_eq!(failure.message, "The device did not respond.");
}

async fn an_unknown_status_is_not_final(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    mount_accepting(&app).await;
    let id = submit_restart(&app, "dev-3".into()).await;
    Mock::given(method("GET"))
        .respond_with(operation("unknownFutureValue"))
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::Queued);
    assert_eq!(record.operation_status(), Some("unknownFutureValue"));
    assert!(record.due().is_some());
}

async fn an_operation_older_than_the_limit_times_out(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    mount_accepting(&app).await;
    let id = submit_restart(&app, "dev-4".into()).await;
    Mock::given(method("GET"))
        .respond_with(operation("queued"))
        .expect(2)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    assert_eq!(app.record(&id).await.status(), Status::Queued);
    app.advance(Pacing::default().operation_timeout);
    let at_the_limit = app.sweep().await;
    assert_eq!(
        (at_the_limit.polled, at_the_limit.finished),
        (1, 0),
        "not past it yet"
    );
    // Timed out at its next visit, without asking Graph again.
    let next = app.record(&id).await.due().unwrap().at();
    app.advance((next - app.now()).unsigned_abs());
    let report = app.sweep().await;
    assert_eq!(report.finished, 1);
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::TimedOut);
    let failure = record.failure().unwrap();
    assert_eq!(failure.code, "timedOut");
    assert_eq!(
        failure.message,
        "the operation had no final status after 4.0 h"
    );
}

async fn throttling_in_the_middle_of_a_pass_reschedules_by_retry_after(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    mount_accepting(&app).await;
    let ids: Vec<String> =
        futures::future::join_all((0..3).map(|i| submit_restart(&app, format!("dev-{i}")))).await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-1/operations/op-dev-1"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7.5"))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .respond_with(operation("succeeded"))
        .mount(&app.graph)
        .await;
    let report = app.sweep().await;
    assert_eq!((report.due, report.polled, report.finished), (3, 3, 2));
    let throttled = app.record(&ids[1]).await;
    assert_eq!(throttled.status(), Status::Queued);
    assert_eq!(
        throttled.due(),
        Some(Due::Poll(app.now() + Duration::from_millis(7500))),
        "waits as Graph asked"
    );
    for id in [&ids[0], &ids[2]] {
        assert_eq!(app.record(id).await.status(), Status::Succeeded);
    }
    // The throttled poll was not retried within the pass.
    let gets = app
        .graph_requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "GET")
        .count();
    assert_eq!(gets, 3);
}

async fn no_poll_starts_after_the_deadline_and_the_rest_stays_due(backend: Backend) {
    let app = spawn_app_with(Options {
        sweep: SweepSettings {
            concurrency: 1,
            ..Options::default().sweep
        },
        ..backend.options().await
    })
    .await;
    mount_accepting(&app).await;
    for i in 0..6 {
        submit_restart(&app, format!("dev-{i}")).await;
    }
    // Polls long beside what the store takes for each visit, even on a busy machine: time
    // for two or three of them before the deadline.
    Mock::given(method("GET"))
        .respond_with(operation("succeeded").set_delay(Duration::from_millis(600)))
        .mount(&app.graph)
        .await;
    let sweeper = app.app.sweeper();
    let report = sweeper
        .sweep_once(Instant::now() + Duration::from_millis(1350))
        .await
        .unwrap();
    assert_eq!(report.due, 6);
    assert!(report.polled >= 2 && report.polled <= 3, "{report:?}");
    assert_eq!(
        report.deferred,
        6 - report.polled,
        "no visit began after the deadline"
    );
    // A poll the deadline cut short is due again after its backoff, like the ones never
    // started, which stay due.
    app.advance(Pacing::default().poll_base);
    let next = sweeper.sweep_once(soon()).await.unwrap();
    assert_eq!(
        next.due,
        6 - report.finished,
        "unfinished work is still due: {next:?}"
    );
    assert_eq!(next.finished, next.due);
}

async fn two_sweepers_on_one_store_poll_each_due_change_once(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    mount_accepting(&app).await;
    futures::future::join_all((0..20).map(|i| submit_restart(&app, format!("dev-{i}")))).await;
    Mock::given(method("GET"))
        .respond_with(operation("InProgress").set_delay(Duration::from_millis(20)))
        .expect(20)
        .mount(&app.graph)
        .await;
    // Two sweepers as two processes would be: each with its own connection to the file.
    let a = app.app.sweeper();
    let b = app.second_sweeper().await;
    let (ra, rb) = tokio::join!(a.sweep_once(soon()), b.sweep_once(soon()));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.polled + rb.polled, 20, "{ra:?} {rb:?}");
    assert_eq!(ra.errors + rb.errors, 0);
}

/// A record stored before graphgate checked a Location's shape, holding one it cannot follow.
async fn a_stored_location_that_is_no_operation_fails_the_change_without_a_call(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let now = app.now();
    let location = url::Url::parse(&app.graph_url("/me/messages")).unwrap();
    let record = submitting(restart("dev-6"), now, now)
        .submitted(
            &graphgate::change::ActionOutcome::Accepted {
                location,
                request_id: None,
            },
            now,
            &Pacing {
                first_poll: Duration::ZERO,
                ..Pacing::default()
            },
        )
        .unwrap();
    app.store.insert(&record).await.unwrap();
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Failed);
    assert_eq!(record.failure().unwrap().code, "unusableLocation");
    assert!(
        app.graph_requests().await.is_empty(),
        "the token went nowhere"
    );
}

crate::on_every_store!(
    a_stored_location_that_is_no_operation_fails_the_change_without_a_call,
    an_operation_is_followed_until_it_succeeds,
    a_failed_operation_keeps_graphs_error,
    an_unknown_status_is_not_final,
    an_operation_older_than_the_limit_times_out,
    throttling_in_the_middle_of_a_pass_reschedules_by_retry_after,
    no_poll_starts_after_the_deadline_and_the_rest_stays_due,
    two_sweepers_on_one_store_poll_each_due_change_once,
);
