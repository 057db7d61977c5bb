//! At most once per delivery: repeats of a delivery get the first answer and never make a
//! second Graph call, on both stores, including 200 at once.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::helpers::*;

async fn post_keyed(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

fn graph_posts(requests: &[wiremock::Request]) -> usize {
    requests
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

async fn a_repeat_gets_the_first_answer_even_after_the_change_finished(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    graph_finishing_with(&app.graph, "succeeded").await;
    let body = restart("d1");
    let first = post_keyed(&app, "CHG0050001-approved", &body).await;
    assert_eq!(first.status(), 202);
    let location = first.headers()["location"].clone();
    let first_body: Value = first.json().await.unwrap();

    // The change runs to its end; a late retry of the webhook still changes nothing.
    app.sweep().await;
    let id = first_body["changeId"].as_str().unwrap();
    assert_eq!(app.record(id).await.status().as_str(), "succeeded");
    let again = post_keyed(&app, "CHG0050001-approved", &body).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["location"], location);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), first_body);
    assert_eq!(graph_posts(&app.graph_requests().await), 1);

    // The same key with another body is a mistake, said plainly.
    let p = problem(
        post_keyed(&app, "CHG0050001-approved", &restart("d2")).await,
        422,
    )
    .await;
    assert_eq!(p["type"], "urn:graphgate:problem:idempotency-key-reused");
    assert_eq!(graph_posts(&app.graph_requests().await), 1);

    // Past the window (24 h) the key is free again.
    app.advance(Duration::from_secs(24 * 3600 + 1));
    assert!(
        post_keyed(&app, "CHG0050001-approved", &body)
            .await
            .headers()
            .get("idempotent-replayed")
            .is_none()
    );
    assert_eq!(graph_posts(&app.graph_requests().await), 2);
}

async fn two_hundred_identical_deliveries_at_once_make_one_graph_call(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    every_post(accepted("d1").set_delay(Duration::from_millis(300)))
        .mount(&app.graph)
        .await;
    let body = restart("d1");
    let responses = futures::future::join_all(
        (0..200).map(|_| post_keyed(&app, "a3f1c2d4-retry-storm", &body)),
    )
    .await;
    let mut change_ids = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        change_ids.insert(body["changeId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        change_ids.len(),
        1,
        "every delivery answered with the one change"
    );
    assert_eq!(graph_posts(&app.graph_requests().await), 1);
}

async fn a_delivery_graph_could_not_take_may_be_sent_again(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let unavailable = every_post(ResponseTemplate::new(503))
        .mount_as_scoped(&app.graph)
        .await;
    let body = restart("d1");
    let p = problem(post_keyed(&app, "k-503", &body).await, 503).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-unavailable");
    drop(unavailable);
    every_post(accepted("d1")).mount(&app.graph).await;
    let retried = post_keyed(&app, "k-503", &body).await;
    assert_eq!(retried.status(), 202);
    assert!(retried.headers().get("idempotent-replayed").is_none());
}

/// A fleet delivery sent again and again while its filter is read (a sender retrying on a
/// slow answer): the repeats in this process wait for the first, so Graph's inventory is
/// read once and one parent is recorded, and every repeat gets its answer.
async fn a_storm_of_one_fleet_delivery_reads_the_inventory_once(backend: Backend) {
    let app = spawn_app_with(backend.options().await).await;
    let rooms = ["room-1", "room-2"].map(|id| {
        json!({"id": id, "deviceType": "teamsRoom", "healthStatus": "healthy",
            "activityState": "idle", "hardwareDetail": {"manufacturer": "Contoso", "model": "R1"}})
    });
    Mock::given(method("GET"))
        .and(path("/beta/teamwork/devices"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "value": rooms }))
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .mount(&app.graph)
        .await;
    Mock::given(method("POST"))
        .and(path("/beta/$batch"))
        .respond_with(|request: &Request| {
            let asked: Value = serde_json::from_slice(&request.body).unwrap();
            let answers: Vec<Value> = asked["requests"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| {
                    json!({"id": item["id"], "status": 200,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"id": "h", "softwareUpdateHealth": {}}})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({ "responses": answers }))
        })
        .expect(1)
        .mount(&app.graph)
        .await;
    let body = json!({"action": "restartDevice", "devices": {"deviceType": "teamsRoom"}});
    let responses = futures::future::join_all(
        (0..50).map(|_| post_keyed(&app, "CHG0078-restart-rooms", &body)),
    )
    .await;
    let mut answers = std::collections::HashSet::new();
    for response in responses {
        assert_eq!(response.status(), 202);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["devices"], json!(["room-1", "room-2"]), "{body}");
        answers.insert(body["changeId"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        answers.len(),
        1,
        "every delivery answered with the one parent"
    );
    app.graph.verify().await;
}

crate::on_every_store!(
    a_storm_of_one_fleet_delivery_reads_the_inventory_once,
    a_repeat_gets_the_first_answer_even_after_the_change_finished,
    two_hundred_identical_deliveries_at_once_make_one_graph_call,
    a_delivery_graph_could_not_take_may_be_sent_again,
);

#[tokio::test]
async fn keys_belong_to_their_caller_and_sender_delivery_ids_count() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let body = restart("d1");
    assert_eq!(post_keyed(&app, "shared-key", &body).await.status(), 202);
    // Another caller's key of the same name is its own.
    let other = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(RESTART_ONLY_TOKEN)
        .header("Idempotency-Key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 202);
    assert!(other.headers().get("idempotent-replayed").is_none());

    // A GitHub-style delivery id is the key when no Idempotency-Key is sent.
    let send = || {
        app.http
            .post(format!("{}/v1/changes", app.address))
            .bearer_auth(TOKEN)
            .header("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .json(&json!({"action": "restartDevice", "deviceId": "d9"}))
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 202);
    assert_eq!(
        send().await.unwrap().headers()["idempotent-replayed"],
        "true"
    );
    assert_eq!(graph_posts(&app.graph_requests().await), 3);

    let bad = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "has spaces")
        .json(&body)
        .send()
        .await
        .unwrap();
    let p = problem(bad, 400).await;
    assert_eq!(p["errors"][0]["field"], "idempotency-key");
}

#[tokio::test]
async fn a_delivery_whose_client_went_away_is_answered_for_its_repeats() {
    let app = spawn_app_with(Options {
        request_timeout: std::time::Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    every_post(accepted("d1").set_delay(Duration::from_secs(2)))
        .mount(&app.graph)
        .await;
    let body = restart("d1");
    // The sender gives up after 300 ms and closes the connection; the server drops the
    // request while Graph is still being asked.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let gave_up = impatient
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "k-gone")
        .json(&body)
        .send()
        .await;
    assert!(gave_up.is_err());
    // The repeat waits for the cut-off delivery to be settled, however soon the server sees
    // that the connection closed.
    // The repeat learns of the recorded change instead of waiting on 409 for a day, and
    // does not act again.
    let p = problem(post_keyed(&app, "k-gone", &body).await, 504).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-pending");
    let id = p["changeId"].as_str().unwrap();
    assert_eq!(app.record(id).await.status().as_str(), "submitting");
    assert!(graph_posts(&app.graph_requests().await) <= 1);
}

#[tokio::test]
async fn a_signed_delivery_keeps_the_key_its_signature_covers() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let body = serde_json::to_vec(&restart("d1")).unwrap();
    let now = app.now().unix_timestamp();
    let signature = standard_webhooks_signature("msg_signed_1", now, &body);
    // A captured delivery sent again under a fresh, unsigned Idempotency-Key is still the
    // same delivery: its webhook-id is the key.
    for fresh in ["k-1", "k-2"] {
        let response = app
            .http
            .post(format!("{}/v1/changes", app.address))
            .header("content-type", "application/json")
            .header("webhook-id", "msg_signed_1")
            .header("webhook-timestamp", now.to_string())
            .header("webhook-signature", &signature)
            .header("Idempotency-Key", fresh)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
    }
    assert_eq!(graph_posts(&app.graph_requests().await), 1);
}

#[tokio::test]
async fn a_repeat_of_a_delivery_still_in_flight_waits_then_gets_409() {
    let app = spawn_app_with(Options {
        request_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    let body = restart("d1");
    let bytes = serde_json::to_vec(&body).unwrap();
    // The first delivery of this key is being carried out by another process.
    let first_change = graphgate::change::ChangeId::new();
    let first = graphgate::change::KeyedDelivery::new(
        "itsm",
        graphgate::change::IdempotencyKey::parse("k-busy").unwrap(),
        &bytes,
        Some(first_change.clone()),
        app.now(),
        time::Duration::hours(24),
    );
    assert!(
        app.store
            .keep_delivery(&first, app.now())
            .await
            .unwrap()
            .is_none()
    );
    let started = tokio::time::Instant::now();
    let response = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", "k-busy")
        .header("content-type", "application/json")
        .body(bytes)
        .send()
        .await
        .unwrap();
    let p = problem(response, 409).await;
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "it waited for the first"
    );
    assert_eq!(p["type"], "urn:graphgate:problem:delivery-in-flight");
    assert_eq!(p["changeId"], first_change.to_string());
    assert!(app.graph_requests().await.is_empty());
}
