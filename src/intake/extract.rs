//! Request extractors: who is calling, by when the answer is due, and the JSON body.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde_json::{Map, Value};
use tokio::time::{Duration, Instant};

use super::strict_json::{self, StrictJsonError};
use super::{ApiError, Intake, MAX_BODY_BYTES};
use crate::callers::{self, Caller, Delivery, Route};

/// The registered caller of a request without a body, proven by its bearer token or by a
/// signature over the empty body.
pub struct Authenticated(pub Arc<Caller>);

impl FromRequestParts<Intake> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Intake) -> Result<Self, ApiError> {
        caller_of(state, Route::Read, &parts.headers, b"")
            .await
            .map(Authenticated)
    }
}

/// The caller whose proof is on the request, among those the JSON routes take.
async fn caller_of(
    state: &Intake,
    route: Route,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Arc<Caller>, ApiError> {
    let delivery = Delivery {
        headers,
        body,
        now: state.clock.now(),
    };
    callers::authenticate(state.callers.as_ref(), route, &delivery)
        .await
        .ok_or(ApiError::Unauthorized(route))
}

/// A request's head, its body's bytes (413 past the limit), and the caller `route` takes
/// whose proof the request carries (401 without one).
pub(super) async fn signed(
    state: &Intake,
    route: Route,
    req: Request,
) -> Result<(Parts, Bytes, Arc<Caller>), ApiError> {
    let (parts, body) = req.into_parts();
    let bytes = read_body(Request::from_parts(parts.clone(), body), state).await?;
    let caller = caller_of(state, route, &parts.headers, &bytes).await?;
    Ok((parts, bytes, caller))
}

/// A JSON object body and the caller who sent it, proven over the body's bytes as they
/// arrived: read (413 past the limit), then authenticated (401), then parsed (415, 400).
pub struct SignedJson {
    pub caller: Arc<Caller>,
    pub body: Map<String, Value>,
    /// The body as it arrived, for its fingerprint.
    pub bytes: Bytes,
    pub headers: HeaderMap,
}

impl FromRequest<Intake> for SignedJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Intake) -> Result<Self, ApiError> {
        let (parts, bytes, caller) = signed(state, Route::Api, req).await?;
        Ok(SignedJson {
            caller,
            body: json_object(&parts.headers, &bytes)?,
            bytes,
            headers: parts.headers,
        })
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
        if let Some(context) = parts.extensions.get::<lambda_http::Context>()
            && let Some(left) =
                crate::clock::invocation_time_left(context.deadline(), LAMBDA_MARGIN)
        {
            budget = budget.min(left);
        }
        Ok(Deadline(now + budget))
    }
}

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

/// The body's bytes, at most [`MAX_BODY_BYTES`] of them.
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: MAX_BODY_BYTES,
            }
        } else {
            ApiError::UnreadableBody
        }
    })
}

/// The body as one JSON object: 415 unless it says it is JSON, 400 unless it is an object
/// with no key twice.
pub(super) fn json_object(
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<Map<String, Value>, ApiError> {
    let json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json);
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    match strict_json::parse(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::NotAnObject),
        Err(StrictJsonError::Syntax(e)) => Err(ApiError::MalformedJson(e)),
        Err(StrictJsonError::DuplicateKey(key)) => Err(ApiError::DuplicateKey(key)),
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
