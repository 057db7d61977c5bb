//! Callers limited to their devices (`devices` in the registry): a change to another device is
//! a 403 naming it, and Graph is not asked to change anything; a fleet filter and the
//! inventory take only the caller's devices. App upgrades are not devices: a limit does not
//! reach them.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

const LISBON_TOKEN: &str = "lisbon-token-0123456789abcdef0123456789";
const ROOMS_TOKEN: &str = "rooms-token-0123456789abcdef01234567890";

fn limited(name: &str, token: &str, devices: Value) -> Value {
    json!({"name": name, "auth": {"scheme": "bearer", "token": token}, "allow": ["*"],
        "devices": devices})
}

async fn limited_app() -> TestApp {
    spawn_app_with(Options {
        more_callers: vec![
            limited("lisbon", LISBON_TOKEN, json!({"idPatterns": ["lisbon-*"]})),
            limited("rooms", ROOMS_TOKEN, json!({"deviceTypes": ["teamsRoom"]})),
        ],
        ..Options::default()
    })
    .await
}

/// Graph's `POST`s: what graphgate asked it to change.
async fn posts(app: &TestApp) -> Vec<String> {
    app.graph_requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| r.url.path().to_owned())
        .collect()
}

async fn nothing_recorded(app: &TestApp) {
    let far = app.now() + Duration::from_secs(86_400);
    assert!(app.store.due(far, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_caller_limited_by_id_may_change_only_its_devices() {
    let app = limited_app().await;
    every_post(accepted("lisbon-room-1"))
        .mount(&app.graph)
        .await;

    for body in [
        restart("porto-room-1"),
        json!({"action": "restartDevice", "deviceId": "porto-room-1", "dryRun": true}),
    ] {
        let refused = problem(app.post_change_as(LISBON_TOKEN, body).await, 403).await;
        assert_eq!(refused["type"], "urn:graphgate:problem:device-forbidden");
        assert_eq!(refused["deviceId"], "porto-room-1");
        let detail = refused["detail"].as_str().unwrap();
        assert!(
            detail.contains("porto-room-1") && detail.contains("\"lisbon\""),
            "{detail}"
        );
    }
    assert!(
        app.graph_requests().await.is_empty(),
        "Graph is not called at all"
    );
    nothing_recorded(&app).await;

    // A fleet listing devices: the first outside the caller's is named, and all are listed.
    let fleet = problem(
        app.post_change_as(
            LISBON_TOKEN,
            json!({"action": "restartDevice", "deviceIds": ["lisbon-room-2", "porto-room-1", "faro-bar"]}),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(fleet["deviceId"], "porto-room-1");
    assert_eq!(fleet["deviceIds"], json!(["porto-room-1", "faro-bar"]));
    assert!(app.graph_requests().await.is_empty());
    nothing_recorded(&app).await;

    // Case counts, as in Graph's IDs.
    let shouted = problem(
        app.post_change_as(LISBON_TOKEN, restart("LISBON-room-1"))
            .await,
        403,
    )
    .await;
    assert_eq!(shouted["deviceId"], "LISBON-room-1");

    let taken = app
        .post_change_as(LISBON_TOKEN, restart("lisbon-room-1"))
        .await;
    assert_eq!(taken.status(), 202);
    assert_eq!(
        posts(&app).await,
        ["/beta/teamwork/devices/lisbon-room-1/restart"]
    );
}

#[tokio::test]
async fn a_device_of_another_type_and_an_unknown_device_are_refused_alike() {
    let app = limited_app().await;
    for (id, device_type) in [("room-1", "teamsRoom"), ("phone-1", "ipPhone")] {
        Mock::given(method("GET"))
            .and(path(format!("/beta/teamwork/devices/{id}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": id, "deviceType": device_type})),
            )
            .mount(&app.graph)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/ghost-1"))
        .respond_with(graph_error(404, "NotFound", "req-404"))
        .mount(&app.graph)
        .await;
    every_post(accepted("room-1")).mount(&app.graph).await;

    let phone = problem(
        app.post_change_as(ROOMS_TOKEN, restart("phone-1")).await,
        403,
    )
    .await;
    let ghost = problem(
        app.post_change_as(ROOMS_TOKEN, restart("ghost-1")).await,
        403,
    )
    .await;
    assert_eq!(phone["type"], "urn:graphgate:problem:device-forbidden");
    // Nothing but the ID tells the two apart: whether a device outside the caller's exists
    // is not the caller's to learn.
    let without_id = |p: &Value, id: &str| p.to_string().replace(id, "ID");
    assert_eq!(without_id(&phone, "phone-1"), without_id(&ghost, "ghost-1"));
    assert!(!ghost.to_string().contains("req-404"), "{ghost}");
    let dry = problem(
        app.post_change_as(
            ROOMS_TOKEN,
            json!({"action": "restartDevice", "deviceId": "phone-1", "dryRun": true}),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(dry["deviceId"], "phone-1");
    assert!(posts(&app).await.is_empty(), "Graph changed nothing");
    nothing_recorded(&app).await;

    // A caller limited by ID alone is not made to wait for a read of the device.
    let reads_before = app.graph_requests().await.len();
    problem(
        app.post_change_as(LISBON_TOKEN, restart("phone-1")).await,
        403,
    )
    .await;
    assert_eq!(app.graph_requests().await.len(), reads_before);

    let room = app.post_change_as(ROOMS_TOKEN, restart("room-1")).await;
    assert_eq!(room.status(), 202);
    assert_eq!(posts(&app).await, ["/beta/teamwork/devices/room-1/restart"]);
}

#[tokio::test]
async fn a_limit_does_not_reach_app_upgrades() {
    let app = limited_app().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/teams/team-1/installedApps/inst-1"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "inst-1",
            "teamsAppDefinition": {"id": "def-3", "version": "1.0.3"}})),
        )
        .mount(&app.graph)
        .await;
    let answer: Value = app
        .post_change_as(
            LISBON_TOKEN,
            json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1", "dryRun": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["dryRun"], true, "{answer}");
    assert_eq!(answer["target"]["installationId"], "inst-1");
}

#[tokio::test]
async fn a_fleet_filter_and_the_inventory_take_only_the_callers_devices() {
    let (app, state) = spawn_simulated_app(Options {
        more_callers: vec![limited(
            "rooms",
            ROOMS_TOKEN,
            json!({"idPatterns": ["room-*"], "deviceTypes": ["teamsRoom"]}),
        )],
        ..Options::default()
    })
    .await;
    state.seed_demo_fleet();

    let listed: Value = json_of(
        app.http
            .get(format!("{}/v1/devices", app.address))
            .bearer_auth(ROOMS_TOKEN),
    )
    .await;
    let ids: Vec<&str> = listed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["room-kyoto", "room-lisbon", "room-oslo"], "{listed}");
    assert_eq!(listed["count"], 3);

    // Every room behind on its Teams client: stale-room-quito is one, but not the caller's.
    let behind_rooms = json!({"action": "updateSoftware", "softwareType": "teamsClient",
        "softwareVersion": "1.0.96.22",
        "devices": {"deviceType": "teamsRoom", "updateAvailable": "teamsClient"}});
    let mut dry = behind_rooms.clone();
    dry["dryRun"] = json!(true);
    let rehearsal: Value = app
        .post_change_as(ROOMS_TOKEN, dry)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(rehearsal["target"]["count"], 2, "{rehearsal}");
    let made: Value = app
        .post_change_as(ROOMS_TOKEN, behind_rooms)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        made["devices"],
        json!(["room-lisbon", "room-oslo"]),
        "{made}"
    );

    // The tenant has a collaboration bar; the caller has none.
    let none = problem(
        app.post_change_as(
            ROOMS_TOKEN,
            json!({"action": "restartDevice", "devices": {"deviceType": "collaborationBar"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(none["type"], "urn:graphgate:problem:fleet-size");
    assert_eq!(none["found"], 0);

    // Listed devices are judged by type too: one Graph does not list is not the caller's.
    let listed_fleet = problem(
        app.post_change_as(
            ROOMS_TOKEN,
            json!({"action": "restartDevice", "deviceIds": ["room-lisbon", "room-atlantis"]}),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(listed_fleet["deviceIds"], json!(["room-atlantis"]));
}
