//! How Graph's refusals, throttling and outages reach the caller and the change record.

use std::time::{Duration, Instant};

use graphgate::change::Status;
use graphgate::graph::RetryPolicy;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn graph_409_is_a_409_naming_the_device() {
    let app = spawn_app().await;
    every_post(graph_error(409, "Conflict", "req-409"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("dev-busy")).await, 409).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-conflict");
    assert_eq!(p["deviceId"], "dev-busy");
    assert!(p["detail"].as_str().unwrap().contains("device dev-busy"));
    assert_eq!(p["graphCode"], "Conflict");
    assert_eq!(p["graphRequestId"], "req-409");
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), Status::Rejected);
    assert_eq!(record.failure().unwrap().code, "Conflict");
}

#[tokio::test]
async fn graph_404_on_an_action_says_graph_refused_it_for_the_device() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path("/beta/teamwork/devices/dev-old/updateSoftware"))
        .respond_with(graph_error(404, "UnknownError", "req-404"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let p = problem(
        app.post_change(json!({"action": "updateSoftware", "deviceId": "dev-old",
            "softwareType": "firmware", "softwareVersion": "2.0"}))
            .await,
        422,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-refused");
    assert_eq!(p["graphStatus"], 404);
    assert_eq!(p["graphCode"], "UnknownError");
    assert_eq!(p["graphRequestId"], "req-404");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("Graph refused updateSoftware for device dev-old"),
        "{detail}"
    );
    assert!(
        !detail.to_lowercase().contains("not exist") && !detail.contains("not found"),
        "{detail}"
    );
}

#[tokio::test]
async fn other_graph_4xx_carry_graphs_code_and_request_id() {
    let app = spawn_app().await;
    every_post(graph_error(400, "BadRequest", "req-400"))
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("d1")).await, 422).await;
    assert_eq!(
        (p["graphCode"].as_str(), p["graphRequestId"].as_str()),
        (Some("BadRequest"), Some("req-400"))
    );

    let app = spawn_app().await;
    every_post(graph_error(403, "Authorization_RequestDenied", "req-403"))
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-permission");
    assert_eq!(p["graphRequestId"], "req-403");

    let app = spawn_app().await;
    every_post(graph_error(500, "InternalServerError", "req-500"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-error");
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), Status::Failed);
}

#[tokio::test]
async fn throttled_then_accepted_honours_a_fractional_retry_after() {
    let app = spawn_app().await;
    every_post(graph_error(429, "TooManyRequests", "req-429").insert_header("Retry-After", "0.3"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let started = Instant::now();
    let response = app.post_change(restart("d1")).await;
    assert_eq!(response.status(), 202);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "waited {:?}",
        started.elapsed()
    );
    let received = app.graph_requests().await;
    assert_eq!(received.len(), 2);
    assert_ne!(
        received[0].headers["client-request-id"],
        received[1].headers["client-request-id"]
    );
}

#[tokio::test]
async fn retry_after_as_an_http_date_and_backoff_without_one() {
    let app = spawn_app().await;
    let in_a_second =
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(1));
    every_post(ResponseTemplate::new(503).insert_header("Retry-After", in_a_second.as_str()))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(ResponseTemplate::new(504))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let started = Instant::now();
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    // The HTTP-date has one-second resolution, so the wait is between 0 and 1 s.
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(app.graph_requests().await.len(), 3);
}

#[tokio::test]
async fn unavailable_until_the_deadline_is_a_503_with_retry_after() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_millis(1500),
        retry: RetryPolicy {
            max_attempts: 100,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(100),
            ..Options::default().retry
        },
        ..Options::default()
    })
    .await;
    every_post(ResponseTemplate::new(503))
        .mount(&app.graph)
        .await;
    let started = Instant::now();
    let response = app.post_change(restart("d1")).await;
    let elapsed = started.elapsed();
    assert!(
        response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let p = problem(response, 503).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-unavailable");
    assert!(
        elapsed < Duration::from_millis(1500 + 500),
        "gave up after {elapsed:?}"
    );
    let calls = app.graph_requests().await.len();
    assert!(calls > 3, "retried until the deadline, {calls} calls");
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), Status::Failed);
    assert_eq!(record.failure().unwrap().code, "graphUnavailable");
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_is_not_waited_for() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    every_post(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .expect(1)
        .mount(&app.graph)
        .await;
    let started = Instant::now();
    let response = app.post_change(restart("d1")).await;
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(response.headers()["retry-after"], "30");
    problem(response, 503).await;
}

#[tokio::test]
async fn retries_stop_at_the_attempt_limit() {
    let app = spawn_app_with(Options {
        retry: RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            ..Options::default().retry
        },
        ..Options::default()
    })
    .await;
    every_post(ResponseTemplate::new(429))
        .expect(3)
        .mount(&app.graph)
        .await;
    problem(app.post_change(restart("d1")).await, 503).await;
}

#[tokio::test]
async fn an_unreachable_graph_is_a_503() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_secs(1),
        graph_origin: Some(format!("http://{closed}")),
        ..Options::default()
    })
    .await;
    let started = Instant::now();
    let response = app.post_change(restart("d1")).await;
    assert!(response.headers().contains_key("retry-after"));
    let p = problem(response, 503).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(p["type"], "urn:graphgate:problem:graph-unavailable");
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), Status::Failed, "nothing reached Graph");
}

#[tokio::test]
async fn no_answer_before_the_deadline_is_a_504_and_the_change_awaits_reconciliation() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_millis(800),
        ..Options::default()
    })
    .await;
    every_post(accepted("d1").set_delay(Duration::from_secs(3)))
        .expect(1)
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("d1")).await, 504).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-pending");
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), Status::Submitting);
    assert!(record.due().is_some(), "due when the lease runs out");
}

#[tokio::test]
async fn a_409_after_a_gateway_timeout_is_left_for_reconciliation() {
    let app = spawn_app().await;
    every_post(ResponseTemplate::new(504))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(graph_error(409, "Conflict", "req-409"))
        .mount(&app.graph)
        .await;
    // The first attempt may have queued the restart; the 409 may be about that very operation.
    let p = problem(app.post_change(restart("d1")).await, 504).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-pending");
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(
        record.status(),
        Status::Submitting,
        "the sweeper finds out what Graph did"
    );
    assert_eq!(app.graph_requests().await.len(), 2);
}

#[tokio::test]
async fn no_retry_starts_without_time_left_for_an_answer() {
    // Each 503 takes 100 ms and asks for 0.3 s: attempts start at 0, 0.4 and 0.8 s. A fourth
    // would start at 1.2 s with 50 ms left, too little for an answer; sent anyway, it would
    // time out, and a request that was sent and never answered may have been acted on.
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_millis(1250),
        retry: RetryPolicy {
            max_attempts: 10,
            ..Options::default().retry
        },
        ..Options::default()
    })
    .await;
    every_post(
        ResponseTemplate::new(503)
            .insert_header("Retry-After", "0.3")
            .set_delay(Duration::from_millis(100)),
    )
    .mount(&app.graph)
    .await;
    let response = app.post_change(restart("d1")).await;
    let p = problem(response, 503).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-unavailable");
    assert_eq!(app.graph_requests().await.len(), 3);
    let record = app.record(p["changeId"].as_str().unwrap()).await;
    assert_eq!(record.status(), Status::Failed, "nothing reached Graph");
}

#[tokio::test]
async fn graph_410_gone_means_the_api_is_retired() {
    let app = spawn_app().await;
    every_post(graph_error(410, "Gone", "req-gone"))
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("dev-g")).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-api-retired");
    assert_eq!(p["graphStatus"], 410);
    assert_eq!(p["graphCode"], "Gone");
    assert_eq!(p["graphRequestId"], "req-gone");
    assert_eq!(
        app.graph_requests().await.len(),
        1,
        "a retired API is not retried"
    );
}

#[tokio::test]
async fn graphs_refusal_of_a_permission_consent_is_reported_as_such() {
    let app = spawn_app().await;
    let consent = json!({"resourceSpecificPermissions": [
        {"permissionValue": "ChannelMessage.Read.Group", "permissionType": "application"}]});
    for (status, code, expected, chat) in [
        (403, "Forbidden", 502, "19:a@thread.v2"),
        (400, "BadRequest", 422, "19:b@thread.v2"),
    ] {
        Mock::given(method("POST"))
            .and(path(format!("/v1.0/chats/{chat}/installedApps/i1/upgrade")))
            .respond_with(graph_error(status, code, "req-consent"))
            .mount(&app.graph)
            .await;
        let body = json!({"action": "upgradeApp", "chatId": chat, "installationId": "i1",
            "consentedPermissionSet": consent});
        let p = problem(app.post_change(body).await, expected).await;
        assert_eq!(p["type"], "urn:graphgate:problem:graph-consent-refused");
        assert_eq!(p["graphCode"], code);
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("TeamsAppInstallation.ReadWriteAndConsentForChat.All")
        );
    }
    // Without a consent set, a 403 is graphgate's permissions, as always.
    Mock::given(method("POST"))
        .and(path("/v1.0/chats/19:c@thread.v2/installedApps/i1/upgrade"))
        .respond_with(graph_error(403, "Forbidden", "req-perm"))
        .mount(&app.graph)
        .await;
    let body = json!({"action": "upgradeApp", "chatId": "19:c@thread.v2", "installationId": "i1"});
    let p = problem(app.post_change(body).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-permission");
}
