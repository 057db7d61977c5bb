//! Clients never see internal error text: not a parser's words, not an HTTP client's, not a
//! Graph body that is not a Graph error. Graph's own `code` and `message` may reach them, as
//! named fields.

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

/// Text that must not reach a client, whatever carries it.
const MARKER: &str = "internal-marker-7f3a";

/// Asserts that nothing in `body` or the change's record, as its caller reads it, holds text
/// graphgate did not write itself.
async fn assert_clean(app: &TestApp, body: &Value) {
    let text = body.to_string();
    for leak in [
        MARKER,
        "<html",
        "expected value",
        "EOF while parsing",
        "at line",
        "error sending request",
        "evil.example.com",
    ] {
        assert!(!text.contains(leak), "{leak:?} leaked into {text}");
    }
    if let Some(id) = body["changeId"].as_str() {
        let view = app.get_change(TOKEN, id).await.text().await.unwrap();
        for leak in [MARKER, "<html", "expected value", "evil.example.com"] {
            assert!(
                !view.contains(leak),
                "{leak:?} leaked into the change: {view}"
            );
        }
    }
}

#[tokio::test]
async fn odd_graph_answers_leave_no_text_of_theirs_in_the_response() {
    let cases: Vec<(&str, ResponseTemplate, u16)> = vec![
        (
            "an HTML error page",
            ResponseTemplate::new(502).set_body_raw(
                format!("<html><body><h1>502 Bad Gateway</h1>{MARKER}</body></html>"),
                "text/html",
            ),
            502,
        ),
        (
            "a 400 whose body is not JSON",
            ResponseTemplate::new(400).set_body_raw(format!("nope {MARKER}"), "text/plain"),
            422,
        ),
        (
            "a 409 whose JSON is not a Graph error",
            ResponseTemplate::new(409).set_body_json(json!({"unexpected": MARKER})),
            409,
        ),
        (
            "a 403 with an error body of the wrong shape",
            ResponseTemplate::new(403).set_body_json(json!({"error": MARKER})),
            502,
        ),
        (
            "a 202 with a Location on another host",
            ResponseTemplate::new(202).insert_header(
                "Location",
                format!("https://evil.example.com/{MARKER}").as_str(),
            ),
            504,
        ),
        (
            "a 202 with no Location",
            ResponseTemplate::new(202).set_body_raw(MARKER, "text/plain"),
            504,
        ),
    ];
    for (what, answer, status) in cases {
        let app = spawn_app().await;
        every_post(answer).mount(&app.graph).await;
        let body = problem(app.post_change(restart("d1")).await, status).await;
        assert_clean(&app, &body).await;
        assert!(body["changeId"].is_string(), "{what}: {body}");
    }
}

#[tokio::test]
async fn an_operation_that_does_not_parse_leaves_no_parser_text_in_the_change() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(format!("{{{MARKER}"), "application/json"),
        )
        .mount(&app.graph)
        .await;
    let response = app.post_change(restart("d1")).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(app.sweep().await.errors, 0, "a bad answer is retried later");
    assert_clean(&app, &body).await;
}

#[tokio::test]
async fn a_token_endpoint_answer_that_does_not_parse_is_a_plain_502() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    every_post(
        ResponseTemplate::new(200).set_body_raw(format!("not json {MARKER}"), "application/json"),
    )
    .mount(&app.login)
    .await;
    let body = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-error");
    assert_clean(&app, &body).await;
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn a_refused_sign_in_keeps_the_endpoints_words_out_of_the_response() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    every_post(ResponseTemplate::new(401).set_body_json(
        json!({"error": MARKER, "error_description": format!("AADSTS7000215 {MARKER}")}),
    ))
    .mount(&app.login)
    .await;
    let body = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(body["type"], "urn:graphgate:problem:graph-sign-in");
    assert_clean(&app, &body).await;
    let record = app.record(body["changeId"].as_str().unwrap()).await;
    assert_eq!(record.failure().unwrap().code, "graphSignInRefused");
}

#[tokio::test]
async fn graphs_own_code_and_message_arrive_as_named_fields() {
    let app = spawn_app().await;
    every_post(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "code": "BadRequest", "message": "The device is not registered for this action."}})))
    .mount(&app.graph)
    .await;
    let body = problem(app.post_change(restart("d1")).await, 422).await;
    assert_eq!(body["graphCode"], "BadRequest");
    assert_eq!(
        body["graphMessage"],
        "The device is not registered for this action."
    );
    assert!(
        !body["detail"].as_str().unwrap().contains("not registered"),
        "Graph's words stay in their own field: {body}"
    );
}

#[tokio::test]
async fn malformed_json_says_where_without_the_parsers_words() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}/v1/changes", app.address))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"action\": \"restartDevice\",\n  \"deviceId\": }")
        .send()
        .await
        .unwrap();
    let body = problem(response, 400).await;
    assert_eq!(body["type"], "urn:graphgate:problem:malformed-json");
    assert_eq!(
        (body["line"].as_u64(), body["column"].as_u64()),
        (Some(2), Some(15))
    );
    assert_clean(&app, &body).await;
    assert!(app.graph_requests().await.is_empty());
}
