//! Request extractors: who is calling, by when the answer is due, and the JSON body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde_json::{Map, Value};
use tokio::time::{Duration, Instant};

use super::strict_json::{self, StrictJsonError};
use super::{ApiError, Intake, MAX_BODY_BYTES};
use crate::callers::{self, Caller};

/// The registered caller, proven by its bearer token.
pub struct Authenticated(pub Arc<Caller>);

impl FromRequestParts<Intake> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Intake) -> Result<Self, ApiError> {
        let presented = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            })
            .ok_or(ApiError::Unauthorized)?;
        callers::authenticate(state.callers.as_ref(), presented)
            .await
            .map(Authenticated)
            .ok_or(ApiError::Unauthorized)
    }
}

/// When this request's work must be done. In Lambda, the invocation's deadline less a margin
/// to answer in; elsewhere, the configured request timeout.
pub struct Deadline(pub Instant);

/// Time kept back from a Lambda invocation's deadline to write the record and answer.
const LAMBDA_MARGIN: Duration = Duration::from_millis(1500);

impl FromRequestParts<Intake> for Deadline {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Intake) -> Result<Self, ApiError> {
        let now = Instant::now();
        let mut budget = state.settings.request_timeout;
        if let Some(context) = parts.extensions.get::<lambda_http::Context>() {
            budget = budget.min(crate::clock::time_left(context.deadline(), LAMBDA_MARGIN));
        }
        Ok(Deadline(now + budget))
    }
}

/// A JSON object body, refused with 415, 413 or 400 before any handler logic runs.
pub struct JsonObject(pub Map<String, Value>);

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else {
                ApiError::UnreadableBody
            }
        })?;
        match strict_json::parse(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::NotAnObject),
            Err(StrictJsonError::Syntax(e)) => Err(ApiError::MalformedJson(e)),
            Err(StrictJsonError::DuplicateKey(key)) => Err(ApiError::DuplicateKey(key)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/merge-patch+json",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/x-www-form-urlencoded",
            "json",
            "",
        ] {
            assert!(!is_json(bad), "{bad}");
        }
    }
}
