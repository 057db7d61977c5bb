//! Who may call: 401 without valid credentials, 403 for actions a caller is not allowed.

use graphgate::change::Status;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn requests_without_valid_credentials_get_401() {
    let app = spawn_app().await;
    let url = format!("{}/v1/changes", app.address);
    let body = json!({"action": "restartDevice", "deviceId": "d1"});
    let attempts = [
        app.http.post(&url).json(&body),
        app.http
            .post(&url)
            .bearer_auth("not-a-registered-token-0123456789")
            .json(&body),
        app.http
            .post(&url)
            .basic_auth("itsm", Some(TOKEN))
            .json(&body),
        app.http
            .post(&url)
            .header("authorization", TOKEN)
            .json(&body),
        app.http
            .post(&url)
            .header("authorization", "Bearer")
            .json(&body),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"graphgate\""
        );
        let p = problem(response, 401).await;
        assert_eq!(p["type"], "urn:graphgate:problem:unauthorized");
        assert!(!p.to_string().contains(TOKEN));
    }
    // Credentials are checked before the body is even read.
    let response = app.http.post(&url).body("not json").send().await.unwrap();
    problem(response, 401).await;
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn actions_outside_the_allow_list_get_403() {
    let app = spawn_app().await;
    let response = app
        .post_change_as(
            RESTART_ONLY_TOKEN,
            json!({"action": "updateSoftware", "deviceId": "d1", "softwareType": "firmware", "softwareVersion": "2"}),
        )
        .await;
    let p = problem(response, 403).await;
    assert_eq!(p["type"], "urn:graphgate:problem:forbidden");
    assert_eq!(p["action"], "updateSoftware");
    assert!(app.graph_requests().await.is_empty());

    every_post(accepted("d1")).expect(1).mount(&app.graph).await;
    let response = app
        .post_change_as(
            RESTART_ONLY_TOKEN,
            json!({"action": "restartDevice", "deviceId": "d1"}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let record = app.record(body["changeId"].as_str().unwrap()).await;
    assert_eq!(record.caller(), "chatops");
    assert_eq!(record.status(), Status::Queued);
}

#[tokio::test]
async fn a_change_is_visible_only_to_the_caller_that_made_it() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let body: Value = app
        .post_change(json!({"action": "restartDevice", "deviceId": "d1"}))
        .await
        .json()
        .await
        .unwrap();
    let id = body["changeId"].as_str().unwrap();

    assert_eq!(app.get_change(TOKEN, id).await.status(), 200);
    let other = problem(app.get_change(RESTART_ONLY_TOKEN, id).await, 404).await;
    let missing = problem(
        app.get_change(RESTART_ONLY_TOKEN, "6023af45-0471-4fe3-9c09-cead2855db3d")
            .await,
        404,
    )
    .await;
    assert_eq!(
        other, missing,
        "another caller's change looks exactly like a missing one"
    );
    problem(app.get_change(TOKEN, "..%2F..%2Fetc").await, 404).await;
    problem(
        app.get_change("wrong-token-0123456789abcdef0123456", id)
            .await,
        401,
    )
    .await;
}

#[test]
fn serve_refuses_to_start_without_callers() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_graphgate"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("GRAPHGATE_CALLERS")
        .env("GRAPH_TENANT_ID", "tenant-1")
        .env("GRAPH_CLIENT_ID", "app")
        .env("GRAPH_CLIENT_SECRET", CLIENT_SECRET)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("GRAPHGATE_CALLERS is required"), "{stderr}");
    assert!(!stderr.contains(CLIENT_SECRET));
}
