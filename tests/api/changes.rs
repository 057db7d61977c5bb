//! Every action, end to end: what the caller gets back and what Graph received.

use graphgate::change::Status;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn update_software_answers_202_with_the_absolute_operation_location() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/dev-1/updateSoftware"))
        .respond_with(accepted("dev-1"))
        .expect(1)
        .mount(&app.graph)
        .await;

    let response = app
        .post_change(json!({"action": "updateSoftware", "deviceId": "dev-1", "softwareType": "teamsClient",
            "softwareVersion": "1.0.96.22", "reference": "CHG0031234", "requestedBy": "alice@contoso.com"}))
        .await;

    assert_eq!(response.status(), 202);
    let operation = app.graph_url("/teamwork/devices/dev-1/operations/op-1");
    assert_eq!(response.headers()["location"], operation.as_str());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    assert_eq!(body["location"], operation.as_str());
    let id = body["changeId"].as_str().unwrap();
    assert_eq!(body["statusUrl"], format!("/v1/changes/{id}"));

    let received = app.graph_requests().await;
    assert_eq!(received.len(), 1);
    let call = &received[0];
    assert_eq!(
        call.body_json::<Value>().unwrap(),
        json!({"softwareType": "teamsClient", "softwareVersion": "1.0.96.22"})
    );
    assert!(bearer(call).starts_with("Bearer graph-token-"));
    let client_request_id = call.headers["client-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(client_request_id).is_ok());

    let record = app.record(id).await;
    assert_eq!(record.status(), Status::Queued);
    assert_eq!(record.caller(), "itsm");
    assert_eq!(record.graph_request_id(), Some("graph-request-1"));
    assert_eq!(record.location().unwrap().as_str(), operation);
    assert!(record.due().is_some());
}

#[tokio::test]
async fn restart_and_diagnostics_post_without_a_body() {
    let app = spawn_app().await;
    for (action, graph_action) in [
        ("restartDevice", "restart"),
        ("runDiagnostics", "runDiagnostics"),
    ] {
        Mock::given(method("POST"))
            .and(path(format!("/beta/teamwork/devices/dev-2/{graph_action}")))
            .respond_with(accepted("dev-2"))
            .expect(1)
            .mount(&app.graph)
            .await;
        let response = app
            .post_change(json!({"action": action, "deviceId": "dev-2"}))
            .await;
        assert_eq!(response.status(), 202, "{action}");
    }
    let received = app.graph_requests().await;
    assert_eq!(received.len(), 2);
    for call in &received {
        assert!(call.body.is_empty(), "{} had a body", call.url);
        assert_eq!(
            call.headers["content-length"], "0",
            "Graph answers 411 without it"
        );
    }
    // A fresh client-request-id for every call.
    assert_ne!(
        received[0].headers["client-request-id"],
        received[1].headers["client-request-id"]
    );
}

#[tokio::test]
async fn upgrade_app_in_every_scope_answers_200_succeeded() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"teamId": "team-1"}),
            "/v1.0/teams/team-1/installedApps/inst+1=/upgrade",
        ),
        (
            json!({"chatId": "19:abc@thread.v2"}),
            "/v1.0/chats/19:abc@thread.v2/installedApps/inst+1=/upgrade",
        ),
        (
            json!({"userId": "alice@contoso.com"}),
            "/v1.0/users/alice@contoso.com/teamwork/installedApps/inst+1=/upgrade",
        ),
    ];
    for (scope, graph_path) in &cases {
        Mock::given(method("POST"))
            .and(path(*graph_path))
            .respond_with(ResponseTemplate::new(204).insert_header("request-id", "upgrade-1"))
            .expect(1)
            .mount(&app.graph)
            .await;
        // Read before the upgrade, so that recovery can tell whether a lost call took effect.
        Mock::given(method("GET"))
            .and(path(graph_path.trim_end_matches("/upgrade")))
            .and(wiremock::matchers::query_param(
                "$expand",
                "teamsAppDefinition",
            ))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "inst+1=",
                "teamsAppDefinition": {"id": "def-7", "teamsAppId": "app-1", "version": "1.0.7"},
            })))
            .expect(1)
            .mount(&app.graph)
            .await;
        let mut body = json!({"action": "upgradeApp", "installationId": "inst+1="});
        body.as_object_mut()
            .unwrap()
            .extend(scope.as_object().unwrap().clone());
        let response = app.post_change(body).await;
        assert_eq!(response.status(), 200, "{scope}");
        assert!(response.headers().get("location").is_none());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status"], "succeeded");
        let record = app.record(body["changeId"].as_str().unwrap()).await;
        assert_eq!(record.status(), Status::Succeeded);
        // The definition noted before lets the sweeper verify the upgrade took.
        assert!(record.verifying(), "{scope}");
        let before = record.installed_before().expect("noted at intake");
        assert_eq!(
            (before.id.as_str(), before.version.as_deref()),
            ("def-7", Some("1.0.7"))
        );
    }
    let calls = app.graph_requests().await;
    let posts: Vec<_> = calls
        .iter()
        .filter(|c| c.method.as_str() == "POST")
        .collect();
    assert_eq!(posts.len(), cases.len());
    for call in posts {
        assert!(call.body.is_empty(), "no consent set means no body");
        assert_eq!(
            call.headers["content-length"], "0",
            "Graph answers 411 without it"
        );
    }
}

#[tokio::test]
async fn upgrade_app_forwards_the_consented_permission_set() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path("/v1.0/teams/team-1/installedApps/inst-1/upgrade"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.graph)
        .await;
    let consent = json!({"resourceSpecificPermissions": [
        {"permissionValue": "ChannelMessage.Read.Group", "permissionType": "application"},
        {"permissionValue": "TeamSettings.Read.Group", "permissionType": "delegated"}]});
    let response = app
        .post_change(
            json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1",
            "consentedPermissionSet": consent}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let received = app.graph_requests().await;
    let upgrade = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    assert_eq!(
        upgrade.body_json::<Value>().unwrap(),
        json!({"consentedPermissionSet": consent})
    );
}

#[tokio::test]
async fn the_caller_reads_its_change_back() {
    let app = spawn_app().await;
    every_post(accepted("dev-3")).mount(&app.graph).await;
    let created: Value = app
        .post_change(
            json!({"action": "restartDevice", "deviceId": "dev-3", "reference": "CHG1",
            "callbackUrl": "https://itsm.example.com/hooks/graphgate"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["changeId"].as_str().unwrap();

    let response = app.get_change(TOKEN, id).await;
    assert_eq!(response.status(), 200);
    let view: Value = response.json().await.unwrap();
    assert_eq!(view["changeId"], id);
    assert_eq!(view["status"], "queued");
    assert_eq!(view["action"], "restartDevice");
    assert_eq!(view["deviceId"], "dev-3");
    assert_eq!(view["reference"], "CHG1");
    assert_eq!(
        view["callbackUrl"],
        "https://itsm.example.com/hooks/graphgate"
    );
    assert_eq!(
        view["location"],
        app.graph_url("/teamwork/devices/dev-3/operations/op-1")
            .as_str()
    );
    for internal in ["caller", "version", "leaseUntil", "nextPollAt"] {
        assert!(view.get(internal).is_none(), "{internal} is internal");
    }
}

#[tokio::test]
async fn an_absolute_location_on_the_graph_host_is_kept() {
    let app = spawn_app().await;
    let absolute = app.graph_url("/teamwork/devices/dev-4/operations/op-9");
    every_post(ResponseTemplate::new(202).insert_header("Location", absolute.as_str()))
        .mount(&app.graph)
        .await;
    let response = app
        .post_change(json!({"action": "restartDevice", "deviceId": "dev-4"}))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(response.headers()["location"], absolute.as_str());
}

#[tokio::test]
async fn a_location_off_the_graph_host_is_refused_and_the_change_kept_for_reconciliation() {
    let app = spawn_app().await;
    let elsewhere = wiremock::MockServer::start().await;
    every_post(
        ResponseTemplate::new(202).insert_header(
            "Location",
            format!(
                "{}/beta/teamwork/devices/dev-5/operations/op-1",
                elsewhere.uri()
            )
            .as_str(),
        ),
    )
    .mount(&app.graph)
    .await;
    let response = app
        .post_change(json!({"action": "restartDevice", "deviceId": "dev-5"}))
        .await;
    let body = problem(response, 504).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-pending");
    let record = app.record(body["changeId"].as_str().unwrap()).await;
    assert_eq!(
        record.status(),
        Status::Submitting,
        "the sweeper reconciles it"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn the_change_is_recorded_before_graph_is_called() {
    let app = spawn_app().await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let (db, seen_by_graph) = (app.db.clone(), seen.clone());
    every_post(move |_: &wiremock::Request| {
        // What the store holds at the moment Graph receives the action.
        let conn = rusqlite::Connection::open(&db).unwrap();
        let statuses: Vec<String> = conn
            .prepare("SELECT status FROM changes")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        seen_by_graph.lock().unwrap().extend(statuses);
        accepted("dev-7")
    })
    .expect(1)
    .mount(&app.graph)
    .await;
    let response = app
        .post_change(json!({"action": "restartDevice", "deviceId": "dev-7"}))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(*seen.lock().unwrap(), ["submitting"]);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        app.record(body["changeId"].as_str().unwrap())
            .await
            .status(),
        Status::Queued
    );
}

#[tokio::test]
async fn a_graph_base_url_ending_in_a_version_still_sends_every_action_there() {
    let app = spawn_app_with(Options {
        graph_path: "/beta",
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path("/beta/teams/team-1/installedApps/inst-1/upgrade"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/dev-8/restart"))
        .respond_with(accepted("dev-8"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let upgrade = json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1"});
    assert_eq!(app.post_change(upgrade).await.status(), 200);
    let response = app.post_change(restart("dev-8")).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.headers()["location"],
        app.graph_url("/teamwork/devices/dev-8/operations/op-1")
            .as_str()
    );
}

#[tokio::test]
async fn an_action_graph_does_not_offer_in_the_tenants_cloud_is_refused_before_graph() {
    for (cloud, refused, taken) in [
        (
            "china",
            json!({"action": "upgradeApp", "chatId": "19:c@thread.v2", "installationId": "i1"}),
            restart("dev-cn"),
        ),
        (
            "usgov",
            json!({"action": "upgradeApp", "userId": "alice@contoso.us", "installationId": "i1"}),
            json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "i1"}),
        ),
        (
            "dod",
            json!({"action": "upgradeApp", "userId": "alice@contoso.us", "installationId": "i1"}),
            restart("dev-dod"),
        ),
    ] {
        let app = spawn_app_with(Options {
            cloud: Some(cloud),
            ..Options::default()
        })
        .await;
        Mock::given(method("POST"))
            .and(path("/v1.0/teams/team-1/installedApps/i1/upgrade"))
            .respond_with(ResponseTemplate::new(204))
            .mount(&app.graph)
            .await;
        Mock::given(method("POST"))
            .and(wiremock::matchers::path_regex(
                "^/beta/teamwork/devices/[^/]+/restart$",
            ))
            .respond_with(accepted("dev"))
            .mount(&app.graph)
            .await;
        let p = problem(app.post_change(refused).await, 422).await;
        assert_eq!(p["type"], "urn:graphgate:problem:not-in-cloud", "{cloud}");
        assert_eq!(p["action"], "upgradeApp");
        assert_eq!(p["cloud"], cloud);
        assert!(
            app.graph_requests().await.is_empty(),
            "{cloud}: no Graph call"
        );
        assert!(app.token_requests().await.is_empty(), "{cloud}: no sign-in");
        let status = app.post_change(taken).await.status().as_u16();
        assert!(status == 200 || status == 202, "{cloud}: {status}");
        let posts = app.graph_requests().await;
        let posts = posts.iter().filter(|r| r.method.as_str() == "POST");
        assert_eq!(posts.count(), 1, "{cloud}");
    }
}

#[tokio::test]
async fn a_location_that_is_no_device_operation_goes_the_recovery_path_not_the_poll() {
    for (device, location) in [
        ("dev-b", "/\\127.0.0.2:80/x"),
        ("dev-t", "/teamwork/devices/dev-t/operations/op\t1"),
        ("dev-m", "/me/messages"),
    ] {
        let app = spawn_app().await;
        every_post(ResponseTemplate::new(202).insert_header("Location", location))
            .mount(&app.graph)
            .await;
        let body = problem(app.post_change(restart(device)).await, 504).await;
        assert_eq!(
            body["type"], "urn:graphgate:problem:graph-pending",
            "{location:?}"
        );
        let record = app.record(body["changeId"].as_str().unwrap()).await;
        assert_eq!(record.status(), Status::Submitting);
        assert_eq!(record.location(), None, "{location:?} is never polled");

        // Once the intake's lease is over, the sweeper finds the operation Graph lists.
        Mock::given(method("GET"))
            .and(path(format!("/beta/teamwork/devices/{device}/operations")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": [
                {"id": "op-1", "operationType": "deviceRestart", "status": "queued",
                 "createdDateTime": time::OffsetDateTime::now_utc()
                    .format(&time::format_description::well_known::Rfc3339).unwrap()}]})))
            .mount(&app.graph)
            .await;
        app.advance(std::time::Duration::from_secs(60));
        app.sweep().await;
        let record = app.record(body["changeId"].as_str().unwrap()).await;
        assert_eq!(record.status(), Status::Queued, "{location:?}");
        assert_eq!(
            record.location().unwrap().as_str(),
            app.graph_url(&format!("/teamwork/devices/{device}/operations/op-1"))
        );
        let posts = app
            .graph_requests()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count();
        assert_eq!(posts, 1, "adopted, not resubmitted");
    }
}

#[tokio::test]
async fn a_guest_upn_goes_to_graph_as_one_percent_encoded_segment() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1.0/users/o'brien_contoso.com%23EXT%23@fabrikam.onmicrosoft.com/teamwork/installedApps/i1/upgrade",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&app.graph)
        .await;
    let upgrade = json!({"action": "upgradeApp",
        "userId": "o'brien_contoso.com#EXT#@fabrikam.onmicrosoft.com", "installationId": "i1"});
    let response = app.post_change(upgrade).await;
    assert_eq!(response.status(), 200);
    let created: Value = response.json().await.unwrap();
    let view: Value = app
        .get_change(TOKEN, created["changeId"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["userId"], "o'brien_contoso.com#EXT#@fabrikam.onmicrosoft.com",
        "recorded as sent"
    );
    // Elsewhere `#` still has no place.
    let p = problem(app.post_change(restart("dev#1")).await, 400).await;
    assert_eq!(p["errors"][0]["field"], "deviceId");
}
