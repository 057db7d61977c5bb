//! Signed deliveries on `/v1/changes`: a Standard Webhooks sender and a GitHub/Jira-style
//! `hmac-sha256` sender, each verified over the raw body, and refused when the signature is
//! wrong, missing, stale or made for another body. Signatures here are made independently of
//! graphgate's own code, from each scheme's specification.

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

use crate::helpers::*;

async fn send_standard(
    app: &TestApp,
    body: &[u8],
    timestamp: i64,
    signature: &str,
) -> reqwest::Response {
    app.http
        .post(format!("{}/v1/changes", app.address))
        .header("content-type", "application/json")
        .header("webhook-id", "msg_2mFbQ6hXkRzq")
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_standard_webhooks_delivery_is_verified_over_the_raw_body() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let now = app.now().unix_timestamp();
    let body = br#"{"action": "restartDevice", "deviceId": "d1", "reference": "CHG0040001"}"#;

    let good = standard_webhooks_signature("msg_2mFbQ6hXkRzq", now, body);
    let response = send_standard(&app, body, now, &good).await;
    assert_eq!(response.status(), 202);
    let change: Value = response.json().await.unwrap();
    let id = change["changeId"].as_str().unwrap();
    assert_eq!(app.record(id).await.caller(), "servicenow");

    // During a key rotation the sender signs with both keys; one good signature suffices.
    // (The same webhook-id again is a retry of the same delivery: answered as the first.)
    let listed = format!("v1,c29tZSBvbGQga2V5IHNpZ25hdHVyZQ== {good}");
    let again = send_standard(&app, body, now, &listed).await;
    assert_eq!(again.status(), 202);
    assert_eq!(again.headers()["idempotent-replayed"], "true");

    let refused = [
        (
            "a signature made for another body",
            standard_webhooks_signature("msg_2mFbQ6hXkRzq", now, b"{}"),
        ),
        (
            "a stale timestamp",
            standard_webhooks_signature("msg_2mFbQ6hXkRzq", now - 301, body),
        ),
        ("no signature", String::new()),
        ("a bearer token instead", format!("v1,{TOKEN}")),
    ];
    for (case, signature) in refused {
        let at = if case == "a stale timestamp" {
            now - 301
        } else {
            now
        };
        let p = problem(send_standard(&app, body, at, &signature).await, 401).await;
        assert_eq!(p["type"], "urn:graphgate:problem:unauthorized", "{case}");
    }
    // The body that was signed, with one byte changed.
    let mut tampered = body.to_vec();
    tampered[60] = b'2';
    assert_eq!(
        send_standard(&app, &tampered, now, &good).await.status(),
        401
    );
    assert_eq!(
        app.graph_requests().await.len(),
        1,
        "one delivery, one Graph call"
    );

    // The same caller reads its change back by signing the empty body.
    let response = app
        .http
        .get(format!("{}/v1/changes/{id}", app.address))
        .header("webhook-id", "msg_read_1")
        .header("webhook-timestamp", now.to_string())
        .header(
            "webhook-signature",
            standard_webhooks_signature("msg_read_1", now, b""),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_hmac_sha256_delivery_is_verified_in_the_configured_header() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    let body = serde_json::to_vec(&json!({"action": "restartDevice", "deviceId": "d1"})).unwrap();
    let signature = hmac_sha256_signature(HMAC_SECRET, &body);
    let send = |header: &'static str, value: String, body: Vec<u8>| {
        app.http
            .post(format!("{}/v1/changes", app.address))
            .header("content-type", "application/json")
            .header(header, value)
            .body(body)
            .send()
    };
    let response = send(HMAC_HEADER, signature.clone(), body.clone())
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let change: Value = response.json().await.unwrap();
    assert_eq!(
        app.record(change["changeId"].as_str().unwrap())
            .await
            .caller(),
        "jira"
    );

    // The signature has no timestamp: a captured delivery replayed is answered as the
    // first, and changes nothing (the body is the key when the sender gives none).
    let replayed = send(HMAC_HEADER, signature.clone(), body.clone())
        .await
        .unwrap();
    assert_eq!(replayed.status(), 202);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");

    // Nor does a fresh, unsigned Idempotency-Key make it new.
    let rekeyed = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .header("content-type", "application/json")
        .header(HMAC_HEADER, signature.clone())
        .header("Idempotency-Key", "attacker-chosen")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(rekeyed.headers()["idempotent-replayed"], "true");

    // Reading back would need a signature over an empty body, the same value forever: an
    // hmac-sha256 caller cannot read, so such a signature is worth nothing.
    let fixed = hmac_sha256_signature(HMAC_SECRET, b"");
    let read = app
        .http
        .get(format!(
            "{}/v1/changes/{}",
            app.address,
            change["changeId"].as_str().unwrap()
        ))
        .header(HMAC_HEADER, fixed)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 401);

    // Another header name, no prefix, or a signature of another body: refused.
    for (header, value) in [
        ("X-Hub-Signature-256", signature.clone()),
        (
            HMAC_HEADER,
            signature.trim_start_matches("sha256=").to_owned(),
        ),
        (HMAC_HEADER, hmac_sha256_signature(HMAC_SECRET, b"{}")),
    ] {
        let p = problem(send(header, value, body.clone()).await.unwrap(), 401).await;
        assert_eq!(p["type"], "urn:graphgate:problem:unauthorized");
    }
    // jira may only restart: a proven caller asking for more is 403, not 401.
    let upgrade =
        serde_json::to_vec(&json!({"action": "runDiagnostics", "deviceId": "d1"})).unwrap();
    let signed = hmac_sha256_signature(HMAC_SECRET, &upgrade);
    assert_eq!(
        send(HMAC_HEADER, signed, upgrade).await.unwrap().status(),
        403
    );
    assert_eq!(app.graph_requests().await.len(), 1);
}

#[tokio::test]
async fn a_slack_or_teams_caller_cannot_use_the_changes_route() {
    let app = spawn_app().await;
    every_post(ResponseTemplate::new(500))
        .mount(&app.graph)
        .await;
    // A body signed as Slack signs: the right route for it is /v1/slack/commands.
    let now = app.now().unix_timestamp();
    let timestamp = now.to_string();
    let body = br#"{"action":"restartDevice","deviceId":"d1"}"#;
    let response = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", &timestamp)
        .header(
            "x-slack-signature",
            slack_signature(b"anything-at-all-16b", now, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(app.graph_requests().await.is_empty());
}
