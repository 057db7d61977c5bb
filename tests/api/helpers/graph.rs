//! Fakes of Microsoft Graph and its token endpoint: what they answer, and how a test reads
//! what they were sent.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{TOKEN_PATH, json_of};

/// A fake Graph that, like Graph's front end, answers 411 Length Required to a POST with
/// neither `Content-Length` nor chunked encoding, whatever else is mounted. graphgate reaches
/// it over HTTP/1.1: on plain http, reqwest never tries HTTP/2 without prior knowledge.
pub async fn graph_fake() -> MockServer {
    let graph = MockServer::start().await;
    Mock::given(method("POST"))
        .and(|request: &Request| {
            !request.headers.contains_key("content-length")
                && !request.headers.contains_key("transfer-encoding")
        })
        .respond_with(ResponseTemplate::new(411).set_body_string("Length Required"))
        .with_priority(1)
        .named("411 for a POST without a length")
        .mount(&graph)
        .await;
    graph
}

/// A token endpoint that hands out a new token on every call.
pub async fn mount_token(login: &MockServer, lifetime_secs: u64) {
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(move |_: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({
                "token_type": "Bearer",
                "expires_in": lifetime_secs,
                "access_token": format!("graph-token-{}", uuid::Uuid::new_v4()),
            }))
        })
        .mount(login)
        .await;
}

/// Graph accepts every action and reports every operation with `status`.
pub async fn graph_finishing_with(graph: &MockServer, status: &str) {
    every_post(accepted("d1")).mount(graph).await;
    Mock::given(method("GET"))
        .respond_with(operation(status))
        .mount(graph)
        .await;
}

/// Graph accepting a device action with its documented relative Location.
pub fn accepted(device: &str) -> ResponseTemplate {
    ResponseTemplate::new(202)
        .insert_header(
            "Location",
            format!("/teamwork/devices/{device}/operations/op-1").as_str(),
        )
        .insert_header("request-id", "graph-request-1")
}

/// Graph's answer to `GET` on an operation, with `status` spelled as given.
pub fn operation(status: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "op-1", "operationType": "deviceRestart", "status": status,
        "createdDateTime": "2026-11-23T10:00:00Z", "error": null}))
}

pub fn graph_error(status: u16, code: &str, request_id: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("request-id", request_id)
        .set_body_json(
            json!({"error": {"code": code, "message": format!("simulated {code}"),
            "innerError": {"request-id": request_id, "date": "2026-11-23T10:00:00"}}}),
        )
}

/// A token from the simulator's token endpoint, to call it as graphgate does.
pub async fn sim_token(http: &reqwest::Client, token_url: &str, graph_origin: &str) -> String {
    let grant = json_of(http.post(token_url).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", "tests"),
        ("client_secret", "secret"),
        ("scope", &format!("{graph_origin}/.default")),
    ]))
    .await;
    grant["access_token"].as_str().unwrap().to_owned()
}

pub fn bearer(request: &Request) -> String {
    request.headers["authorization"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Graph accepting a device action on whichever device the request's path names, with an
/// operation of that device's own (`op-{device}`), for fakes that take many devices.
pub fn accepted_for_its_device(request: &Request) -> ResponseTemplate {
    let device = request
        .url
        .path_segments()
        .and_then(|mut segments| segments.nth(3))
        .expect("a device action's path: /beta/teamwork/devices/{id}/…");
    ResponseTemplate::new(202).insert_header(
        "Location",
        format!("/teamwork/devices/{device}/operations/op-{device}").as_str(),
    )
}

/// A fake (Graph, a callback receiver, …) answering every POST it gets with `answer`, a fixed
/// answer or one computed from the request: mount it, or say first how many calls it must
/// get (`.expect(n)`). `every_post(accepted("d1"))` is Graph accepting a device action.
pub fn every_post(answer: impl Respond + 'static) -> Mock {
    Mock::given(method("POST")).respond_with(answer)
}
