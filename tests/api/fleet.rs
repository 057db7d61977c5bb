//! Fleet changes: one `POST /v1/changes` for many devices becomes a parent and one child
//! change per device. The sweeper sends the children at the rollout's pace, stops the rest
//! when the failure budget is spent, and reports the parent once every child is final. On
//! every store, on the app's clock, against a Graph fake that records what it received.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::helpers::*;
use crate::on_every_store;

/// Graph taking `updateSoftware` and `restart` on any device, each operation final at its
/// first read: failed on devices whose ID starts with `fail`, succeeded on the rest.
async fn mount_fleet_graph(app: &TestApp) {
    Mock::given(method("POST"))
        .and(path_regex(
            "^/beta/teamwork/devices/[^/]+/(updateSoftware|restart)$",
        ))
        .respond_with(accepted_for_its_device)
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(
            "^/beta/teamwork/devices/[^/]+/operations/[^/]+$",
        ))
        .respond_with(|request: &Request| {
            let device = request.url.path().split('/').nth(4).unwrap().to_owned();
            let (status, error) = if device.starts_with("fail") {
                (
                    "failed",
                    json!({"code": "DeviceOffline", "message": "offline"}),
                )
            } else {
                ("succeeded", Value::Null)
            };
            ResponseTemplate::new(200).set_body_json(json!({"id": format!("op-{device}"),
                "operationType": "softwareUpdate", "status": status, "error": error,
                "createdDateTime": "2026-11-24T12:00:00Z"}))
        })
        .mount(&app.graph)
        .await;
}

/// Every device reports the Teams client version the fleet updates to.
async fn mount_updated_health(app: &TestApp) {
    Mock::given(method("GET"))
        .and(path_regex("^/beta/teamwork/devices/[^/]+/health$"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"softwareUpdateHealth": {
            "teamsClientSoftwareUpdateStatus": {"currentVersion": "1.0.96.22",
                "availableVersion": "1.0.96.22", "softwareFreshness": "latest"}}})),
        )
        .mount(&app.graph)
        .await;
}

/// Each device's action calls, in the order Graph received them.
async fn actions_by_device(app: &TestApp) -> BTreeMap<String, usize> {
    let mut by_device = BTreeMap::new();
    for r in app.graph_requests().await {
        if r.method.as_str() == "POST" {
            let device = r.url.path().split('/').nth(4).unwrap().to_owned();
            *by_device.entry(device).or_default() += 1;
        }
    }
    by_device
}

fn update_fleet(devices: &[String], rollout: Value) -> Value {
    json!({"action": "updateSoftware", "deviceIds": devices, "softwareType": "teamsClient",
        "softwareVersion": "1.0.96.22", "reference": "CHG-FLEET", "rollout": rollout})
}

/// Makes a fleet update of `devices` with `rollout`; its parent's change ID.
async fn start_fleet(app: &TestApp, devices: &[String], rollout: Value) -> String {
    let response = app.post_change(update_fleet(devices, rollout)).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["changeId"].as_str().unwrap().to_owned()
}

async fn fleet_app(backend: Backend) -> TestApp {
    let app = spawn_app_with(Options {
        clock_start: Some(
            OffsetDateTime::parse(
                "2026-11-24T12:00:00Z",
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap(),
        ),
        ..backend.options().await
    })
    .await;
    mount_fleet_graph(&app).await;
    mount_updated_health(&app).await;
    app
}

/// Sweeps every `step` of the app's clock until the change `id` is final (at most `passes`
/// passes), checking after each pass that no more children are in flight than
/// `max_concurrent`. Answers the clock time of each pass and Graph's action calls so far.
async fn sweep_until_final(
    app: &TestApp,
    id: &str,
    step: Duration,
    passes: usize,
    max_concurrent: usize,
) -> Vec<(OffsetDateTime, usize)> {
    let mut timeline = Vec::new();
    for _ in 0..passes {
        app.sweep().await;
        let parent = app.record(id).await;
        let fleet = parent.fleet().unwrap();
        assert!(
            fleet.in_flight().count() <= max_concurrent,
            "{} in flight",
            fleet.in_flight().count()
        );
        let sent = actions_by_device(app).await.values().sum();
        timeline.push((app.now(), sent));
        if parent.status().is_terminal() {
            return timeline;
        }
        app.advance(step);
    }
    panic!("the fleet did not finish in {passes} passes");
}

/// Graph's action calls within any minute, at most, from a timeline of passes.
fn most_in_a_minute(timeline: &[(OffsetDateTime, usize)]) -> usize {
    let mut most = 0;
    for (i, (start, _)) in timeline.iter().enumerate() {
        let before = if i == 0 { 0 } else { timeline[i - 1].1 };
        let within = timeline
            .iter()
            .take_while(|(at, _)| *at - *start < time::Duration::seconds(60))
            .last()
            .map_or(0, |(_, sent)| *sent);
        most = most.max(within - before);
    }
    most
}

async fn a_fleet_is_rolled_out_at_its_pace_and_reported_once(backend: Backend) {
    let app = fleet_app(backend).await;
    let devices: Vec<String> = (0..12).map(|i| format!("room-{i:02}")).collect();
    let response = app
        .post_change(update_fleet(
            &devices,
            json!({"maxConcurrent": 4, "perMinute": 6}),
        ))
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "running");
    assert_eq!(body["devices"], json!(devices));
    assert_eq!(body["rollout"], json!({"maxConcurrent": 4, "perMinute": 6}));
    let id = body["changeId"].as_str().unwrap().to_owned();
    assert!(
        app.graph_requests().await.is_empty(),
        "the sweeper sends the children"
    );

    let timeline = sweep_until_final(&app, &id, Duration::from_secs(10), 100, 4).await;
    assert!(most_in_a_minute(&timeline) <= 6, "{timeline:?}");
    let sent = actions_by_device(&app).await;
    assert_eq!(sent.len(), 12);
    assert!(sent.values().all(|n| *n == 1), "{sent:?}");
    // What Graph received for each device is the parent's action on that device.
    let first = app
        .graph_requests()
        .await
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(
        first.body_json::<Value>().unwrap(),
        json!({"softwareType": "teamsClient", "softwareVersion": "1.0.96.22"})
    );

    let view = app.view(&id).await;
    assert_eq!(view["status"], "succeeded");
    assert!(view.get("deviceId").is_none());
    assert_eq!(view["softwareVersion"], "1.0.96.22");
    assert_eq!(view["fleet"]["total"], 12);
    assert_eq!(view["fleet"]["counts"], json!({"succeeded": 12}));
    let child = &view["fleet"]["children"][3];
    assert_eq!(child["deviceId"], "room-03");
    assert_eq!(child["status"], "succeeded");
    let child_view: Value = app
        .get_change(TOKEN, child["changeId"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(child_view["deviceId"], "room-03");
    assert_eq!(child_view["parentChangeId"], id.as_str());
    assert_eq!(child_view["reference"], "CHG-FLEET");
    assert_eq!(child_view["status"], "succeeded");
}

async fn the_failure_budget_stops_the_rest_and_cancel_stops_what_is_left(backend: Backend) {
    let app = fleet_app(backend).await;
    let mut devices: Vec<String> = (0..3).map(|i| format!("fail-{i}")).collect();
    devices.extend((0..7).map(|i| format!("room-{i}")));
    let id = start_fleet(
        &app,
        &devices,
        json!({"maxConcurrent": 2, "perMinute": 60, "stopAfterFailures": 2}),
    )
    .await;
    sweep_until_final(&app, &id, Duration::from_secs(5), 50, 2).await;
    let view = app.view(&id).await;
    assert_eq!(view["status"], "failed");
    assert_eq!(view["failure"]["code"], "failureBudget");
    assert_eq!(view["fleet"]["stopped"], "failureBudget");
    assert_eq!(
        view["fleet"]["counts"],
        json!({"failed": 2, "cancelled": 8})
    );
    let sent = actions_by_device(&app).await;
    assert_eq!(sent.keys().collect::<Vec<_>>(), ["fail-0", "fail-1"]);

    // Cancelling a running fleet cancels the children not yet sent; those sent go on.
    let id = start_fleet(
        &app,
        &devices[3..],
        json!({"maxConcurrent": 3, "perMinute": 3}),
    )
    .await;
    app.sweep().await;
    let cancelled = app.cancel_change(TOKEN, &id).await;
    assert_eq!(cancelled.status(), 200);
    let view: Value = cancelled.json().await.unwrap();
    assert_eq!(view["fleet"]["stopped"], "cancelled");
    assert_eq!(view["fleet"]["counts"]["cancelled"], 4);
    sweep_until_final(&app, &id, Duration::from_secs(5), 20, 3).await;
    let view = app.view(&id).await;
    assert_eq!(view["status"], "cancelled", "{view}");
    assert_eq!(view["failure"]["code"], "cancelled");
    assert_eq!(
        view["fleet"]["counts"],
        json!({"succeeded": 3, "cancelled": 4})
    );
    assert_eq!(actions_by_device(&app).await.len(), 2 + 3);
}

/// Five hundred devices, 1% failing, swept to the end on the app's clock: every device sent
/// at most once, never more than `maxConcurrent` in flight or `perMinute` sent in a minute,
/// the budget stopping the rest, and the parent's counts adding up.
async fn five_hundred_devices_are_swept_to_the_end(backend: Backend) {
    let app = fleet_app(backend).await;
    let devices: Vec<String> = (0..500)
        .map(|i| {
            if i % 100 == 37 {
                format!("fail-{i:03}")
            } else {
                format!("room-{i:03}")
            }
        })
        .collect();
    let id = start_fleet(
        &app,
        &devices,
        json!({"maxConcurrent": 25, "perMinute": 120, "stopAfterFailures": 4}),
    )
    .await;
    let timeline = sweep_until_final(&app, &id, Duration::from_secs(15), 400, 25).await;
    assert!(most_in_a_minute(&timeline) <= 120, "{timeline:?}");

    let sent = actions_by_device(&app).await;
    assert!(sent.values().all(|n| *n == 1), "a device was sent twice");
    let parent = app.record(&id).await;
    let fleet = parent.fleet().unwrap();
    let counts: HashMap<&str, usize> = fleet.counts().into_iter().collect();
    assert_eq!(counts.values().sum::<usize>(), 500);
    assert_eq!(counts["failed"], 4, "{counts:?}");
    assert_eq!(counts["succeeded"] + counts["failed"], sent.len());
    assert_eq!(counts["cancelled"], 500 - sent.len());
    // The fourth failure (fail-337) spent the budget; fail-437 was never sent.
    assert!(sent.len() > 337 && sent.len() < 437, "{}", sent.len());
    assert!(!sent.contains_key("fail-437"));
    assert_eq!(parent.status().as_str(), "failed");
    // Every child sent has its own record, final, and points at the parent.
    for child in &fleet.children {
        match &child.change_id {
            Some(child_id) => {
                let record = app.record(child_id.as_ref()).await;
                assert_eq!(record.parent(), Some(parent.id()));
                assert_eq!(record.status(), child.status);
            }
            None => assert_eq!(child.status.as_str(), "cancelled"),
        }
    }
}

#[tokio::test]
async fn a_fleet_by_filter_takes_the_devices_the_inventory_shows() {
    let (app, state) = spawn_simulated_app(Options::default()).await;
    state.seed_demo_fleet();
    let behind_rooms = json!({"action": "updateSoftware", "softwareType": "teamsClient",
        "softwareVersion": "1.0.96.22",
        "devices": {"deviceType": "teamsRoom", "updateAvailable": "teamsClient"}});

    let mut dry = behind_rooms.clone();
    dry["dryRun"] = json!(true);
    let rehearsal: Value = app.post_change(dry).await.json().await.unwrap();
    assert_eq!(rehearsal["target"]["count"], 3, "{rehearsal}");
    assert_eq!(
        rehearsal["target"]["devices"],
        json!([{"deviceId": "room-lisbon", "currentVersion": "1.0.96.20"},
               {"deviceId": "room-oslo", "currentVersion": "1.0.96.20"},
               {"deviceId": "stale-room-quito", "currentVersion": "1.0.96.19"}])
    );
    let urls: Vec<&str> = rehearsal["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls.len(), 3);
    assert!(urls[2].ends_with("/beta/teamwork/devices/stale-room-quito/updateSoftware"));
    let far = app.now() + Duration::from_secs(86_400);
    assert!(
        app.store.due(far, 10).await.unwrap().is_empty(),
        "a dry run records nothing"
    );

    let made: Value = app.post_change(behind_rooms).await.json().await.unwrap();
    assert_eq!(
        made["devices"],
        json!(["room-lisbon", "room-oslo", "stale-room-quito"])
    );
    let id = made["changeId"].as_str().unwrap();
    let view = app.view(id).await;
    assert_eq!(
        view["fleet"]["filter"],
        json!({"deviceType": "teamsRoom", "updateAvailable": "teamsClient"})
    );
    assert_eq!(view["fleet"]["counts"], json!({"scheduled": 3}));

    let none = problem(
        app.post_change(json!({"action": "restartDevice", "devices": {"deviceType": "sip"}}))
            .await,
        422,
    )
    .await;
    assert_eq!(none["type"], "urn:graphgate:problem:fleet-size");
    assert_eq!(none["found"], 0);
}

#[tokio::test]
async fn a_windowed_fleet_sends_nothing_before_its_window() {
    let app = fleet_app(Backend::Sqlite).await;
    let mut body = update_fleet(&["room-1".into(), "room-2".into()], json!({}));
    body["window"] = json!({"start": "22:00", "end": "05:00", "timeZone": "UTC"});
    let made: Value = app.post_change(body).await.json().await.unwrap();
    assert_eq!(made["status"], "scheduled");
    assert_eq!(made["opensAt"], "2026-11-24T22:00:00Z");
    let id = made["changeId"].as_str().unwrap().to_owned();
    app.advance(Duration::from_secs(3600));
    assert_eq!(app.sweep().await.due, 0);
    assert!(app.graph_requests().await.is_empty(), "Graph heard nothing");
    app.advance(Duration::from_secs(9 * 3600));
    sweep_until_final(&app, &id, Duration::from_secs(5), 10, 10).await;
    assert_eq!(actions_by_device(&app).await.len(), 2);
}

/// A sweeper that stored a child's assignment and died before recording it: once its lease
/// is over, the device is known never to have been sent. In a cancelled fleet it is
/// cancelled too, so the fleet still ends; a final record under the child's ID keeps a late
/// sender from sending it.
async fn an_assigned_child_never_recorded_does_not_keep_a_cancelled_fleet_open(backend: Backend) {
    let app = fleet_app(backend).await;
    let devices: Vec<String> = (0..3).map(|i| format!("room-{i}")).collect();
    let id = start_fleet(&app, &devices, json!({"maxConcurrent": 2})).await;
    // What the dead sweeper stored: two children assigned, neither recorded nor sent.
    let parent = app.record(&id).await;
    let mut fleet = parent.fleet().unwrap().clone();
    let assigned = fleet.assign(app.now());
    assert_eq!(assigned.len(), 2);
    let planned = parent
        .fleet_advanced(fleet, app.now(), Duration::from_secs(15))
        .unwrap();
    app.store.update(&planned).await.unwrap();

    let cancelled = app.cancel_change(TOKEN, &id).await;
    assert_eq!(cancelled.status(), 200);
    app.advance(Duration::from_secs(60));
    sweep_until_final(&app, &id, Duration::from_secs(5), 5, 2).await;
    let view = app.view(&id).await;
    assert_eq!(view["status"], "cancelled", "{view}");
    assert_eq!(view["fleet"]["counts"], json!({"cancelled": 3}));
    assert!(
        actions_by_device(&app).await.is_empty(),
        "Graph heard nothing"
    );
    // The IDs the dead sweeper assigned are taken by final records: a late sender's insert
    // would fail, and it would send nothing.
    for (_, child) in assigned {
        let record = app.record(child.as_ref()).await;
        assert_eq!(record.status().as_str(), "cancelled");
        assert_eq!(record.failure().unwrap().code, "notTaken");
    }
}

/// Graph throttling one child past the retries: that child ends `notTaken`, and its device
/// is sent again as a new child once Graph's wait is over.
async fn a_child_graph_did_not_take_is_sent_again_as_a_new_child(backend: Backend) {
    let app = fleet_app(backend).await;
    Mock::given(method("POST"))
        .and(path_regex(
            "^/beta/teamwork/devices/room-busy/updateSoftware$",
        ))
        .respond_with(
            graph_error(429, "TooManyRequests", "req-429").insert_header("Retry-After", "0.01"),
        )
        .up_to_n_times(5)
        .with_priority(1)
        .mount(&app.graph)
        .await;
    let devices = vec!["room-busy".to_owned(), "room-calm".to_owned()];
    let id = start_fleet(&app, &devices, json!({})).await;
    app.sweep().await;
    let first = app.record(&id).await;
    let busy = &first.fleet().unwrap().children[0];
    assert_eq!(busy.status.as_str(), "scheduled", "waits to be sent again");
    assert_eq!(busy.change_id, None);
    sweep_until_final(&app, &id, Duration::from_secs(5), 20, 10).await;
    let view = app.view(&id).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["fleet"]["counts"], json!({"succeeded": 2}));
    let throttled = app
        .graph_requests()
        .await
        .iter()
        .filter(|r| r.url.path().ends_with("/room-busy/updateSoftware"))
        .count();
    assert_eq!(throttled, 6, "five throttled attempts, then the new child");
}

#[tokio::test]
async fn a_repeated_fleet_delivery_gets_the_first_answer_whatever_graph_says_now() {
    let (app, state) = spawn_simulated_app(Options::default()).await;
    state.seed_demo_fleet();
    let body = json!({"action": "restartDevice", "devices": {"deviceType": "teamsRoom"}});
    let post = || {
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(TOKEN)
            .header("Idempotency-Key", "CHG0077-restart-rooms")
            .json(&body)
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 202);
    let first: Value = first.json().await.unwrap();
    // Graph no longer lists the devices: the repeat still gets the first answer.
    state.set_faults(graphgate::simulator::Faults {
        retired: true,
        ..graphgate::simulator::Faults::default()
    });
    let again = post().await.unwrap();
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first);
}

on_every_store!(
    a_fleet_is_rolled_out_at_its_pace_and_reported_once,
    the_failure_budget_stops_the_rest_and_cancel_stops_what_is_left,
    five_hundred_devices_are_swept_to_the_end,
    an_assigned_child_never_recorded_does_not_keep_a_cancelled_fleet_open,
    a_child_graph_did_not_take_is_sent_again_as_a_new_child,
);

#[tokio::test]
async fn the_parent_reports_once_and_children_too_only_when_asked() {
    let app = fleet_app(Backend::Sqlite).await;
    let hook = wiremock::MockServer::start().await;
    every_post(ResponseTemplate::new(204)).mount(&hook).await;
    let devices = vec!["room-1".to_owned(), "room-2".to_owned()];
    let mut ids = Vec::new();
    for child_callbacks in [false, true] {
        let mut body = update_fleet(&devices, json!({"childCallbacks": child_callbacks}));
        body["callbackUrl"] = json!(format!("{}/hook", hook.uri()));
        let made: Value = app.post_change(body).await.json().await.unwrap();
        ids.push(made["changeId"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        sweep_until_final(&app, id, Duration::from_secs(20), 20, 10).await;
    }
    app.sweep().await;
    let reports: Vec<Value> = hook
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.body_json::<Value>().unwrap()["data"].clone())
        .collect();
    let about = |id: &str| reports.iter().filter(|r| r["changeId"] == id).count();
    assert_eq!(about(&ids[0]), 1, "the parent reports once");
    assert_eq!(about(&ids[1]), 1);
    let children: Vec<&Value> = reports
        .iter()
        .filter(|r| r.get("parentChangeId").is_some())
        .collect();
    assert_eq!(children.len(), 2, "{reports:?}");
    assert!(
        children
            .iter()
            .all(|c| c["parentChangeId"] == ids[1].as_str())
    );
    let parent = reports
        .iter()
        .find(|r| r["changeId"] == ids[0].as_str())
        .unwrap();
    assert_eq!(parent["fleet"]["counts"], json!({"succeeded": 2}));
    assert_eq!(parent["fleet"]["verification"], json!({"verified": 2}));
}

#[tokio::test]
async fn a_child_record_that_says_graph_did_not_take_it_sends_the_device_again() {
    let app = fleet_app(Backend::Sqlite).await;
    let devices = vec!["room-1".to_owned(), "room-2".to_owned()];
    let id = start_fleet(&app, &devices, json!({})).await;
    // A sweeper sent both children, Graph took neither, and its write of the parent that
    // said so was lost (a cancel, say, won the race): only the children's records say it.
    let parent = app.record(&id).await;
    let mut fleet = parent.fleet().unwrap().clone();
    let assigned = fleet.assign(app.now());
    let planned = parent
        .fleet_advanced(fleet, app.now(), Duration::from_secs(15))
        .unwrap();
    let parent = app.store.update(&planned).await.unwrap();
    for (device, child) in assigned {
        let record = graphgate::change::ChangeRecord::child(
            &parent,
            device,
            child,
            app.now(),
            app.now() + Duration::from_secs(10),
        );
        app.store.insert(&record).await.unwrap();
        let declined = record.not_taken(app.now()).unwrap();
        app.store.update(&declined).await.unwrap();
    }
    sweep_until_final(&app, &id, Duration::from_secs(20), 20, 10).await;
    let view = app.view(&id).await;
    assert_eq!(view["status"], "succeeded", "{view}");
    assert_eq!(view["fleet"]["counts"], json!({"succeeded": 2}));
    let sent = actions_by_device(&app).await;
    assert_eq!(
        sent.values().sum::<usize>(),
        2,
        "each device sent once, anew"
    );
}
