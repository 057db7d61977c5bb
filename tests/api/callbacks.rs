//! Callbacks: a signed POST when a change finishes, retried with backoff, each attempt
//! recorded, never blocking the sweep, and never sent to a non-public address from Lambda.

use std::time::Duration;

use graphgate::callback::SigningSecret;
use graphgate::change::{DeliveryStatus, Due, Pacing, Status};
use graphgate::outbound::TargetPolicy;
use graphgate::sweeper::SweepSettings;
use serde_json::{Value, json};
use tokio::time::Instant;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

async fn receiver() -> MockServer {
    MockServer::start().await
}

async fn submit(app: &TestApp, callback: &str) -> String {
    let response = app
        .post_change(json!({"action": "restartDevice", "deviceId": "d1", "reference": "CHG42", "callbackUrl": callback}))
        .await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    body["changeId"].as_str().unwrap().to_owned()
}

async fn a_finished_change_is_reported_with_a_standard_webhooks_signature(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let hook = receiver().await;
    Mock::given(method("POST"))
        .and(path("/hooks/graphgate"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hook)
        .await;
    let id = submit(&app, &format!("{}/hooks/graphgate", hook.uri())).await;

    let report = app.sweep().await;
    assert_eq!(report.finished, 1);

    let received = hook.received_requests().await.unwrap();
    let call = &received[0];
    let header = |name: &str| call.headers[name].to_str().unwrap().to_owned();
    assert_eq!(header("webhook-id"), format!("msg_{id}"));
    let timestamp: i64 = header("webhook-timestamp").parse().unwrap();
    assert!((time::OffsetDateTime::now_utc().unix_timestamp() - timestamp).abs() < 30);
    let secret = SigningSecret::parse(SIGNING_SECRET).unwrap();
    assert_eq!(
        header("webhook-signature"),
        secret.sign(&format!("msg_{id}"), timestamp, &call.body)
    );
    assert_eq!(header("content-type"), "application/json");
    assert!(
        !call.headers.contains_key("authorization"),
        "a caller without callbackAuthorization sends none"
    );

    let body: Value = call.body_json().unwrap();
    assert_eq!(body["type"], "change.finished");
    assert_eq!(body["data"]["changeId"], id.as_str());
    assert_eq!(body["data"]["status"], "succeeded");
    assert_eq!(body["data"]["reference"], "CHG42");
    assert_eq!(body["data"]["deviceId"], "d1");
    // Graph's own account of the operation travels with graphgate's.
    assert_eq!(body["data"]["operation"]["id"], "op-1");
    assert_eq!(
        body["data"]["operation"]["createdDateTime"],
        "2026-11-23T10:00:00Z"
    );

    let record = app.record(&id).await;
    let delivery = record.callback().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    assert_eq!(delivery.attempts.len(), 1);
    assert_eq!(delivery.attempts[0].outcome, "204");
    assert_eq!(record.due(), None, "nothing left to do");
    let view: Value = app.get_change(TOKEN, &id).await.json().await.unwrap();
    assert_eq!(view["callback"]["status"], "delivered");
}

#[tokio::test]
async fn a_receiver_that_demands_credentials_gets_them_besides_the_signature() {
    const SNOW_TOKEN: &str = "snow-caller-token-0123456789abcdef0123";
    const RECEIVER_CREDENTIAL: &str = "Basic Z3JhcGhnYXRlOnJlY2VpdmVyLXBhc3N3b3Jk";
    let app = spawn_app_with(Options {
        more_callers: vec![
            json!({"name": "snow-rest", "auth": {"scheme": "bearer", "token": SNOW_TOKEN},
            "allow": ["restartDevice"], "signingSecret": SIGNING_SECRET,
            "callbackAuthorization": RECEIVER_CREDENTIAL}),
        ],
        ..Options::default()
    })
    .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    // Like a ServiceNow scripted REST API: anonymous calls are refused.
    let hook = receiver().await;
    Mock::given(method("POST"))
        .and(path("/api/x_graphgate/callback"))
        .and(header("authorization", RECEIVER_CREDENTIAL))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hook)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&hook)
        .await;
    let response = app
        .post_change_as(
            SNOW_TOKEN,
            json!({"action": "restartDevice", "deviceId": "d1",
                "callbackUrl": format!("{}/api/x_graphgate/callback", hook.uri())}),
        )
        .await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    let id = answer["changeId"].as_str().unwrap().to_owned();

    app.sweep().await;

    let received = hook.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    let timestamp: i64 = call.headers["webhook-timestamp"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        call.headers["webhook-signature"].to_str().unwrap(),
        SigningSecret::parse(SIGNING_SECRET).unwrap().sign(
            &format!("msg_{id}"),
            timestamp,
            &call.body
        )
    );
    // The credential is the receiver's: the change's caller never reads it back.
    let shown = app.get_change(SNOW_TOKEN, &id).await.text().await.unwrap();
    let view: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(view["callback"]["status"], "delivered", "{view}");
    assert!(!shown.contains("Z3JhcGhnYXRl"), "{shown}");
    assert!(!format!("{:?}", app.record(&id).await).contains("Z3JhcGhnYXRl"));
}

async fn a_failed_callback_is_retried_and_every_attempt_recorded(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    graph_finishing_with(&app.graph, "failed").await;
    let hook = receiver().await;
    every_post(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&hook)
        .await;
    every_post(ResponseTemplate::new(200)).mount(&hook).await;
    let id = submit(&app, &format!("{}/hook", hook.uri())).await;
    app.sweep().await;
    let record = app.record(&id).await;
    assert_eq!(record.status(), Status::Failed);
    let delivery = record.callback().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts.len(), 1);
    let retry_base = Pacing::default().callback_retry_base;
    assert_eq!(
        record.due(),
        Some(Due::Callback(app.now() + retry_base)),
        "due again for the retry"
    );
    assert_eq!(app.sweep().await.notified, 0, "not before its time");

    app.advance(retry_base);
    let report = app.sweep().await;
    assert_eq!(report.notified, 1);
    let delivery = app.record(&id).await.callback().cloned().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Delivered);
    let outcomes: Vec<&str> = delivery
        .attempts
        .iter()
        .map(|a| a.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["500", "200"]);
    // The same message each time, so the receiver can deduplicate.
    let ids: Vec<_> = hook
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["webhook-id"].clone())
        .collect();
    assert_eq!(ids[0], ids[1]);
}

async fn a_callback_is_given_up_after_the_last_attempt(backend: Backend) {
    let app = spawn_app_with(Options {
        pacing: Pacing {
            callback_attempts: 3,
            ..Options::default().pacing
        },
        ..backend.options().await
    })
    .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let hook = receiver().await;
    every_post(ResponseTemplate::new(503))
        .expect(3)
        .mount(&hook)
        .await;
    let id = submit(&app, &format!("{}/hook", hook.uri())).await;
    let mut attempts_at = Vec::new();
    for _ in 0..5 {
        app.sweep().await;
        let record = app.record(&id).await;
        attempts_at = record
            .callback()
            .unwrap()
            .attempts
            .iter()
            .map(|a| a.at)
            .collect();
        match record.due() {
            Some(due) => app.advance((due.at() - app.now()).unsigned_abs()),
            None => break,
        }
    }
    let record = app.record(&id).await;
    let delivery = record.callback().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Failed);
    assert_eq!(delivery.attempts.len(), 3);
    assert_eq!(record.due(), None);
    // 30 s, then 60 s, between attempts.
    let waits: Vec<i64> = attempts_at
        .windows(2)
        .map(|w| (w[1] - w[0]).whole_seconds())
        .collect();
    assert_eq!(waits, [30, 60]);
}

async fn a_hanging_receiver_does_not_hold_up_the_sweep(backend: Backend) {
    let app = spawn_app_with(Options {
        sweep: SweepSettings {
            concurrency: 2,
            ..Options::default().sweep
        },
        ..backend.options().await
    })
    .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let hook = receiver().await;
    every_post(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&hook)
        .await;
    let slow = submit(&app, &format!("{}/hook", hook.uri())).await;
    let mut others = Vec::new();
    for i in 0..4 {
        let response = app.post_change(restart(&format!("dev-{i}"))).await;
        let body: Value = response.json().await.unwrap();
        others.push(body["changeId"].as_str().unwrap().to_owned());
    }
    let started = Instant::now();
    let report = app
        .app
        .sweeper()
        .sweep_once(Instant::now() + Duration::from_millis(1500))
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.polled, 5);
    for id in &others {
        assert_eq!(app.record(id).await.status(), Status::Succeeded);
    }
    let delivery = app.record(&slow).await.callback().cloned().unwrap();
    assert_eq!(
        delivery.status,
        DeliveryStatus::Pending,
        "to be tried again"
    );
    assert_eq!(delivery.attempts.len(), 1);
}

async fn in_lambda_callbacks_to_non_public_addresses_are_refused(backend: Backend) {
    let app = spawn_app_with(Options {
        callback_policy: TargetPolicy::PublicHttpsOnly,
        ..backend.options().await
    })
    .await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let hook = receiver().await;
    every_post(ResponseTemplate::new(200))
        .expect(0)
        .mount(&hook)
        .await;
    let port = hook.address().port();

    // Refused at intake: what can be judged without DNS.
    for bad in [
        format!("http://127.0.0.1:{port}/hook"),
        "http://itsm.example.com/hook".to_owned(),
        "https://127.0.0.1/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.0.0.8/hook".to_owned(),
        "https://[fd00:ec2::254]/hook".to_owned(),
        "https://[::ffff:127.0.0.1]/hook".to_owned(),
    ] {
        let response = app
            .post_change(json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": bad}))
            .await;
        let p = problem(response, 400).await;
        assert_eq!(p["errors"][0]["field"], "callbackUrl", "{bad}");
    }

    // A name is judged by what it resolves to, when the callback is sent.
    let id = submit(&app, &format!("https://localhost:{port}/hook")).await;
    app.sweep().await;
    let delivery = app.record(&id).await.callback().cloned().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert!(
        delivery.attempts[0].outcome.contains("no public address"),
        "{}",
        delivery.attempts[0].outcome
    );
}

#[tokio::test]
async fn a_callback_needs_a_signing_secret() {
    let app = spawn_app().await;
    let p = problem(
        app.post_change_as(
            RESTART_ONLY_TOKEN,
            json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": "http://127.0.0.1:9/hook"}),
        )
        .await,
        400,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "callbackUrl");
    assert!(
        p["errors"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("signingSecret")
    );
    assert!(app.graph_requests().await.is_empty());
}

async fn two_sweepers_send_one_callback(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let hook = receiver().await;
    every_post(ResponseTemplate::new(200).set_delay(Duration::from_millis(100)))
        .expect(5)
        .mount(&hook)
        .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(submit(&app, &format!("{}/hook", hook.uri())).await);
    }
    let a = app.app.sweeper();
    let b = app.second_sweeper().await;
    let (ra, rb) = tokio::join!(a.sweep_once(soon()), b.sweep_once(soon()));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.finished + rb.finished, 5, "{ra:?} {rb:?}");
    // Anything left due (a record one sweeper saw after the other stored it) is sent once
    // more at most, even once every claim has run out.
    app.advance(Options::default().sweep.claim_lease);
    let (ra, rb) = tokio::join!(a.sweep_once(soon()), b.sweep_once(soon()));
    assert_eq!(
        ra.unwrap().notified + rb.unwrap().notified,
        0,
        "nothing is left to send"
    );
    for id in &ids {
        let delivery = app.record(id).await.callback().cloned().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Delivered);
        assert_eq!(delivery.attempts.len(), 1, "one attempt per change");
    }
}

async fn redirects_are_not_followed(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let elsewhere = receiver().await;
    every_post(ResponseTemplate::new(200))
        .expect(0)
        .mount(&elsewhere)
        .await;
    let hook = receiver().await;
    every_post(
        ResponseTemplate::new(307)
            .insert_header("Location", format!("{}/steal", elsewhere.uri()).as_str()),
    )
    .expect(1)
    .mount(&hook)
    .await;
    let id = submit(&app, &format!("{}/hook", hook.uri())).await;
    app.sweep().await;
    let delivery = app.record(&id).await.callback().cloned().unwrap();
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts[0].outcome, "307");
}

#[tokio::test]
async fn ip_literals_in_any_spelling_are_judged_by_their_address() {
    let app = spawn_app_with(Options {
        callback_policy: TargetPolicy::PublicHttpsOnly,
        ..Options::default()
    })
    .await;
    for bad in [
        "https://[::a9fe:a9fe]/hook",    // IPv4-compatible 169.254.169.254
        "https://[::ffff:a9fe:a9fe]/h",  // IPv4-mapped
        "https://[64:ff9b::a9fe:a9fe]/", // NAT64
        "https://[2002:a9fe:a9fe::]/h",  // 6to4
        "https://[5f00::1]/hook",        // SRv6 segment identifiers (RFC 9602)
    ] {
        let response = app
            .post_change(json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": bad}))
            .await;
        let p = problem(response, 400).await;
        assert_eq!(p["errors"][0]["field"], "callbackUrl", "{bad}");
        assert!(
            p["errors"][0]["detail"]
                .as_str()
                .unwrap()
                .contains("not a public address"),
            "{bad}: {p}"
        );
    }
    assert!(app.graph_requests().await.is_empty());
}

/// Posts a restart whose `callbackUrl` is each of `spellings`, and answers each 400's detail
/// for the field; none reaches Graph.
async fn refused_callback_urls(app: &TestApp, spellings: &[&str]) -> Vec<String> {
    let mut details = Vec::new();
    for bad in spellings {
        let response = app
            .post_change(json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": bad}))
            .await;
        let p = problem(response, 400).await;
        assert_eq!(p["type"], "urn:graphgate:problem:validation", "{bad}");
        assert_eq!(p["errors"][0]["field"], "callbackUrl", "{bad}");
        details.push(p["errors"][0]["detail"].as_str().unwrap().to_owned());
    }
    assert!(app.graph_requests().await.is_empty());
    assert!(app.token_requests().await.is_empty());
    details
}

#[tokio::test]
async fn a_host_written_as_another_is_refused_under_either_policy() {
    for policy in [
        TargetPolicy::AllowLoopbackHttp,
        TargetPolicy::PublicHttpsOnly,
    ] {
        let app = spawn_app_with(Options {
            callback_policy: policy,
            ..Options::default()
        })
        .await;
        let details = refused_callback_urls(
            &app,
            &[
                "http://127.1:9/hook",
                "http://2130706433:9/hook",
                "http://0x7f000001:9/hook",
                "http://\u{FF4C}\u{FF4F}\u{FF43}\u{FF41}\u{FF4C}\u{FF48}\u{FF4F}\u{FF53}\u{FF54}:9/hook",
                "https://0x7f.1/hook",
                "https://0251.0376.0251.0376/x",
            ],
        )
        .await;
        for (detail, (written, read_as)) in details.iter().zip([
            ("127.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f000001", "127.0.0.1"),
            (
                "\u{FF4C}\u{FF4F}\u{FF43}\u{FF41}\u{FF4C}\u{FF48}\u{FF4F}\u{FF53}\u{FF54}",
                "localhost",
            ),
            ("0x7f.1", "127.0.0.1"),
            ("0251.0376.0251.0376", "169.254.169.254"),
        ]) {
            assert!(
                detail.starts_with(&format!(
                    "the host \"{written}\" is read as {read_as}: write the host as it is called"
                )),
                "{policy:?}: {detail}"
            );
        }
        let details = refused_callback_urls(
            &app,
            &[
                "https://[5f00::1]/hook",
                "https://[5f00::1]:443/hook",
                "https://itsm.example.com:0/hook",
                "http://127.0.0.1:0/hook",
            ],
        )
        .await;
        assert!(details[0].contains("not a public address"), "{details:?}");
        assert!(details[1].contains("not a public address"), "{details:?}");
        assert_eq!(details[2], "callbacks may not go to port 0");
        assert_eq!(details[3], "callbacks may not go to port 0");
    }
}

#[tokio::test]
async fn serve_allows_plain_http_to_the_local_hosts_written_just_so() {
    let app = spawn_app().await;
    let details = refused_callback_urls(
        &app,
        &["http://127.0.0.2:9/hook", "http://foo.localhost:9/hook"],
    )
    .await;
    assert!(
        details.iter().all(|d| d == "callbacks must use https"),
        "{details:?}"
    );
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "d1", "deviceType": "teamsRoom", "healthStatus": "healthy"}),
        ))
        .mount(&app.graph)
        .await;
    for ok in [
        "http://127.0.0.1:9/hook",
        "http://[::1]:9/hook",
        "http://localhost:9/hook",
        "http://LocalHost:9/hook",
    ] {
        let response = app
            .post_change(json!({"action": "restartDevice", "deviceId": "d1", "callbackUrl": ok, "dryRun": true}))
            .await;
        assert_eq!(response.status(), 200, "{ok}");
    }
}

crate::on_every_store!(
    two_sweepers_send_one_callback,
    redirects_are_not_followed,
    a_finished_change_is_reported_with_a_standard_webhooks_signature,
    a_failed_callback_is_retried_and_every_attempt_recorded,
    a_callback_is_given_up_after_the_last_attempt,
    a_hanging_receiver_does_not_hold_up_the_sweep,
    in_lambda_callbacks_to_non_public_addresses_are_refused,
);
