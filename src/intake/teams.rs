//! `POST /v1/teams/messages`: a Teams outgoing webhook's message (an Activity), verified with
//! its security token over the raw body, answered with a message within Teams' 5 seconds.

use axum::Json;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::time::Duration;

use super::extract::{Deadline, json_object, signed};
use super::{ApiError, Intake, chat};
use crate::callers::Route;
use crate::change::{ChatTool, FieldError, IdempotencyKey};

/// Teams gives up after 5 s; this leaves room for the trip.
const REPLY_WITHIN: Duration = Duration::from_millis(4000);

pub async fn message(
    State(intake): State<Intake>,
    Deadline(deadline): Deadline,
    request: Request,
) -> Result<Response, ApiError> {
    let (parts, bytes, caller) = signed(&intake, Route::Teams, request).await?;
    let activity = json_object(&parts.headers, &bytes)?;
    let text = activity
        .get("text")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldError {
                field: "text".into(),
                detail: "a message activity carries its text".into(),
            }])
        })?;
    let from = activity.get("from");
    let user = from
        .and_then(|f| f.get("aadObjectId").or_else(|| f.get("id")))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tenant = activity
        .get("channelData")
        .and_then(|c| c.get("tenant"))
        .and_then(|t| t.get("id"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !caller.admits_chat_user(user, tenant) {
        return Ok(reply(
            "you are not among the Teams users this webhook allows",
        ));
    }
    let name = from
        .and_then(|f| f.get("name"))
        .and_then(Value::as_str)
        .unwrap_or("someone");
    let requested_by = format!("{name} (teams:{user})");
    let command = without_mention(text);
    let origin = chat::Origin {
        tool: ChatTool::Teams,
        requested_by: &requested_by,
        response_url: None,
    };
    let id = activity
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let delivery = chat::Delivery {
        // An activity Teams delivers twice (its id again) is carried out once.
        key: IdempotencyKey::parse(id).ok(),
        body: &bytes,
        reply_within: REPLY_WITHIN,
        render: reply,
    };
    chat::run(&intake, &caller, &command, origin, delivery, deadline).await
}

fn reply(text: &str) -> Response {
    Json(json!({"type": "message", "text": text})).into_response()
}

/// The command in a message that starts by @-mentioning the webhook: `<at>graphgate</at>
/// restart d1`, where Teams may also write spaces as `&nbsp;`.
fn without_mention(text: &str) -> String {
    let mut rest = text;
    let mut out = String::new();
    while let Some(start) = rest.find("<at>") {
        out.push_str(&rest[..start]);
        match rest[start..].find("</at>") {
            Some(end) => rest = &rest[start + end + "</at>".len()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&nbsp;", " ").trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::without_mention;

    #[test]
    fn the_mention_is_taken_out() {
        assert_eq!(
            without_mention("<at>graphgate</at> restart d1"),
            "restart d1"
        );
        assert_eq!(
            without_mention("<at>graph gate</at>&nbsp;status x"),
            "status x"
        );
        assert_eq!(without_mention("restart d1 <at>Bot</at>"), "restart d1");
        assert_eq!(without_mention("<at>unclosed restart d1"), "");
    }
}
