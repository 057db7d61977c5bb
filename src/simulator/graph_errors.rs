//! Graph's error answers, as Graph shapes them: `{"error":{"code","message","innerError"}}`
//! with a `request-id`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Graph's answer to a path it has no resource for.
pub(super) fn no_such_segment(segment: &str) -> Response {
    let message = if segment.is_empty() {
        "Resource not found for the segment.".to_owned()
    } else {
        format!("Resource not found for the segment '{segment}'.")
    };
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", &message)
}

pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "request-id": request_id,
        "date": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
    }}});
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    response
}
