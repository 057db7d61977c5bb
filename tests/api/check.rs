//! The preflight check: `graphgate check` against the simulator, and `GET /v1/check` against
//! a fake Entra and Graph. What the check reports comes from the token Entra issued and from
//! what Graph answered, never from configuration alone.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use graphgate::simulator::{self, Faults, SimulatorState};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// Runs `graphgate check` against the simulator at `origin`; its exit code and stdout.
async fn run_check(origin: &str, args: &[&str]) -> (i32, String) {
    let args: Vec<&str> = std::iter::once("check")
        .chain(args.iter().copied())
        .collect();
    run_cli(origin, &args).await
}

async fn simulator_with(faults: Faults) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let state = SimulatorState::default();
    state.set_faults(faults);
    tokio::spawn(simulator::serve(listener, state));
    origin
}

fn line<'a>(out: &'a str, capability: &str) -> &'a str {
    out.lines()
        .find(|l| l.trim_start().starts_with(&format!("{capability} ")))
        .unwrap_or_else(|| panic!("no line for {capability} in:\n{out}"))
}

#[tokio::test]
async fn check_reports_each_action_against_the_tokens_roles_and_the_retirement_notice() {
    let origin = simulator_with(Faults {
        deprecated: true,
        roles: Some(vec![
            "TeamworkDevice.ReadWrite.All".into(),
            "TeamsAppInstallation.ReadWriteSelfForChat.All".into(),
            "TeamsAppInstallation.ReadWriteAndConsentForUser.All".into(),
        ]),
        ..Faults::default()
    })
    .await;
    let (code, out) = run_check(&origin, &[]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("sign-in: ok; the token carries 3 application permission(s)"),
        "{out}"
    );
    assert!(out.contains("device API: served by Graph"), "{out}");
    assert!(line(&out, "restartDevice").ends_with("beta  yes (by TeamworkDevice.ReadWrite.All)"));
    assert!(
        line(&out, "upgradeApp (team)")
            .ends_with("v1.0  no: grant TeamsAppInstallation.ReadWriteForTeam.All"),
        "{out}"
    );
    assert!(
        line(&out, "upgradeApp (chat)").contains(
            "partly: TeamsAppInstallation.ReadWriteSelfForChat.All allows only graphgate's own app"
        ),
        "{out}"
    );
    assert!(line(&out, "upgradeApp (user, with consent)").contains("yes"));
    assert!(line(&out, "upgradeApp (user)").contains("yes"));
    assert!(
        out.contains(
            "listDevices: Deprecation Sat, 01 Nov 2025 00:00:00 GMT, Sunset Sun, 01 Nov 2026"
        ),
        "{out}"
    );
    assert!(out.contains("\nready: "), "{out}");

    let (code, json) = run_check(&origin, &["--json"]).await;
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(report["ready"], true);
    assert_eq!(report["signIn"]["outcome"], "signed");
    assert_eq!(report["deviceApi"]["state"], "available");
    assert_eq!(report["capabilities"][5]["capability"], "upgradeApp (team)");
    assert_eq!(report["capabilities"][5]["verdict"], "missing");
    assert_eq!(
        report["capabilities"][5]["grant"],
        "TeamsAppInstallation.ReadWriteForTeam.All"
    );
}

#[tokio::test]
async fn check_exits_non_zero_when_nothing_can_be_done() {
    let origin = simulator_with(Faults {
        roles: Some(vec![]),
        ..Faults::default()
    })
    .await;
    let (code, out) = run_check(&origin, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the token carries 0 application permission(s): none"),
        "{out}"
    );
    assert!(out.contains("NOT READY"), "{out}");
    // Graph refused the device list: the check says so rather than calling the API retired.
    assert!(
        out.contains("device API: could not be read: Graph refused graphgate's access: 403"),
        "{out}"
    );
}

#[tokio::test]
async fn reading_operations_alone_is_not_ready() {
    let origin = simulator_with(Faults {
        roles: Some(vec!["TeamworkDevice.Read.All".into()]),
        ..Faults::default()
    })
    .await;
    let (code, out) = run_check(&origin, &[]).await;
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "listOperations (recovery)").contains("yes (by TeamworkDevice.Read.All)"));
    assert!(line(&out, "readDevices (inventory)").contains("yes (by TeamworkDevice.Read.All)"));
    assert!(line(&out, "restartDevice").contains("no: grant TeamworkDevice.ReadWrite.All"));
    assert!(out.contains("NOT READY"), "{out}");
}

#[tokio::test]
async fn check_says_when_graph_no_longer_serves_the_device_api() {
    let origin = simulator_with(Faults {
        retired: true,
        ..Faults::default()
    })
    .await;
    let (code, out) = run_check(&origin, &[]).await;
    assert_eq!(code, 0, "upgrades still work: {out}");
    assert!(out.contains("device API: RETIRED"), "{out}");
    assert!(line(&out, "updateSoftware").ends_with("no: Graph no longer serves this API"));
    assert!(line(&out, "upgradeApp (team)").contains("yes"));
}

#[tokio::test]
async fn the_simulator_answers_403_to_a_token_without_the_permission() {
    let (app, sim) = spawn_simulated_app(Options::default()).await;
    sim.set_faults(Faults {
        roles: Some(vec!["TeamsAppInstallation.ReadWriteForTeam.All".into()]),
        ..Faults::default()
    });
    let body = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-permission");
    let upgrade = json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1"});
    assert_eq!(app.post_change(upgrade).await.status(), 200);
    // Consenting needs a permission of its own.
    let consenting = json!({"action": "upgradeApp", "teamId": "team-1", "installationId": "inst-1",
        "consentedPermissionSet": {"resourceSpecificPermissions": [
            {"permissionValue": "ChannelMessage.Read.Group", "permissionType": "application"}]}});
    let body = problem(app.post_change(consenting).await, 502).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-consent-refused");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("TeamsAppInstallation.ReadWriteAndConsentForTeam.All"),
        "{body}"
    );
}

/// An app-only token as Entra issues them, with these application permissions.
fn entra_token(roles: &[&str]) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.c2lnbmF0dXJl",
        part(json!({"typ": "JWT", "alg": "RS256", "x5t": "abc"})),
        part(json!({"aud": "https://graph.microsoft.com", "roles": roles, "idtyp": "app"}))
    )
}

#[tokio::test]
async fn get_v1_check_reports_the_same_to_a_registered_caller() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    let token = entra_token(&["TeamworkDevice.ReadWrite.All"]);
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"token_type": "Bearer", "expires_in": 3599, "access_token": token}),
        ))
        .mount(&app.login)
        .await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices"))
        .and(query_param("$top", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Deprecation", "@1761955200")
                .insert_header("Sunset", "Sun, 01 Nov 2026 00:00:00 GMT")
                .set_body_json(json!({"value": []})),
        )
        .expect(1)
        .mount(&app.graph)
        .await;

    let anonymous = app
        .http
        .get(format!("{}/v1/check", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(anonymous, 401).await["type"],
        "urn:graphgate:problem:unauthorized"
    );

    let response = app
        .http
        .get(format!("{}/v1/check", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(!text.contains(&token) && !text.contains(CLIENT_SECRET));
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["roles"], json!(["TeamworkDevice.ReadWrite.All"]));
    assert_eq!(report["ready"], true);
    assert_eq!(report["capabilities"][0]["capability"], "updateSoftware");
    assert_eq!(report["capabilities"][0]["verdict"], "permitted");
    assert_eq!(report["capabilities"][5]["apiVersion"], "v1.0");
    assert_eq!(report["capabilities"][5]["verdict"], "missing");
    assert_eq!(
        report["retirementNotices"],
        json!([{"api": "listDevices", "deprecation": "@1761955200", "sunset": "Sun, 01 Nov 2026 00:00:00 GMT"}])
    );
    let graph = app.graph_requests().await;
    assert_eq!(bearer(&graph[0]), format!("Bearer {token}"));
}

#[tokio::test]
async fn a_token_that_is_not_a_jwt_is_reported_not_guessed_at() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(&app.graph)
        .await;
    let report = json_of(
        app.http
            .get(format!("{}/v1/check", app.address))
            .bearer_auth(TOKEN),
    )
    .await;
    assert_eq!(report["signIn"]["outcome"], "rolesUnreadable");
    assert!(report.get("roles").is_none());
    assert_eq!(report["capabilities"][1]["verdict"], "unknown");
    assert_eq!(
        report["capabilities"][1]["grant"],
        "TeamworkDevice.ReadWrite.All"
    );
    // Nothing is known to be impossible, so the check does not say nothing can be done.
    assert_eq!(report["ready"], true);
}

#[tokio::test]
async fn a_refused_sign_in_is_reported_without_the_secret() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    every_post(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": format!("AADSTS7000215: Invalid client secret provided: {CLIENT_SECRET}"),
        })))
        .mount(&app.login)
        .await;
    let response = app
        .http
        .get(format!("{}/v1/check", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(!text.contains(CLIENT_SECRET), "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["signIn"]["outcome"], "failed");
    assert_eq!(report["deviceApi"]["state"], "notChecked");
    assert_eq!(report["ready"], false);
    assert!(app.graph_requests().await.is_empty());
}
