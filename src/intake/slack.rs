//! `POST /v1/slack/commands`: a Slack slash command, verified with the app's signing secret
//! over the raw form body, answered with an ephemeral message within Slack's 3 seconds.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

use super::extract::{Deadline, signed};
use super::{ApiError, Intake, chat};
use crate::callers::Route;
use crate::change::{ChatTool, IdempotencyKey};

/// Slack shows an error unless the answer comes within 3 s; this leaves room for the trip.
const REPLY_WITHIN: Duration = Duration::from_millis(2500);

pub async fn command(
    State(intake): State<Intake>,
    Deadline(deadline): Deadline,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, bytes, caller) = signed(&intake, Route::Slack, request).await?;
    let form_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(ApiError::UnsupportedMediaType);
    }
    // The first of a repeated field counts, as Slack sends each once.
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(&bytes) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    // Slack checks the endpoint's certificate with this, and wants only a 200.
    if field("ssl_check") == "1" {
        return Ok(StatusCode::OK.into_response());
    }
    let (user, team) = (field("user_id"), field("team_id"));
    if user.is_empty() || team.is_empty() {
        return Err(ApiError::Validation(vec![crate::change::FieldError {
            field: if user.is_empty() {
                "user_id"
            } else {
                "team_id"
            }
            .into(),
            detail: "a slash command carries the user and the workspace".into(),
        }]));
    }
    if !caller.admits_chat_user(user, team) {
        return Ok(ephemeral(
            "you are not among the Slack users this command allows",
        ));
    }
    let requested_by = match field("user_name") {
        "" => format!("slack:{team}/{user}"),
        name => format!("@{name} (slack:{team}/{user})"),
    };
    let text = field("text").to_owned();
    let origin = chat::Origin {
        tool: ChatTool::Slack,
        requested_by: &requested_by,
        response_url: Some(field("response_url")).filter(|u| !u.is_empty()),
    };
    let delivery = chat::Delivery {
        // A command Slack delivers twice (its trigger_id again) is carried out once.
        key: IdempotencyKey::parse(field("trigger_id")).ok(),
        body: &bytes,
        reply_within: REPLY_WITHIN,
        render: ephemeral,
    };
    chat::run(&intake, &caller, &text, origin, delivery, deadline).await
}

fn ephemeral(text: &str) -> Response {
    Json(json!({"response_type": "ephemeral", "text": text})).into_response()
}
