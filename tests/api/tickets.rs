//! The gate: a caller whose ticket connection has `gate: true` acts only on an approved
//! ticket, read from fakes of ServiceNow and Jira that answer as their APIs document. A
//! refusal names what the ticket said, and Graph is never called.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::format_description;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// An app with a caller gated on `ticket`, as `name` with `token`.
async fn gated_app(backend: Backend, name: &str, token: &str, ticket: Value) -> TestApp {
    let mut options = backend.options().await;
    options.more_callers = vec![gated_caller(name, token, ticket)];
    spawn_app_with(options).await
}

/// A ServiceNow planned date, `offset` from `now`.
fn planned(now: OffsetDateTime, offset: time::Duration) -> String {
    (now + offset)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second]"
        ))
        .unwrap()
}

fn restart_for(ticket: &str) -> Value {
    json!({"action": "restartDevice", "deviceId": "room-1", "reference": ticket})
}

/// The change as its gated caller reads it back.
async fn view(app: &TestApp, id: &str) -> Value {
    app.get_change(SNOW_CALLER_TOKEN, id)
        .await
        .json()
        .await
        .unwrap()
}

/// The problem graphgate answers, with `status`, to a restart of `room-1` for `ticket`.
async fn answer_to(app: &TestApp, token: &str, ticket: &str, status: u16) -> Value {
    problem(app.post_change_as(token, restart_for(ticket)).await, status).await
}

async fn graph_posts(app: &TestApp) -> usize {
    app.graph_requests()
        .await
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

/// ServiceNow's `CHG0030001`, approved, and `CHG0030002`, waiting for approval, both
/// planned from an hour before `now` to an hour after.
async fn approved_and_requested(snow: &ServiceNow, now: OffsetDateTime) {
    let hour = time::Duration::HOUR;
    let open = (planned(now, -hour), planned(now, hour));
    snow.change("CHG0030001", "approved", "-1", (&open.0, &open.1))
        .await;
    snow.change("CHG0030002", "requested", "-3", (&open.0, &open.1))
        .await;
}

/// Approved and within its window, a change goes ahead; each other verdict refuses it,
/// naming what the ticket said, and Graph hears nothing of it.
async fn a_servicenow_change_goes_ahead_only_when_approved_in_its_window(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    let now = app.now();
    let hour = time::Duration::HOUR;
    approved_and_requested(&snow, now).await;
    snow.change(
        "CHG0030003",
        "approved",
        "-2",
        (&planned(now, hour), &planned(now, time::Duration::hours(2))),
    )
    .await;
    snow.change("CHG0030004", "approved", "3", ("", "")).await;

    let p = answer_to(&app, SNOW_CALLER_TOKEN, "CHG0030002", 409).await;
    assert_eq!(p["type"], "urn:graphgate:problem:ticket-not-approved");
    assert_eq!(p["approval"], "requested");
    assert_eq!(p["state"], "authorize");
    assert_eq!(p["reference"], "CHG0030002");
    assert_eq!(p["ticketSystem"], "servicenow");
    assert!(
        p["detail"].as_str().unwrap().contains("\"requested\""),
        "{p}"
    );

    let p = answer_to(&app, SNOW_CALLER_TOKEN, "CHG0030003", 409).await;
    assert_eq!(p["type"], "urn:graphgate:problem:ticket-outside-window");
    let start = OffsetDateTime::parse(
        p["window"]["start"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert_eq!(start.unix_timestamp(), (now + hour).unix_timestamp());

    let p = answer_to(&app, SNOW_CALLER_TOKEN, "CHG0030004", 409).await;
    assert_eq!(p["state"], "closed", "{p}");

    let p = answer_to(&app, SNOW_CALLER_TOKEN, "CHG0039999", 422).await;
    assert_eq!(p["type"], "urn:graphgate:problem:ticket-not-found");

    for (body, detail) in [
        (
            json!({"action": "restartDevice", "deviceId": "room-1"}),
            "is required",
        ),
        (
            restart_for("CHG1^ORnumber=CHG0030001"),
            "ServiceNow change number",
        ),
    ] {
        let p = problem(app.post_change_as(SNOW_CALLER_TOKEN, body).await, 400).await;
        assert_eq!(p["errors"][0]["field"], "reference");
        assert!(p["detail"].as_str().unwrap().contains(detail), "{p}");
    }
    assert_eq!(
        graph_posts(&app).await,
        0,
        "no refused change reaches Graph"
    );
    assert_eq!(
        snow.reads().await.len(),
        4,
        "a malformed or missing reference reads nothing"
    );

    every_post(accepted("room-1")).mount(&app.graph).await;
    let response = app
        .post_change_as(SNOW_CALLER_TOKEN, restart_for("CHG0030001"))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(graph_posts(&app).await, 1);
    let read = snow.reads().await.pop().unwrap();
    let query: Vec<(String, String)> = read.url.query_pairs().into_owned().collect();
    for (name, value) in [
        ("sysparm_query", "number=CHG0030001"),
        (
            "sysparm_fields",
            "sys_id,number,approval,state,start_date,end_date",
        ),
        ("sysparm_limit", "1"),
    ] {
        assert!(query.contains(&(name.into(), value.into())), "{query:?}");
    }
}

/// The ticket system down, slow or failing is a 503 with `Retry-After`: graphgate fails
/// closed. Nothing is kept for the delivery, so its repeat goes ahead once the ticket can
/// be read. A refused sign-in is a 502 that names no credential.
async fn an_unreadable_ticket_stops_the_change(backend: Backend) {
    let snow = ServiceNow::start().await;
    let mut options = backend.options().await;
    options.request_timeout = Duration::from_secs(2);
    options.more_callers = vec![gated_caller("snow", SNOW_CALLER_TOKEN, snow.connection())];
    let app = spawn_app_with(options).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    let post = |key: &'static str| {
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(SNOW_CALLER_TOKEN)
            .header("Idempotency-Key", key)
            .json(&restart_for("CHG0030001"))
            .send()
    };

    for answer in [
        ResponseTemplate::new(503).insert_header("retry-after", "7"),
        ResponseTemplate::new(200).set_delay(Duration::from_secs(4)),
    ] {
        // Not scoped: wiremock 0.6 sorts its mocks by priority and then ends the scope
        // of whichever mock took the scoped one's place.
        Mock::given(method("GET"))
            .respond_with(answer)
            .with_priority(1)
            .up_to_n_times(1)
            .mount(&snow.server)
            .await;
        let response = post("k-unavailable").await.unwrap();
        let retry_after = response.headers().get("retry-after").cloned();
        let p = problem(response, 503).await;
        assert_eq!(p["type"], "urn:graphgate:problem:ticket-unavailable");
        assert!(retry_after.is_some());
    }

    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
            "status": "failure"})))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&snow.server)
        .await;
    let response = post("k-sign-in").await.unwrap();
    let text = response.text().await.unwrap();
    assert!(text.contains("ticket-sign-in-refused"), "{text}");
    assert!(
        !text.contains(SNOW_PASSWORD) && !text.contains("User Not Authenticated"),
        "{text}"
    );
    assert_eq!(graph_posts(&app).await, 0);

    let now = app.now();
    let hour = time::Duration::HOUR;
    snow.change(
        "CHG0030001",
        "approved",
        "-1",
        (&planned(now, -hour), &planned(now, hour)),
    )
    .await;
    let response = post("k-unavailable").await.unwrap();
    assert_eq!(response.status(), 202);
    assert!(response.headers().get("idempotent-replayed").is_none());
    assert_eq!(graph_posts(&app).await, 1);
}

/// The ticket is read before the delivery's key is taken: a refusal keeps nothing, and a
/// sender that gives up while the ticket is read leaves nothing behind either, so its repeat
/// goes ahead once the ticket is approved.
async fn a_refused_or_abandoned_delivery_goes_ahead_when_sent_again(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    let post = |key: &'static str, timeout: Duration| {
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(SNOW_CALLER_TOKEN)
            .header("Idempotency-Key", key)
            .timeout(timeout)
            .json(&restart_for("CHG0030002"))
            .send()
    };
    snow.change("CHG0030002", "requested", "-3", ("", "")).await;
    let refused = post("k-refused", Duration::from_secs(5)).await.unwrap();
    assert_eq!(refused.status(), 409);

    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&snow.server)
        .await;
    assert!(
        post("k-abandoned", Duration::from_millis(300))
            .await
            .is_err()
    );
    // The abandoned request finishes its read on the server before the repeat.
    tokio::time::sleep(Duration::from_secs(2)).await;

    snow.now_reads("CHG0030002", "approved", "-1", ("", ""))
        .await;
    for key in ["k-refused", "k-abandoned"] {
        let response = post(key, Duration::from_secs(5)).await.unwrap();
        assert_eq!(response.status(), 202, "{key}");
        assert!(response.headers().get("idempotent-replayed").is_none());
    }
    assert_eq!(graph_posts(&app).await, 2);
}

/// Jira: the issue's status must be one of `approvedStatuses`, compared without case; an
/// issue Jira does not show is not found.
async fn a_jira_issue_must_be_in_an_approved_status(backend: Backend) {
    let jira = Jira::start().await;
    let app = gated_app(backend, "jira-gated", JIRA_CALLER_TOKEN, jira.connection()).await;
    jira.issue("CHG-1", "APPROVED").await;
    jira.issue("CHG-2", "Waiting for approval").await;
    jira.missing().await;
    every_post(accepted("room-1")).mount(&app.graph).await;

    let p = answer_to(&app, JIRA_CALLER_TOKEN, "CHG-2", 409).await;
    assert_eq!(p["type"], "urn:graphgate:problem:ticket-not-approved");
    assert_eq!(p["state"], "Waiting for approval");
    assert!(p.get("approval").is_none());
    let p = answer_to(&app, JIRA_CALLER_TOKEN, "CHG-404", 422).await;
    assert_eq!(p["ticketSystem"], "jira");
    assert_eq!(graph_posts(&app).await, 0);

    let response = app
        .post_change_as(JIRA_CALLER_TOKEN, restart_for("CHG-1"))
        .await;
    assert_eq!(response.status(), 202);
    assert_eq!(graph_posts(&app).await, 1);
}

/// A dry run says what the gate would do, and writes nothing; a fleet's gate runs before
/// its devices are read.
async fn a_dry_run_reports_the_verdict_and_a_fleet_is_gated(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    let now = app.now();
    approved_and_requested(&snow, now).await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/room-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "room-1", "deviceType": "teamsRoom"})),
        )
        .mount(&app.graph)
        .await;

    let mut dry = restart_for("CHG0030002");
    dry["dryRun"] = json!(true);
    let answer = json_of(
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(SNOW_CALLER_TOKEN)
            .json(&dry),
    )
    .await;
    assert_eq!(answer["dryRun"], true);
    assert_eq!(answer["ticket"]["goesAhead"], false, "{answer}");
    assert_eq!(
        answer["ticket"]["problem"]["type"],
        "urn:graphgate:problem:ticket-not-approved"
    );
    dry["reference"] = json!("CHG0030001");
    let answer = json_of(
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(SNOW_CALLER_TOKEN)
            .json(&dry),
    )
    .await;
    assert_eq!(
        answer["ticket"],
        json!({"system": "servicenow", "reference": "CHG0030001", "goesAhead": true})
    );

    let fleet = json!({"action": "restartDevice", "devices": {"deviceType": "teamsRoom"},
        "reference": "CHG0030002"});
    let p = problem(app.post_change_as(SNOW_CALLER_TOKEN, fleet).await, 409).await;
    assert_eq!(p["type"], "urn:graphgate:problem:ticket-not-approved");
    let inventory_reads = app
        .graph_requests()
        .await
        .iter()
        .filter(|r| r.url.path() == "/beta/teamwork/devices")
        .count();
    assert_eq!(inventory_reads, 0);
    assert_eq!(graph_posts(&app).await, 0);
    let far = app.now() + Duration::from_secs(400 * 86_400);
    assert!(
        app.store.due(far, 10).await.unwrap().is_empty(),
        "nothing recorded"
    );
}

/// A scheduled change is judged at the time its window opens: a ticket planned for then
/// lets it be scheduled now.
async fn a_scheduled_change_is_judged_when_it_would_run(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    let now = app.now();
    let hour = time::Duration::HOUR;
    snow.change(
        "CHG0030003",
        "approved",
        "-2",
        (&planned(now, hour), &planned(now, time::Duration::hours(3))),
    )
    .await;
    let mut body = restart_for("CHG0030003");
    body["notBefore"] = json!(
        (now + time::Duration::hours(2))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    );
    let response = app.post_change_as(SNOW_CALLER_TOKEN, body).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["status"], "scheduled", "{answer}");
}

/// ServiceNow with OAuth client credentials: one token from `oauth_token.do`, used until
/// it nears its end.
#[tokio::test]
async fn servicenow_oauth_signs_in_once_for_many_changes() {
    let snow = ServiceNow::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth_token.do"))
        .and(wiremock::matchers::body_string_contains(
            "grant_type=client_credentials",
        ))
        .and(wiremock::matchers::body_string_contains(
            "client_id=graphgate-client",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "snow-access-token", "scope": "useraccount",
            "token_type": "Bearer", "expires_in": 1799})))
        .expect(1)
        .mount(&snow.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/now/table/change_request"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer snow-access-token",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": [
            {"sys_id": "s1", "number": "CHG0030001", "approval": "approved", "state": "-1",
             "start_date": "", "end_date": ""}]})))
        .expect(2)
        .with_priority(1)
        .mount(&snow.server)
        .await;
    let ticket = json!({"system": "servicenow", "url": snow.server.uri(),
        "clientId": "graphgate-client", "clientSecret": "snow-client-secret", "gate": true});
    let app = gated_app(Backend::Sqlite, "snow", SNOW_CALLER_TOKEN, ticket).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    for _ in 0..2 {
        let response = app
            .post_change_as(SNOW_CALLER_TOKEN, restart_for("CHG0030001"))
            .await;
        assert_eq!(response.status(), 202);
    }
    snow.server.verify().await;
}

/// The gate runs again when a scheduled change's window opens: a ticket that cannot be read
/// holds the change back, and one withdrawn meanwhile ends it `cancelled`, never sent.
async fn a_scheduled_change_whose_ticket_is_withdrawn_is_never_sent(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    let now = app.now();
    let hour = time::Duration::HOUR;
    let window = (planned(now, -hour), planned(now, time::Duration::hours(3)));
    let window = (window.0.as_str(), window.1.as_str());
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    let mut ids = Vec::new();
    for number in ["CHG0030001", "CHG0030002"] {
        snow.change(number, "approved", "-2", window).await;
        let mut body = restart_for(number);
        body["notBefore"] = json!((now + hour).format(rfc3339).unwrap());
        let answer: Value = app
            .post_change_as(SNOW_CALLER_TOKEN, body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["status"], "scheduled", "{answer}");
        ids.push(answer["changeId"].as_str().unwrap().to_owned());
    }

    snow.unavailable().await;
    app.advance(Duration::from_secs(3601));
    app.sweep().await;
    for id in &ids {
        assert_eq!(
            view(&app, id).await["status"],
            "scheduled",
            "held back, not sent"
        );
    }
    assert_eq!(graph_posts(&app).await, 0);

    snow.now_reads("CHG0030001", "approved", "-1", window).await;
    snow.change("CHG0030002", "rejected", "4", window).await;
    app.advance(Duration::from_secs(61));
    app.sweep().await;
    let sent = view(&app, &ids[0]).await;
    assert_eq!(sent["status"], "queued", "{sent}");
    let withdrawn = view(&app, &ids[1]).await;
    assert_eq!(withdrawn["status"], "cancelled", "{withdrawn}");
    assert_eq!(withdrawn["failure"]["code"], "ticketWithdrawn");
    let message = withdrawn["failure"]["message"].as_str().unwrap();
    assert!(
        message.contains("CHG0030002") && message.contains("rejected"),
        "{message}"
    );
    assert_eq!(
        graph_posts(&app).await,
        1,
        "only the approved change reached Graph"
    );
}

/// A gated caller taken out of the registry can no longer act: its scheduled change is not
/// sent when its window opens.
async fn a_gated_callers_change_is_not_sent_once_the_caller_is_removed(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    snow.change("CHG0030001", "approved", "-2", ("", "")).await;
    let mut body = restart_for("CHG0030001");
    let rfc3339 = &time::format_description::well_known::Rfc3339;
    body["notBefore"] = json!((app.now() + time::Duration::HOUR).format(rfc3339).unwrap());
    let answer: Value = app
        .post_change_as(SNOW_CALLER_TOKEN, body)
        .await
        .json()
        .await
        .unwrap();
    let id = answer["changeId"].as_str().unwrap().to_owned();

    let mut sweeper = app.app.sweeper();
    let without = graphgate::callers::CallerRegistry::parse(&callers_json()).unwrap();
    sweeper.callers = std::sync::Arc::new(graphgate::callers::FixedCallers::new(without));
    app.advance(Duration::from_secs(3601));
    sweeper.sweep_once(soon()).await.unwrap();
    let record = app.record(&id).await;
    assert_eq!(record.status().as_str(), "cancelled");
    let failure = record.failure().unwrap();
    assert_eq!(failure.code.as_str(), "ticketWithdrawn");
    assert!(
        failure.message.contains("no longer registered"),
        "{}",
        failure.message
    );
    assert_eq!(graph_posts(&app).await, 0);
}

/// A gated change whose submitter died before Graph had it is sent again only if its
/// ticket still lets it: withdrawn meanwhile, it ends `cancelled`, never sent.
async fn a_lost_submission_is_not_resent_once_its_ticket_is_withdrawn(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    snow.change("CHG0030002", "rejected", "4", ("", "")).await;
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices/room-1/operations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"value": []})))
        .mount(&app.graph)
        .await;
    let created = app.now() - time::Duration::minutes(2);
    let graphgate::change::ChangeRequest::One(asked) = request(restart_for("CHG0030002")) else {
        panic!("one device")
    };
    let stuck = graphgate::change::ChangeRecord::submitting(
        asked,
        "snow",
        created,
        created + time::Duration::seconds(55),
    )
    .let_in_by_ticket();
    app.store.insert(&stuck).await.unwrap();

    app.sweep().await;
    let record = app.record(stuck.id().as_ref()).await;
    assert_eq!(record.status().as_str(), "cancelled");
    assert_eq!(record.failure().unwrap().code, "ticketWithdrawn");
    assert!(record.failure().unwrap().message.contains("CHG0030002"));
    assert_eq!(graph_posts(&app).await, 0, "never sent again");
}

/// While a fleet's children are sent, its ticket is read again at least once a minute;
/// withdrawn, it cancels the devices not yet sent, and the parent says why.
async fn a_fleet_stops_when_its_ticket_is_withdrawn(backend: Backend) {
    let snow = ServiceNow::start().await;
    let app = gated_app(backend, "snow", SNOW_CALLER_TOKEN, snow.connection()).await;
    every_post(accepted_for_its_device).mount(&app.graph).await;
    Mock::given(method("GET"))
        .and(wiremock::matchers::path_regex(
            "^/beta/teamwork/devices/[^/]+/operations/[^/]+$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "op",
            "operationType": "deviceRestart", "status": "succeeded",
            "createdDateTime": "2026-11-24T12:00:00Z"})))
        .mount(&app.graph)
        .await;
    let now = app.now();
    let window = (
        planned(now, -time::Duration::HOUR),
        planned(now, time::Duration::DAY),
    );
    let window = (window.0.as_str(), window.1.as_str());
    snow.change("CHG0030001", "approved", "-1", window).await;
    let body = json!({"action": "restartDevice", "deviceIds": ["room-1", "room-2", "room-3"],
        "reference": "CHG0030001", "rollout": {"maxConcurrent": 1, "perMinute": 1}});
    let response = app.post_change_as(SNOW_CALLER_TOKEN, body).await;
    assert_eq!(response.status(), 202);
    let id = response.json::<Value>().await.unwrap()["changeId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.sweep().await;
    assert_eq!(graph_posts(&app).await, 1, "the first device is sent");

    snow.now_reads("CHG0030001", "approved", "3", window).await;
    for _ in 0..4 {
        app.advance(Duration::from_secs(61));
        app.sweep().await;
    }
    let parent = view(&app, &id).await;
    assert_eq!(parent["status"], "cancelled", "{parent}");
    assert_eq!(parent["failure"]["code"], "ticketWithdrawn");
    assert_eq!(parent["fleet"]["stopped"], "ticketWithdrawn", "{parent}");
    assert_eq!(
        graph_posts(&app).await,
        1,
        "no device was sent after the withdrawal"
    );
    assert!(
        !snow.reads().await.is_empty(),
        "the ticket was read again after the first batch"
    );
}

crate::on_every_store!(
    a_refused_or_abandoned_delivery_goes_ahead_when_sent_again,
    a_lost_submission_is_not_resent_once_its_ticket_is_withdrawn,
    a_gated_callers_change_is_not_sent_once_the_caller_is_removed,
    a_scheduled_change_whose_ticket_is_withdrawn_is_never_sent,
    a_fleet_stops_when_its_ticket_is_withdrawn,
    a_servicenow_change_goes_ahead_only_when_approved_in_its_window,
    an_unreadable_ticket_stops_the_change,
    a_jira_issue_must_be_in_an_approved_status,
    a_dry_run_reports_the_verdict_and_a_fleet_is_gated,
    a_scheduled_change_is_judged_when_it_would_run,
);

/// The preflight check signs in to the asking caller's ticket system and reads one record,
/// and says whether its gate can work; a caller sees only its own connection, and no
/// credential.
#[tokio::test]
async fn the_preflight_check_reaches_the_callers_ticket_system() {
    let snow = ServiceNow::start().await;
    let jira = Jira::start().await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/myself"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string("Client must be authenticated to access this resource."),
        )
        .mount(&jira.server)
        .await;
    let options = Options {
        more_callers: vec![
            gated_caller("snow", SNOW_CALLER_TOKEN, snow.connection()),
            gated_caller("jira-gated", JIRA_CALLER_TOKEN, jira.connection()),
        ],
        ..Options::default()
    };
    let app = spawn_app_with(options).await;
    let check = |token: &'static str| {
        let request = app
            .http
            .get(format!("{}/v1/check", app.address))
            .bearer_auth(token);
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let mut reports = Vec::new();
    for token in [SNOW_CALLER_TOKEN, JIRA_CALLER_TOKEN, TOKEN] {
        let text = check(token).await;
        assert!(
            !text.contains(SNOW_PASSWORD) && !text.contains(JIRA_TOKEN),
            "{text}"
        );
        reports.push(serde_json::from_str::<Value>(&text).unwrap()["tickets"].clone());
    }
    assert_eq!(
        reports,
        [
            json!([{"caller": "snow", "system": "servicenow",
                "url": format!("{}/", snow.server.uri()), "reached": true, "gate": true}]),
            json!([{"caller": "jira-gated", "system": "jira",
                "url": format!("{}/", jira.server.uri()), "reached": false, "gate": true,
                "problem": "the ticket system refused graphgate's sign-in (401 Unauthorized)"}]),
            Value::Null,
        ]
    );
    let read = snow.reads().await.pop().unwrap();
    assert!(read.url.query().unwrap().contains("sysparm_limit=1"));
    assert_eq!(
        read.headers["authorization"],
        basic(SNOW_USER, SNOW_PASSWORD).as_str()
    );
}

/// In Lambda a ticket system is called only over https at a public address, as callbacks
/// are: a connection to plain http is refused before any request leaves, and nothing is done.
#[tokio::test]
async fn a_ticket_url_the_deployment_may_not_call_stops_the_change() {
    let snow = ServiceNow::start().await;
    let mut options = Backend::Sqlite.options().await;
    options.callback_policy = graphgate::outbound::TargetPolicy::PublicHttpsOnly;
    options.more_callers = vec![gated_caller("snow", SNOW_CALLER_TOKEN, snow.connection())];
    let app = spawn_app_with(options).await;
    every_post(accepted("room-1")).mount(&app.graph).await;
    let p = answer_to(&app, SNOW_CALLER_TOKEN, "CHG0030001", 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:ticket-error");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("https to a public address"),
        "{p}"
    );
    assert!(snow.reads().await.is_empty());
    assert_eq!(graph_posts(&app).await, 0);
}
