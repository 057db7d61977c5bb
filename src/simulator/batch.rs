//! `POST /{version}/$batch`, as Graph serves it: at most 20 requests, each answered on its own
//! by the same routes (and the same token, permission and fault checks) as if sent alone.
//! The `throttleBatchItems` fault answers the next requests inside batches with 429, as Graph
//! throttles some requests of a batch while it serves the others.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tower::ServiceExt;

use super::graph_errors::graph_error;
use super::state::SimulatorState;

const MAX_REQUESTS: usize = 20;

#[derive(Deserialize)]
pub(super) struct Batch {
    requests: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    id: String,
    method: String,
    url: String,
    #[serde(default)]
    body: Option<Value>,
}

/// Answers a batch, each request through `routes` (the version's own routes).
pub(super) async fn answer(
    State(state): State<SimulatorState>,
    headers: HeaderMap,
    routes: Router,
    Json(batch): Json<Batch>,
) -> Response {
    if batch.requests.len() > MAX_REQUESTS {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("The number of requests in the batch exceeds the limit of {MAX_REQUESTS}."),
        );
    }
    let authorization = headers.get(header::AUTHORIZATION).cloned();
    let answers = batch.requests.into_iter().map(|item| {
        let routes = routes.clone();
        let state = state.clone();
        let authorization = authorization.clone();
        async move { one(&state, routes, authorization, item).await }
    });
    let responses = futures::future::join_all(answers).await;
    Json(json!({ "responses": responses })).into_response()
}

async fn one(
    state: &SimulatorState,
    routes: Router,
    authorization: Option<HeaderValue>,
    item: Item,
) -> Value {
    let throttled = {
        let mut inner = state.lock();
        let take = inner.faults.throttle_batch_items > 0;
        if take {
            inner.faults.throttle_batch_items -= 1;
        }
        take.then(|| inner.faults.retry_after_secs)
    };
    if let Some(secs) = throttled {
        return json!({
            "id": item.id,
            "status": 429,
            "headers": {"Retry-After": secs.to_string(), "Content-Type": "application/json"},
            "body": {"error": {"code": "TooManyRequests", "message": "The simulator is set to throttle requests in batches."}},
        });
    }
    let Ok(method) = Method::from_bytes(item.method.as_bytes()) else {
        return json!({"id": item.id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "Invalid method."}}});
    };
    if !item.url.starts_with('/') {
        return json!({"id": item.id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "Invalid request URL."}}});
    }
    let body = match &item.body {
        Some(b) => Body::from(b.to_string()),
        None => Body::empty(),
    };
    let mut request = Request::builder()
        .method(method)
        .uri(item.url.as_str())
        .header(
            header::CONTENT_LENGTH,
            item.body.as_ref().map_or(0, |b| b.to_string().len()),
        )
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(auth) = authorization {
        request = request.header(header::AUTHORIZATION, auth);
    }
    let Ok(request) = request.body(body) else {
        return json!({"id": item.id, "status": 400, "body": {"error": {"code": "BadRequest", "message": "Invalid request."}}});
    };
    let response = match routes.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_owned(), json!(v));
        }
    }
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    json!({"id": item.id, "status": status, "headers": headers, "body": body})
}
