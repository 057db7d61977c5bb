//! Dry runs (`"dryRun": true`, and `--dry-run` in chat): every check a change meets, its
//! target looked up in Graph, and the exact request that would carry it out; Graph's action is
//! never called and nothing is recorded.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

async fn mount_device(app: &TestApp, id: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/beta/teamwork/devices/{id}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "deviceType": "teamsRoom", "healthStatus": "healthy"})))
        .mount(&app.graph)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/beta/teamwork/devices/{id}/health")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "softwareUpdateHealth": {"teamsClientSoftwareUpdateStatus": {
                "currentVersion": "1.0.96.20", "availableVersion": "1.0.96.22",
                "softwareFreshness": "updateAvailable"}}})))
        .mount(&app.graph)
        .await;
}

/// Whatever the app recorded: nothing, if every record is due (a new change always is).
async fn nothing_recorded(app: &TestApp) {
    let far = app.now() + std::time::Duration::from_secs(400 * 86_400);
    assert!(app.store.due(far, 10).await.unwrap().is_empty());
}

fn posts(requests: &[wiremock::Request]) -> usize {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

#[tokio::test]
async fn a_dry_run_shows_the_exact_request_and_the_devices_version_and_does_nothing() {
    let app = spawn_app().await;
    mount_device(&app, "room-1").await;
    let body = json!({"action": "updateSoftware", "deviceId": "room-1", "softwareType": "teamsClient",
        "softwareVersion": "1.0.96.22", "reference": "CHG1", "dryRun": true});
    let response = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "chg1-attempt")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["dryRun"], true);
    assert_eq!(answer["action"], "updateSoftware");
    assert_eq!(answer["reference"], "CHG1");
    assert_eq!(answer["currentVersion"], "1.0.96.20");
    assert_eq!(answer["target"]["id"], "room-1");
    assert_eq!(answer["target"]["deviceType"], "teamsRoom");
    assert_eq!(
        answer["requests"],
        json!([{"method": "POST", "url": app.graph_url("/teamwork/devices/room-1/updateSoftware"),
            "body": {"softwareType": "teamsClient", "softwareVersion": "1.0.96.22"}}])
    );
    assert!(answer.get("changeId").is_none());
    assert_eq!(posts(&app.graph_requests().await), 0, "no action was sent");
    nothing_recorded(&app).await;

    // The key was not kept: the real change under it is made, and sends what the dry run said.
    every_post(accepted("room-1")).mount(&app.graph).await;
    let mut real = body.clone();
    real["dryRun"] = json!(false);
    let made = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "chg1-attempt")
        .json(&real)
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 202);
    let sent: Vec<_> = app
        .graph_requests()
        .await
        .into_iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(sent.len(), 1);
    let said = url::Url::parse(answer["requests"][0]["url"].as_str().unwrap()).unwrap();
    assert_eq!(sent[0].url.path(), said.path());
    assert_eq!(
        sent[0].body_json::<Value>().unwrap(),
        answer["requests"][0]["body"]
    );
}

#[tokio::test]
async fn a_dry_run_of_an_upgrade_shows_the_installed_definition() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/v1.0/teams/team-1/installedApps/inst-1"))
        .and(query_param("$expand", "teamsAppDefinition"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "inst-1",
            "teamsAppDefinition": {"id": "def-3", "version": "1.0.3", "displayName": "Rooms"}})),
        )
        .mount(&app.graph)
        .await;
    let answer: Value = json_of(
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(TOKEN)
            .json(&json!({
        "action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1", "dryRun": true,
        "consentedPermissionSet": {"resourceSpecificPermissions": [
            {"permissionValue": "TeamSettings.Read.Group", "permissionType": "application"}]}})),
    )
    .await;
    assert_eq!(answer["dryRun"], true, "{answer}");
    assert_eq!(
        answer["target"],
        json!({"installationId": "inst-1", "teamsAppDefinition": {"id": "def-3", "version": "1.0.3"}})
    );
    assert_eq!(
        answer["requests"],
        json!([{"method": "POST",
            "url": format!("{}/v1.0/teams/team-1/installedApps/inst-1/upgrade", app.graph.uri()),
            "body": {"consentedPermissionSet": {"resourceSpecificPermissions": [
                {"permissionValue": "TeamSettings.Read.Group", "permissionType": "application"}]}}}])
    );
    assert_eq!(posts(&app.graph_requests().await), 0);
    nothing_recorded(&app).await;
}

#[tokio::test]
async fn a_dry_run_meets_every_check_a_change_does() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/gone-1"))
        .respond_with(graph_error(404, "NotFound", "req-404"))
        .mount(&app.graph)
        .await;
    let missing = problem(
        app.post_change(json!({"action": "restartDevice", "deviceId": "gone-1", "dryRun": true}))
            .await,
        422,
    )
    .await;
    assert_eq!(missing["type"], "urn:graphgate:problem:target-not-found");
    assert_eq!(missing["graphRequestId"], "req-404");
    assert!(
        missing["detail"]
            .as_str()
            .unwrap()
            .contains("device gone-1")
    );

    let invalid = problem(
        app.post_change(json!({"action": "restartDevice", "deviceId": "a/b", "dryRun": "yes"}))
            .await,
        400,
    )
    .await;
    assert_eq!(invalid["errorCount"], 2);
    let forbidden = problem(
        app.post_change_as(
            RESTART_ONLY_TOKEN,
            json!({"action": "runDiagnostics", "deviceId": "d1", "dryRun": true}),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(forbidden["action"], "runDiagnostics");
    let bad_callback = problem(
        app.post_change(
            json!({"action": "restartDevice", "deviceId": "d1", "dryRun": true,
            "callbackUrl": "http://10.0.0.1/hook"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(bad_callback["errors"][0]["field"], "callbackUrl");
    // Only the one device lookup reached Graph.
    let requests = app.graph_requests().await;
    assert_eq!(requests.len(), 1, "{requests:?}");
    nothing_recorded(&app).await;
}

#[tokio::test]
async fn the_simulator_confirms_devices_for_a_dry_run() {
    let (app, _) = spawn_simulated_app(Options::default()).await;
    let answer: Value = json_of(
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(TOKEN)
            .json(&json!({
        "action": "updateSoftware", "deviceId": "room-7", "softwareType": "teamsClient",
        "softwareVersion": "1.0.96.22", "dryRun": true})),
    )
    .await;
    assert_eq!(answer["currentVersion"], "1.0.96.20", "{answer}");
    let missing = problem(
        app.post_change(
            json!({"action": "restartDevice", "deviceId": "missing-1", "dryRun": true}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(missing["graphCode"], "NotFound");
    nothing_recorded(&app).await;
}
