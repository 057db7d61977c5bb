//! The token endpoint: one request for a burst on a cold cache, refresh before expiry, and
//! a fresh token when Graph refuses a cached one.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

#[tokio::test]
async fn a_hundred_concurrent_requests_on_a_cold_cache_make_one_token_request() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"token_type": "Bearer", "expires_in": 3599, "access_token": "the-one-token"}))
                // Slow enough that all hundred requests are waiting for it.
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .mount(&app.login)
        .await;
    every_post(accepted("d"))
        .expect(100)
        .mount(&app.graph)
        .await;

    let responses =
        futures::future::join_all((0..100).map(|i| app.post_change(restart(&format!("dev-{i}")))))
            .await;
    for response in responses {
        assert_eq!(response.status(), 202);
    }
    assert_eq!(app.token_requests().await.len(), 1);
    let graph = app.graph_requests().await;
    assert_eq!(graph.len(), 100);
    assert!(graph.iter().all(|r| bearer(r) == "Bearer the-one-token"));
    let ids: HashSet<_> = graph
        .iter()
        .map(|r| r.headers["client-request-id"].clone())
        .collect();
    assert_eq!(ids.len(), 100, "every call has its own client-request-id");
}

#[tokio::test]
async fn the_token_request_is_a_client_credentials_grant_for_the_graph_scope() {
    let app = spawn_app().await;
    every_post(accepted("d1")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    let requests = app.token_requests().await;
    assert_eq!(requests.len(), 1);
    let form: HashSet<(String, String)> = url::form_urlencoded::parse(&requests[0].body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let expected: HashSet<(String, String)> = [
        ("client_id", "graphgate-tests".to_owned()),
        ("client_secret", CLIENT_SECRET.to_owned()),
        ("scope", format!("{}/.default", app.graph.uri())),
        ("grant_type", "client_credentials".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(form, expected);
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    // Lifetime 2 s: refreshed after half of it.
    let app = spawn_app_with(Options {
        token_lifetime_secs: 2,
        ..Options::default()
    })
    .await;
    every_post(accepted("d")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    assert_eq!(app.post_change(restart("d2")).await.status(), 202);
    assert_eq!(app.token_requests().await.len(), 1, "cached while fresh");
    app.advance(Duration::from_millis(1100));
    assert_eq!(app.post_change(restart("d3")).await.status(), 202);
    assert_eq!(
        app.token_requests().await.len(),
        2,
        "refreshed before expiry"
    );
    let bearers: Vec<String> = app.graph_requests().await.iter().map(bearer).collect();
    assert_eq!(bearers[0], bearers[1]);
    assert_ne!(bearers[1], bearers[2]);
}

#[tokio::test]
async fn a_token_graph_refuses_is_replaced_once() {
    let app = spawn_app().await;
    every_post(graph_error(401, "InvalidAuthenticationToken", "req-401"))
        .up_to_n_times(1)
        .mount(&app.graph)
        .await;
    every_post(accepted("d1")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    assert_eq!(app.token_requests().await.len(), 2);
    let bearers: Vec<String> = app.graph_requests().await.iter().map(bearer).collect();
    assert_eq!(bearers.len(), 2);
    assert_ne!(bearers[0], bearers[1]);

    // A second 401 in a row is Graph's answer, not a stale token: no loop.
    let app = spawn_app().await;
    every_post(graph_error(401, "InvalidAuthenticationToken", "req-401"))
        .expect(2)
        .mount(&app.graph)
        .await;
    let p = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-permission");
}

#[tokio::test]
async fn refused_credentials_are_a_502_that_leaks_nothing() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided."})))
        .mount(&app.login)
        .await;
    let p = problem(app.post_change(restart("d1")).await, 502).await;
    assert_eq!(p["type"], "urn:graphgate:problem:graph-sign-in");
    assert!(!p.to_string().contains(CLIENT_SECRET));
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn requests_queued_behind_a_refused_token_request_do_not_repeat_it() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_client"}))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&app.login)
        .await;
    let responses =
        futures::future::join_all((0..20).map(|i| app.post_change(restart(&format!("dev-{i}")))))
            .await;
    for response in responses {
        assert_eq!(response.status(), 502);
    }
    assert!(app.graph_requests().await.is_empty());
}

#[tokio::test]
async fn a_throttled_token_endpoint_is_retried() {
    let app = spawn_app_with(Options {
        mount_token: false,
        ..Options::default()
    })
    .await;
    Mock::given(method("POST"))
        .and(path(TOKEN_PATH))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0.1"))
        .up_to_n_times(1)
        .mount(&app.login)
        .await;
    mount_token(&app.login, 3599).await;
    every_post(accepted("d1")).mount(&app.graph).await;
    assert_eq!(app.post_change(restart("d1")).await.status(), 202);
    assert_eq!(app.token_requests().await.len(), 2);
}
