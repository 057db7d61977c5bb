//! Changes left in `submitting`: the intake died during the Graph call, or could not store
//! Graph's answer. The sweeper finds what Graph did, resubmits at most once, and loses nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graphgate::app::App;
use graphgate::change::{AppDefinition, ChangeRecord, Pacing, Status};
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn listed(ops: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"value": ops}))
}

/// A record as the intake writes it before calling Graph, made two minutes ago, whose
/// submitter's lease has already run out.
async fn stuck(app: &TestApp, body: Value) -> ChangeRecord {
    keep(app, stuck_record(app, body)).await
}

/// [`stuck`]'s record, not yet stored.
fn stuck_record(app: &TestApp, body: Value) -> ChangeRecord {
    let created = app.now() - time::Duration::minutes(2);
    submitting(body, created, created + time::Duration::seconds(55))
}

async fn keep(app: &TestApp, record: ChangeRecord) -> ChangeRecord {
    app.store.insert(&record).await.unwrap();
    record
}

async fn a_change_whose_intake_died_after_graphs_202_is_found_and_tracked(backend: Backend) {
    let graph = graph_fake().await;
    let login = MockServer::start().await;
    mount_token(&login, 3599).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("graphgate.db");
    let lock = Arc::new(Mutex::new(None::<rusqlite::Connection>));
    let action = Mock::given(method("POST")).and(path("/beta/teamwork/devices/dev-x/restart"));
    match backend {
        // Graph answers 202 at once, but the intake cannot store the answer: the database is
        // locked. The intake is killed while it waits, between Graph's 202 and the update.
        Backend::Sqlite => {
            let (db, lock) = (db.clone(), lock.clone());
            action.respond_with(move |_: &wiremock::Request| {
                let conn = rusqlite::Connection::open(&db).unwrap();
                conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
                *lock.lock().unwrap() = Some(conn);
                accepted("dev-x")
            })
        }
        // DynamoDB cannot be held still from here: Graph acts on the call, and its answer
        // arrives only after the intake is gone.
        Backend::DynamoDb | Backend::ShardedDynamoDb => {
            action.respond_with(accepted("dev-x").set_delay(Duration::from_secs(10)))
        }
    }
    .mount(&graph)
    .await;
    let options = Options {
        request_timeout: Duration::from_secs(20),
        ..backend.options().await
    };
    let env = env_for(&graph, &login, &db, &options);
    let (mut serve, lines) = start(
        &["serve", "--listen", "127.0.0.1:0"],
        dir.path(),
        &env,
        |l| after(l, "graphgate listening on ").is_some(),
    );
    let address = after(&lines, "graphgate listening on ").unwrap().to_owned();
    let submit = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{address}/v1/changes"))
            .bearer_auth(TOKEN)
            .json(&restart("dev-x"))
            .send()
            .await
    });
    eventually("Graph gets the action", Duration::from_secs(10), || async {
        (!graph.received_requests().await.unwrap().is_empty()).then_some(())
    })
    .await;
    // The intake dies between Graph's 202 and its own bookkeeping: time for the real process
    // to read the answer, which it keeps to itself.
    tokio::time::sleep(Duration::from_millis(300)).await;
    serve.0.kill().unwrap();
    serve.0.wait().unwrap();
    lock.lock().unwrap().take();
    assert!(submit.await.unwrap().is_err(), "the caller got no answer");

    // A fresh process on the same storage: the sweeper's.
    let clock = Arc::new(ManualClock::starting_at(OffsetDateTime::now_utc()));
    let settings = settings_for(&graph, &login, &db, &options, clock.clone()).await;
    let state = App::from_settings(settings).await.unwrap();
    let store = state.store.clone();
    let later = OffsetDateTime::now_utc() + time::Duration::hours(1);
    let pending = store.due(later, 10).await.unwrap();
    assert_eq!(pending.len(), 1);
    let record = pending.into_iter().next().unwrap();
    assert_eq!(record.status(), Status::Submitting);
    assert!(
        matches!(record.due(), Some(graphgate::change::Due::Lease(_))),
        "due when the lease runs out"
    );
    assert_eq!(state.sweeper().sweep_once(soon()).await.unwrap().due, 0);

    // Time passes and the lease runs out.
    clock.advance(options.request_timeout + Duration::from_secs(31));

    // Graph lists the operation the dead intake started, beside an older one.
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-x/operations"))
        .respond_with(listed(json!([
            {"id": "op-old", "operationType": "deviceRestart", "status": "succeeded",
             "createdDateTime": rfc3339(record.created_at() - time::Duration::hours(3))},
            {"id": "op-7", "operationType": "deviceRestart", "status": "queued",
             "createdDateTime": rfc3339(record.created_at() + time::Duration::seconds(1))},
        ])))
        .mount(&graph)
        .await;
    let report = state.sweeper().sweep_once(soon()).await.unwrap();
    assert_eq!((report.due, report.recovered), (1, 1));

    let adopted = store.get(record.id()).await.unwrap().unwrap();
    assert_eq!(adopted.status(), Status::Queued);
    assert!(!adopted.resubmitted());
    let location = format!(
        "{}/beta/teamwork/devices/dev-x/operations/op-7",
        graph.uri()
    );
    assert_eq!(adopted.location().as_ref().unwrap().as_str(), location);

    // From here it is tracked like any other change.
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-x/operations/op-7"))
        .respond_with(operation("Successful"))
        .mount(&graph)
        .await;
    clock.advance(Pacing::default().poll_base);
    state.sweeper().sweep_once(soon()).await.unwrap();
    assert_eq!(
        store.get(record.id()).await.unwrap().unwrap().status(),
        Status::Succeeded
    );
    // Graph received the action once: nothing was submitted twice.
    let posts = graph
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .count();
    assert_eq!(posts, 1);
}

async fn with_nothing_listed_the_change_is_resubmitted_once(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-1")).await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-1/operations"))
        .respond_with(listed(json!([])))
        .mount(&app.graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/dev-1/restart"))
        .respond_with(accepted("dev-1"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let report = app.sweep().await;
    assert_eq!(report.recovered, 1);
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Queued);
    assert!(record.resubmitted());
    assert!(
        record
            .location()
            .unwrap()
            .as_str()
            .ends_with("/operations/op-1")
    );
}

async fn a_resubmission_graph_answers_409_adopts_the_queued_operation(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-2")).await;
    // Listed without a creation time at first look, so it cannot be matched by time.
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-2/operations"))
        .respond_with(listed(json!([
            {"id": "op-q", "operationType": "deviceRestart", "status": "Scheduled"},
            {"id": "op-u", "operationType": "softwareUpdate", "status": "queued"}])))
        .mount(&app.graph)
        .await;
    every_post(graph_error(409, "Conflict", "req-409"))
        .expect(1)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Queued);
    assert!(
        record
            .location()
            .unwrap()
            .as_str()
            .ends_with("/devices/dev-2/operations/op-q")
    );
    assert_eq!(record.operation_status(), Some("Scheduled"));
}

async fn a_change_already_resubmitted_and_still_not_listed_fails_with_the_reason(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-3")).await;
    let record = app
        .store
        .update(&record.resubmitting().unwrap())
        .await
        .unwrap();
    Mock::given(method("GET"))
        .respond_with(listed(json!([])))
        .mount(&app.graph)
        .await;
    every_post(accepted("dev-3"))
        .expect(0)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Failed);
    assert_eq!(record.failure().unwrap().code, "lostSubmission");
}

async fn the_operation_list_is_followed_across_pages(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-4")).await;
    let next = app.graph_url("/teamwork/devices/dev-4/operations?$skiptoken=page2");
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-4/operations"))
        .and(wiremock::matchers::query_param("$skiptoken", "page2"))
        .respond_with(listed(
            json!([{"id": "op-p2", "operationType": "deviceRestart", "status": "InProgress",
            "createdDateTime": rfc3339(record.created_at() + time::Duration::seconds(2))}]),
        ))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-4/operations"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"value": [], "@odata.nextLink": next})),
        )
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Running);
    assert!(!record.resubmitted());
}

async fn a_next_link_off_the_graph_host_is_not_followed(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let elsewhere = MockServer::start().await;
    let record = stuck(&app, restart("dev-5")).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [],
            "@odata.nextLink": format!("{}/beta/teamwork/devices/dev-5/operations?page=2", elsewhere.uri())})))
        .mount(&app.graph)
        .await;
    app.sweep().await;
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "the token never left Graph"
    );
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Failed, "not left in submitting");
    assert_eq!(record.failure().unwrap().code, "unusableOperationList");
    assert!(
        app.graph_requests()
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET"),
        "nothing resubmitted when graphgate cannot tell"
    );
}

async fn a_stuck_app_upgrade_is_resubmitted(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(
        &app,
        json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1"}),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/v1.0/teams/t1/installedApps/i1/upgrade"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    assert_eq!(
        app.record(record.id().as_ref()).await.status(),
        Status::Succeeded
    );
}

/// An upgrade recorded as the intake records it, with the installation on `def-1`, whose
/// submitter died before storing Graph's answer.
async fn stuck_upgrade(app: &TestApp) -> ChangeRecord {
    let body = json!({"action": "upgradeApp", "teamId": "t1", "installationId": "i1"});
    let record = stuck_record(app, body).with_installed_before(AppDefinition {
        id: "def-1".into(),
        version: Some("1.0.1".into()),
    });
    keep(app, record).await
}

async fn installation_runs(app: &TestApp, definition: &str, version: &str) {
    Mock::given(method("GET"))
        .and(path("/v1.0/teams/t1/installedApps/i1"))
        .and(query_param("$expand", "teamsAppDefinition"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "i1",
            "teamsAppDefinition": {"id": definition, "teamsAppId": "app-1", "version": version},
        })))
        .expect(1)
        .mount(&app.graph)
        .await;
}

async fn a_lost_upgrade_that_took_effect_succeeds_without_a_second_call(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck_upgrade(&app).await;
    installation_runs(&app, "def-2", "1.0.2").await;
    every_post(ResponseTemplate::new(204))
        .expect(0)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    assert_eq!(
        app.record(record.id().as_ref()).await.status(),
        Status::Succeeded
    );
    let calls = app.graph_requests().await;
    assert!(
        calls.iter().all(|r| r.method.as_str() == "GET"),
        "no second upgrade"
    );
}

async fn a_lost_upgrade_that_did_not_take_effect_is_resubmitted_once(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck_upgrade(&app).await;
    installation_runs(&app, "def-1", "1.0.1").await;
    Mock::given(method("POST"))
        .and(path("/v1.0/teams/t1/installedApps/i1/upgrade"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    assert_eq!(
        app.record(record.id().as_ref()).await.status(),
        Status::Succeeded
    );
}

async fn a_lost_upgrade_is_looked_at_again_while_graph_is_unavailable(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck_upgrade(&app).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&app.graph)
        .await;
    every_post(ResponseTemplate::new(204))
        .expect(0)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let after = app.record(record.id().as_ref()).await;
    assert_eq!(after.status(), Status::Submitting);
    assert!(
        !after.resubmitted(),
        "nothing sent while graphgate cannot tell"
    );
    assert!(after.due().is_some());
}

async fn two_sweepers_resubmit_a_stuck_change_once(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-6")).await;
    Mock::given(method("GET"))
        .respond_with(listed(json!([])).set_delay(Duration::from_millis(50)))
        .mount(&app.graph)
        .await;
    every_post(accepted("dev-6"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let a = app.app.sweeper();
    let b = app.second_sweeper().await;
    let (ra, rb) = tokio::join!(a.sweep_once(soon()), b.sweep_once(soon()));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.recovered + rb.recovered, 1, "{ra:?} {rb:?}");
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Queued);
    assert!(record.resubmitted());
}

async fn a_change_stuck_past_the_operation_timeout_times_out(backend: Backend) {
    let app = spawn_app_with(Options {
        pacing: Pacing {
            operation_timeout: Duration::from_secs(60),
            ..Options::default().pacing
        },
        ..backend.options().await
    })
    .await;
    // Made two minutes ago, with the timeout at one.
    let record = stuck(&app, restart("dev-7")).await;
    Mock::given(method("GET"))
        .respond_with(listed(json!([])))
        .expect(0)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::TimedOut);
    assert_eq!(record.failure().unwrap().code, "unconfirmed");
}

async fn a_refused_operation_list_fails_the_change(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-8")).await;
    Mock::given(method("GET"))
        .respond_with(graph_error(403, "Forbidden", "req-403"))
        .mount(&app.graph)
        .await;
    every_post(accepted("dev-8"))
        .expect(0)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Failed);
    assert_eq!(
        record.failure().unwrap().request_id.as_deref(),
        Some("req-403")
    );
}

async fn a_throttled_resubmission_is_tried_again(backend: Backend) {
    let app = spawn_app_with(Options {
        retry: graphgate::graph::RetryPolicy {
            max_attempts: 1,
            ..Options::default().retry
        },
        ..backend.options().await
    })
    .await;
    let record = stuck(&app, restart("dev-9")).await;
    Mock::given(method("GET"))
        .respond_with(listed(json!([])))
        .mount(&app.graph)
        .await;
    every_post(ResponseTemplate::new(429).insert_header("Retry-After", "0.1"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(accepted("dev-9"))
        .expect(1)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let after_first = app.record(record.id().as_ref()).await;
    assert_eq!(after_first.status(), Status::Submitting);
    assert!(
        !after_first.resubmitted(),
        "Graph did not take it, so it may be sent again"
    );
    app.advance(Pacing::default().poll_base);
    app.sweep().await;
    assert_eq!(
        app.record(record.id().as_ref()).await.status(),
        Status::Queued
    );
}

async fn the_intake_never_overwrites_a_sweeper_that_took_over(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    every_post(accepted("dev-10").set_delay(Duration::from_millis(800)))
        .mount(&app.graph)
        .await;
    let submit = {
        let (http, address) = (app.http.clone(), app.address.clone());
        tokio::spawn(async move {
            http.post(format!("{address}/v1/changes"))
                .bearer_auth(TOKEN)
                .json(&restart("dev-10"))
                .send()
                .await
                .unwrap()
        })
    };
    // While Graph holds the intake's call, a sweeper takes the change over (as it would once
    // the lease ran out) and records what it found.
    let pending = eventually(
        "the intake records the change",
        Duration::from_secs(5),
        || async {
            let due = app
                .store
                .due(OffsetDateTime::now_utc() + time::Duration::hours(1), 10)
                .await
                .unwrap();
            due.into_iter().next()
        },
    )
    .await;
    let taken = pending.claim(app.now() + time::Duration::hours(1)).unwrap();
    let taken = app.store.update(&taken).await.unwrap();

    let response = submit.await.unwrap();
    assert_eq!(
        response.status(),
        202,
        "Graph accepted it, and the caller hears so"
    );
    let stored = app.record(pending.id().as_ref()).await;
    assert_eq!(stored, taken, "the sweeper's progress stands");
}

/// Change A updates a device's firmware and succeeds; 4.6 s later change B (same device,
/// teamsClient) is recorded, and its submitter dies before B reaches Graph. A's operation is
/// in B's window by time, but it is A's: B is resubmitted, never reported done on A's work.
async fn recovery_never_adopts_an_operation_another_change_started(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/dev-s/updateSoftware"))
        .respond_with(|request: &wiremock::Request| {
            let body: Value = request.body_json().unwrap();
            let op = match body["softwareType"].as_str() {
                Some("firmware") => "op-a",
                _ => "op-b",
            };
            ResponseTemplate::new(202).insert_header(
                "Location",
                format!("/teamwork/devices/dev-s/operations/{op}").as_str(),
            )
        })
        .mount(&app.graph)
        .await;
    let a_at = app.now();
    let firmware = json!({"action": "updateSoftware", "deviceId": "dev-s",
        "softwareType": "firmware", "softwareVersion": "1.0"});
    let a: Value = app.post_change(firmware).await.json().await.unwrap();
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-s/operations/op-a"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "op-a",
            "operationType": "softwareUpdate", "status": "succeeded",
            "createdDateTime": rfc3339(a_at)})),
        )
        .mount(&app.graph)
        .await;
    app.sweep().await;
    assert_eq!(
        app.record(a["changeId"].as_str().unwrap()).await.status(),
        Status::Succeeded
    );

    app.advance(Duration::from_millis(4600));
    let b_at = app.now();
    let teams_client = json!({"action": "updateSoftware", "deviceId": "dev-s",
        "softwareType": "teamsClient", "softwareVersion": "2.0"});
    let b = submitting(teams_client, b_at, b_at + time::Duration::seconds(35));
    app.store.insert(&b).await.unwrap();
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-s/operations"))
        .respond_with(listed(
            json!([{"id": "op-a", "operationType": "softwareUpdate",
            "status": "succeeded", "createdDateTime": rfc3339(a_at)}]),
        ))
        .mount(&app.graph)
        .await;
    app.advance(Duration::from_secs(40));
    app.sweep().await;

    let b = app.record(b.id().as_ref()).await;
    assert_ne!(
        b.status(),
        Status::Succeeded,
        "B's action never reached Graph before"
    );
    assert_eq!(b.status(), Status::Queued);
    assert!(b.resubmitted());
    assert!(b.location().unwrap().as_str().ends_with("/operations/op-b"));
    let posts: Vec<Value> = app
        .graph_requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.body_json().unwrap())
        .collect();
    assert_eq!(posts.len(), 2, "A's call, then B's own");
    assert_eq!(posts[1]["softwareType"], "teamsClient");
    assert_eq!(posts[1]["softwareVersion"], "2.0");
}

/// An operation Graph says it created more than the clock-skew allowance (5 s) before the
/// change was recorded is not the change's, even when no other change holds it.
async fn an_operation_from_before_the_change_is_not_adopted(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let record = stuck(&app, restart("dev-w")).await;
    let before = record.created_at() - time::Duration::seconds(6);
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/dev-w/operations"))
        .respond_with(listed(
            json!([{"id": "op-old", "operationType": "deviceRestart",
            "status": "succeeded", "createdDateTime": rfc3339(before)}]),
        ))
        .mount(&app.graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/dev-w/restart"))
        .respond_with(accepted("dev-w"))
        .expect(1)
        .mount(&app.graph)
        .await;
    app.sweep().await;
    let record = app.record(record.id().as_ref()).await;
    assert_eq!(record.status(), Status::Queued);
    assert!(
        record
            .location()
            .unwrap()
            .as_str()
            .ends_with("/operations/op-1")
    );
}

crate::on_every_store!(
    recovery_never_adopts_an_operation_another_change_started,
    an_operation_from_before_the_change_is_not_adopted,
    the_intake_never_overwrites_a_sweeper_that_took_over,
    two_sweepers_resubmit_a_stuck_change_once,
    a_change_stuck_past_the_operation_timeout_times_out,
    a_refused_operation_list_fails_the_change,
    a_throttled_resubmission_is_tried_again,
    a_change_whose_intake_died_after_graphs_202_is_found_and_tracked,
    with_nothing_listed_the_change_is_resubmitted_once,
    a_resubmission_graph_answers_409_adopts_the_queued_operation,
    a_change_already_resubmitted_and_still_not_listed_fails_with_the_reason,
    the_operation_list_is_followed_across_pages,
    a_next_link_off_the_graph_host_is_not_followed,
    a_stuck_app_upgrade_is_resubmitted,
    a_lost_upgrade_that_took_effect_succeeds_without_a_second_call,
    a_lost_upgrade_that_did_not_take_effect_is_resubmitted_once,
    a_lost_upgrade_is_looked_at_again_while_graph_is_unavailable,
);
