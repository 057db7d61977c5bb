//! Slack slash commands and Teams outgoing webhooks: signed as each tool signs (computed here
//! from each tool's documentation), answered in words within the tool's deadline, and carried
//! out through the same checks as `/v1/changes`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use graphgate::change::USAGE;

use crate::helpers::*;

fn slack_form(text: &str, user: &str, team: &str, trigger: &str) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("token", "legacy-verification-token")
        .append_pair("team_id", team)
        .append_pair("user_id", user)
        .append_pair("user_name", "alice")
        .append_pair("command", "/graphgate")
        .append_pair("text", text)
        .append_pair(
            "response_url",
            "https://hooks.slack.com/commands/T0GRAPHG/1/abc",
        )
        .append_pair("trigger_id", trigger)
        .finish()
}

/// Posts `body` to the Slack route, signed as Slack signs at `timestamp` with `secret`.
async fn slack(app: &TestApp, body: &str, timestamp: i64, secret: &str) -> reqwest::Response {
    slack_request(&app.http, app, body, timestamp, secret)
        .send()
        .await
        .unwrap()
}

/// [`slack`]'s request, sent by `http`.
fn slack_request(
    http: &reqwest::Client,
    app: &TestApp,
    body: &str,
    timestamp: i64,
    secret: &str,
) -> reqwest::RequestBuilder {
    http.post(format!("{}/v1/slack/commands", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header(
            "x-slack-signature",
            slack_signature(secret.as_bytes(), timestamp, body.as_bytes()),
        )
        .body(body.to_owned())
}

async fn slack_text(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["response_type"], "ephemeral");
    body["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_slash_command_restarts_a_device_and_says_so() {
    let app = spawn_app().await;
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let now = app.now().unix_timestamp();
    let body = slack_form(
        "restart rally-1 --ticket CHG0060001",
        "U1ALICE",
        SLACK_TEAM,
        "1.2.abc",
    );
    let reply = slack_text(slack(&app, &body, now, SLACK_SECRET).await).await;
    assert!(reply.starts_with("accepted: change "), "{reply}");
    assert!(
        reply.contains("is queued for CHG0060001; Graph operation "),
        "{reply}"
    );
    let graph = app.graph_requests().await;
    assert_eq!(graph.len(), 1);
    assert!(
        graph[0]
            .url
            .path()
            .ends_with("/teamwork/devices/rally-1/restart")
    );
    let id = reply.split_whitespace().nth(2).unwrap();
    let record = app.record(id).await;
    assert_eq!(record.caller(), "slack");
    assert_eq!(record.reference(), Some("CHG0060001"));

    // Slack delivering the same command again (its trigger_id) changes nothing.
    let again = slack_text(slack(&app, &body, now, SLACK_SECRET).await).await;
    assert_eq!(again, reply);
    assert_eq!(app.graph_requests().await.len(), 1);

    // `status` reads the change back.
    let status = slack_form(&format!("status {id}"), "U1ALICE", SLACK_TEAM, "1.2.def");
    let said = slack_text(slack(&app, &status, now, SLACK_SECRET).await).await;
    assert!(
        said.contains(&format!("change {id} (restartDevice) is queued")),
        "{said}"
    );
}

#[tokio::test]
async fn a_dry_run_command_says_what_it_would_send_and_sends_nothing() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "rally-1", "deviceType": "collaborationBar", "healthStatus": "healthy",
            "softwareUpdateHealth": {"teamsClientSoftwareUpdateStatus": {"currentVersion": "1.0.96.20"}}})))
        .mount(&app.graph)
        .await;
    let now = app.now().unix_timestamp();
    let body = slack_form(
        "update-software rally-1 teamsClient 1.0.96.22 --dry-run",
        "U1ALICE",
        SLACK_TEAM,
        "1.2.dry",
    );
    let reply = slack_text(slack(&app, &body, now, SLACK_SECRET).await).await;
    assert_eq!(
        reply,
        format!(
            "dry run: updateSoftware would send POST {}; the device reports 1.0.96.20 now; nothing was done",
            app.graph_url("/teamwork/devices/rally-1/updateSoftware")
        )
    );
    assert!(
        app.graph_requests()
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET")
    );
    // The delivery was not kept: the same trigger without --dry-run is carried out.
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let real = slack_form("restart rally-1", "U1ALICE", SLACK_TEAM, "1.2.dry");
    let done = slack_text(slack(&app, &real, now, SLACK_SECRET).await).await;
    assert!(done.starts_with("accepted: change "), "{done}");
}

#[tokio::test]
async fn slack_gets_accepted_within_3_seconds_when_graph_is_slow() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    every_post(accepted("rally-1").set_delay(Duration::from_secs(4)))
        .mount(&app.graph)
        .await;
    let started = Instant::now();
    let body = slack_form("restart rally-1", "U1ALICE", SLACK_TEAM, "1.2.slow");
    let reply =
        slack_text(slack(&app, &body, app.now().unix_timestamp(), SLACK_SECRET).await).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(
        reply.contains("is recorded and on its way to Graph"),
        "{reply}"
    );
    // The change was recorded before Graph was asked, so nothing is lost.
    let id = reply.split_whitespace().nth(2).unwrap();
    assert_eq!(app.record(id).await.status().as_str(), "submitting");
}

/// A command whose delivery was cut off mid-way (the connection closed while Graph was being
/// asked) is not made again when Slack delivers it again: the repeat learns of the change.
#[tokio::test]
async fn a_command_whose_delivery_was_cut_off_is_not_carried_out_twice() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    every_post(accepted("rally-1").set_delay(Duration::from_secs(2)))
        .mount(&app.graph)
        .await;
    let now = app.now().unix_timestamp();
    let body = slack_form("restart rally-1", "U1ALICE", SLACK_TEAM, "1.2.cut");
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = slack_request(&impatient, &app, &body, now, SLACK_SECRET)
        .send()
        .await;
    assert!(gave_up.is_err());

    // The repeat waits for the cut-off delivery to be settled, however soon the server sees
    // that the connection closed.
    let again = slack(&app, &body, now, SLACK_SECRET).await;
    assert_eq!(again.status(), 504);
    let p: Value = again.json().await.unwrap();
    assert_eq!(p["type"], "urn:graphgate:problem:graph-pending");
    let id = p["changeId"].as_str().unwrap();
    assert_eq!(app.record(id).await.caller(), "slack");
    // The first delivery's submission goes on, once.
    eventually(
        "the first submission ends",
        Duration::from_secs(10),
        || async { (app.record(id).await.status().as_str() == "queued").then_some(()) },
    )
    .await;
    assert_eq!(app.graph_requests().await.len(), 1);
    assert_eq!(app.record(id).await.status().as_str(), "queued");
}

#[tokio::test]
async fn slack_requests_that_are_not_slacks_or_not_allowed_do_nothing() {
    let app = spawn_app().await;
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let now = app.now().unix_timestamp();
    let body = slack_form("restart rally-1", "U1ALICE", SLACK_TEAM, "t1");
    let unsigned = app
        .http
        .post(format!("{}/v1/slack/commands", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", "Bearer some-token-of-a-webhook-caller")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    for response in [
        slack(&app, &body, now, "some-other-signing-secret-123456").await,
        slack(&app, &body, now - 301, SLACK_SECRET).await,
        unsigned,
    ] {
        // What a Slack administrator reads is what Slack's route takes: no bearer token.
        assert!(response.headers().get("www-authenticate").is_none());
        let p = problem(response, 401).await;
        assert_eq!(p["type"], "urn:graphgate:problem:unauthorized");
        assert_eq!(
            p["detail"],
            "this route takes Slack's request signature: X-Slack-Signature and X-Slack-Request-Timestamp (within 5 minutes), signed with the Slack app's signing secret registered in GRAPHGATE_CALLERS"
        );
    }
    let outsider = slack_form("restart rally-1", "U9EVE", "T0OTHER", "t2");
    let reply = slack_text(slack(&app, &outsider, now, SLACK_SECRET).await).await;
    assert!(reply.contains("not among the Slack users"), "{reply}");
    for (text, says) in [
        ("reboot rally-1", "unknown command \"reboot\""),
        ("restart ../../etc", "deviceId:"),
        ("", "update-software <deviceId>"),
    ] {
        let form = slack_form(text, "U1ALICE", SLACK_TEAM, &format!("t-{text}"));
        let reply = slack_text(slack(&app, &form, now, SLACK_SECRET).await).await;
        assert!(reply.contains(says), "{text}: {reply}");
    }
    // Slack's certificate check is a signed POST with ssl_check=1.
    let check = slack(&app, "ssl_check=1&token=x", now, SLACK_SECRET).await;
    assert_eq!(check.status(), 200);
    assert!(app.graph_requests().await.is_empty());
    assert!(app.token_requests().await.is_empty());
}

fn teams_activity(text: &str, id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": "message",
        "id": id,
        "text": text,
        "from": {"id": "29:1abc", "name": "Bob Admin", "aadObjectId": "6d1f0b5e-0000-4000-8000-000000000001"},
        "conversation": {"id": "19:channel@thread.skype"},
        "channelData": {"tenant": {"id": "72f988bf-0000-4000-8000-000000000000"}},
    }))
    .unwrap()
}

async fn teams(app: &TestApp, body: Vec<u8>, token: &str) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/teams/messages", app.address))
        .header("content-type", "application/json")
        .header("authorization", teams_authorization(token, &body))
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_chat_caller_limited_to_its_devices_may_not_restart_another() {
    // A base64 token of 32 bytes, the `teams` caller's own being taken.
    let token = "bGlzYm9uLXJvb21zLW9ubHktd2ViaG9vay10b2tlbiE=";
    let app = spawn_app_with(Options {
        more_callers: vec![json!({
            "name": "teams-lisbon",
            "auth": {"scheme": "teams-outgoing-webhook", "secret": token},
            "allow": ["restartDevice"],
            "devices": {"idPatterns": ["lisbon-*"]},
        })],
        ..Options::default()
    })
    .await;
    every_post(accepted("lisbon-1")).mount(&app.graph).await;
    let reply: Value = teams(
        &app,
        teams_activity("<at>graphgate</at> restart porto-1", "1700000000101"),
        token,
    )
    .await
    .json()
    .await
    .unwrap();
    let text = reply["text"].as_str().unwrap();
    assert!(
        text.contains("porto-1") && text.contains("not one of them"),
        "{text}"
    );
    assert!(app.graph_requests().await.is_empty());

    let reply: Value = teams(
        &app,
        teams_activity("<at>graphgate</at> restart lisbon-1", "1700000000102"),
        token,
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(
        reply["text"]
            .as_str()
            .unwrap()
            .starts_with("accepted: change "),
        "{reply}"
    );
    assert_eq!(app.graph_requests().await.len(), 1);
}

#[tokio::test]
async fn a_teams_mention_restarts_a_device_and_refuses_what_it_may_not_do() {
    let app = spawn_app().await;
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let response = teams(
        &app,
        teams_activity("<at>graphgate</at>&nbsp;restart rally-1", "1700000000001"),
        TEAMS_TOKEN,
    )
    .await;
    assert_eq!(response.status(), 200);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["type"], "message");
    let text = reply["text"].as_str().unwrap();
    assert!(text.starts_with("accepted: change "), "{text}");
    assert_eq!(app.graph_requests().await.len(), 1);

    let upgrade = teams_activity("<at>graphgate</at> upgrade-app team t1 i1", "1700000000002");
    let reply: Value = teams(&app, upgrade, TEAMS_TOKEN)
        .await
        .json()
        .await
        .unwrap();
    assert!(
        reply["text"].as_str().unwrap().contains("not allowed"),
        "{reply}"
    );

    let forged = teams(
        &app,
        teams_activity("<at>graphgate</at> restart rally-2", "1700000000003"),
        "c29tZSBvdGhlciB0b2tlbiBvZiAzMiBieXRlcyEhISE=",
    )
    .await;
    let unsigned = app
        .http
        .post(format!("{}/v1/teams/messages", app.address))
        .header("content-type", "application/json")
        .body(teams_activity(
            "<at>graphgate</at> restart rally-2",
            "1700000000004",
        ))
        .send()
        .await
        .unwrap();
    for response in [forged, unsigned] {
        assert_eq!(
            response.headers()["www-authenticate"],
            "HMAC realm=\"graphgate\""
        );
        let p = problem(response, 401).await;
        assert_eq!(p["type"], "urn:graphgate:problem:unauthorized");
        assert_eq!(
            p["detail"],
            "this route takes a Teams outgoing webhook's signature: Authorization: HMAC <signature>, made with the security token Teams showed when the webhook was created, registered in GRAPHGATE_CALLERS"
        );
    }
    assert_eq!(app.graph_requests().await.len(), 1);
}

async fn finish_the_restart(app: &TestApp) {
    Mock::given(method("GET"))
        .respond_with(operation("succeeded"))
        .mount(&app.graph)
        .await;
    app.sweep().await;
    app.sweep().await;
}

#[tokio::test]
async fn the_final_result_goes_back_to_slacks_response_url_while_it_is_valid() {
    let slack_api = wiremock::MockServer::start().await;
    every_post(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack_api)
        .await;
    let app = spawn_app().await;
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", SLACK_TEAM)
        .append_pair("user_id", "U1ALICE")
        .append_pair("text", "restart rally-1 --ticket CHG0060002")
        .append_pair(
            "response_url",
            &format!("{}/commands/T0GRAPHG/1/abc", slack_api.uri()),
        )
        .append_pair("trigger_id", "1.2.result")
        .finish();
    let reply =
        slack_text(slack(&app, &form, app.now().unix_timestamp(), SLACK_SECRET).await).await;
    let id = reply.split_whitespace().nth(2).unwrap().to_owned();
    finish_the_restart(&app).await;

    let posted = slack_api.received_requests().await.unwrap();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].url.path(), "/commands/T0GRAPHG/1/abc");
    let message: Value = posted[0].body_json().unwrap();
    assert_eq!(message["response_type"], "ephemeral");
    let text = message["text"].as_str().unwrap();
    assert!(
        text.starts_with(&format!(
            "done: change {id} (restartDevice) is succeeded for CHG0060002"
        )),
        "{text}"
    );
    let record = app.record(&id).await;
    let delivery = record.callback().unwrap();
    assert_eq!(
        delivery.status,
        graphgate::change::DeliveryStatus::Delivered
    );
    assert_eq!(delivery.attempts[0].outcome, "200");
}

#[tokio::test]
async fn past_30_minutes_the_result_goes_to_the_callers_webhook_or_is_recorded_as_undeliverable() {
    let workflows = wiremock::MockServer::start().await;
    every_post(ResponseTemplate::new(202))
        .mount(&workflows)
        .await;
    let app = spawn_app_with(Options {
        more_callers: vec![json!({
            "name": "teams-results",
            "auth": {"scheme": "teams-outgoing-webhook", "secret": "cmVzdWx0cy13ZWJob29rLXRva2VuLW9mLTMyLWJ5dGVz"},
            "allow": ["restartDevice"],
            "chat": {"resultWebhookUrl": format!("{}/workflows/abc", workflows.uri())},
        })],
        ..Options::default()
    })
    .await;
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let reply: Value = teams(
        &app,
        teams_activity("<at>graphgate</at> restart rally-1", "1700000000010"),
        "cmVzdWx0cy13ZWJob29rLXRva2VuLW9mLTMyLWJ5dGVz",
    )
    .await
    .json()
    .await
    .unwrap();
    let teams_id = reply["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .nth(2)
        .unwrap()
        .to_owned();

    // A Slack command whose response_url expires before the change finishes, with no
    // fallback configured.
    let slack_api = wiremock::MockServer::start().await;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("team_id", SLACK_TEAM)
        .append_pair("user_id", "U1ALICE")
        .append_pair("text", "restart rally-1")
        .append_pair("response_url", &format!("{}/commands/x", slack_api.uri()))
        .finish();
    let slack_reply =
        slack_text(slack(&app, &form, app.now().unix_timestamp(), SLACK_SECRET).await).await;
    let slack_id = slack_reply.split_whitespace().nth(2).unwrap().to_owned();

    app.advance(Duration::from_secs(31 * 60));
    finish_the_restart(&app).await;

    let card = workflows.received_requests().await.unwrap();
    assert_eq!(card.len(), 1);
    let body: Value = card[0].body_json().unwrap();
    assert_eq!(
        body["attachments"][0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    let text = body["attachments"][0]["content"]["body"][0]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains(&format!("change {teams_id} (restartDevice) is succeeded")),
        "{text}"
    );

    assert!(
        slack_api.received_requests().await.unwrap().is_empty(),
        "expired"
    );
    let record = app.record(&slack_id).await;
    let delivery = record.callback().unwrap();
    assert_eq!(delivery.attempts.len(), 1, "nowhere to send it: tried once");
    assert_eq!(delivery.status, graphgate::change::DeliveryStatus::Failed);
    assert!(
        delivery.attempts[0]
            .outcome
            .contains("response_url has expired"),
        "{delivery:?}"
    );
    assert_eq!(record.due(), None);
}

/// Flags as a hostile tester typed them into Slack and Teams: none is `--dry-run`, so each is
/// refused, where once the real change was carried out with the stray word as its reference.
const MISTYPED_DRY_RUNS: [&str; 14] = [
    "-dry-run",
    "--dryrun",
    "--dry_run",
    "---dry-run",
    "--dry-rn",
    "--dry-run=yes",
    "\u{2212}\u{2212}dry-run", // minus signs
    "\u{2010}\u{2010}dry-run", // hyphens
    "\u{2014}\u{2014}dry-run", // two em dashes
    "\u{2015}dry-run",         // a horizontal bar
    "\u{FE58}dry-run",         // a small em dash
    "\u{FF0D}\u{FF0D}dry-run", // fullwidth hyphen-minus
    "\u{2014}-dry-run",
    "--force",
];

async fn teams_text(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    body["text"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_mistyped_flag_or_a_leftover_word_is_refused_with_the_grammar_and_nothing_is_done() {
    let app = spawn_app().await;
    every_post(accepted("rally-1")).mount(&app.graph).await;
    let now = app.now().unix_timestamp();
    for (i, flag) in MISTYPED_DRY_RUNS.iter().enumerate() {
        let text = format!("restart rally-1 {flag}");
        let form = slack_form(&text, "U1ALICE", SLACK_TEAM, &format!("typo.{i}"));
        let from_slack = slack_text(slack(&app, &form, now, SLACK_SECRET).await).await;
        let activity = teams_activity(
            &format!("<at>graphgate</at> {text}"),
            &format!("17000000001{i:02}"),
        );
        let from_teams = teams_text(teams(&app, activity, TEAMS_TOKEN).await).await;
        for reply in [from_slack, from_teams] {
            assert_eq!(
                reply,
                format!(
                    "{flag:?} looks like a flag but is not one: the flags are --dry-run and --ticket <reference>\n{USAGE}"
                )
            );
        }
    }
    let form = slack_form(
        "restart rally-1 CHG0030001",
        "U1ALICE",
        SLACK_TEAM,
        "typo.ticket",
    );
    let reply = slack_text(slack(&app, &form, now, SLACK_SECRET).await).await;
    assert_eq!(
        reply,
        format!("unexpected word \"CHG0030001\": name a ticket with --ticket CHG0030001\n{USAGE}")
    );
    assert!(app.graph_requests().await.is_empty());
    assert!(app.token_requests().await.is_empty());
    let far = app.now() + time::Duration::days(400);
    assert!(app.store.due(far, 10).await.unwrap().is_empty(), "recorded");
    // No delivery was kept: the same trigger, typed right, is carried out.
    let form = slack_form(
        "restart rally-1 --ticket CHG0030001",
        "U1ALICE",
        SLACK_TEAM,
        "typo.0",
    );
    let reply = slack_text(slack(&app, &form, now, SLACK_SECRET).await).await;
    assert!(reply.starts_with("accepted: change "), "{reply}");
    let id = reply.split_whitespace().nth(2).unwrap();
    assert_eq!(app.record(id).await.reference(), Some("CHG0030001"));
}

#[tokio::test]
async fn the_dash_a_phone_makes_of_two_hyphens_is_still_a_dry_run() {
    let app = spawn_app().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "rally-1", "deviceType": "collaborationBar", "healthStatus": "healthy"})))
        .mount(&app.graph)
        .await;
    let now = app.now().unix_timestamp();
    for (i, dash) in ["\u{2014}", "\u{2013}"].iter().enumerate() {
        let text = format!("restart rally-1 {dash}dry-run {dash}ticket CHG0030001");
        let form = slack_form(&text, "U1ALICE", SLACK_TEAM, &format!("dash.{i}"));
        let from_slack = slack_text(slack(&app, &form, now, SLACK_SECRET).await).await;
        let activity = teams_activity(
            &format!("<at>graphgate</at> {text}"),
            &format!("17000000002{i:02}"),
        );
        let from_teams = teams_text(teams(&app, activity, TEAMS_TOKEN).await).await;
        for reply in [from_slack, from_teams] {
            assert!(
                reply.starts_with("dry run: restartDevice would send POST "),
                "{reply}"
            );
        }
    }
    assert!(
        app.graph_requests()
            .await
            .iter()
            .all(|r| r.method.as_str() == "GET")
    );
}

#[test]
fn the_chat_page_shows_the_help_reply() {
    let page = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/calling/chat.md"),
    )
    .unwrap();
    assert!(
        page.contains(USAGE),
        "docs/src/calling/chat.md shows:\n{USAGE}"
    );
}

/// A chat caller gated on its tickets meets the gate as a webhook does: the command names
/// its ticket with `--ticket`, and one not approved is refused in words, with nothing sent.
#[tokio::test]
async fn a_gated_chat_caller_acts_only_on_an_approved_ticket() {
    const GATED_SECRET: &str = "0f742231b10e8888abcd99b1f2e4c5a8";
    let snow = ServiceNow::start().await;
    let options = Options {
        more_callers: vec![json!({"name": "slack-gated",
            "auth": {"scheme": "slack", "secret": GATED_SECRET}, "allow": ["*"],
            "ticket": snow.connection()})],
        ..Options::default()
    };
    let app = spawn_app_with(options).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    snow.change("CHG0030001", "approved", "-1", ("", "")).await;
    snow.change("CHG0030002", "requested", "-3", ("", "")).await;
    let now = app.now().unix_timestamp();
    let say = |text: &str, trigger: &str| slack_form(text, "U1", SLACK_TEAM, trigger);

    let words =
        slack_text(slack(&app, &say("restart room-1", "t1"), now, GATED_SECRET).await).await;
    assert!(
        words.contains("is required") && words.contains("--ticket"),
        "{words}"
    );
    let words = slack_text(
        slack(
            &app,
            &say("restart room-1 --ticket CHG0030002", "t2"),
            now,
            GATED_SECRET,
        )
        .await,
    )
    .await;
    assert!(
        words.contains("not approved") && words.contains("requested"),
        "{words}"
    );
    assert_eq!(
        app.graph_requests()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count(),
        0
    );

    slack_text(
        slack(
            &app,
            &say("restart room-1 --ticket CHG0030001", "t3"),
            now,
            GATED_SECRET,
        )
        .await,
    )
    .await;
    assert_eq!(
        app.graph_requests()
            .await
            .iter()
            .filter(|r| r.method.as_str() == "POST")
            .count(),
        1
    );
}
