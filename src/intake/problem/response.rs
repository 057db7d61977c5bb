//! How a problem leaves graphgate: as an `application/problem+json` response (RFC 9457), or
//! as one sentence for a chat reply. Logs get the whole error chain; the body gets only the
//! problem.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::body::Problem;
use super::error::ApiError;
use crate::telemetry::error_chain;

impl ApiError {
    /// The problem's title and detail as one sentence, for a chat reply.
    pub fn sentence(&self) -> String {
        let problem = self.problem();
        format!("{}: {}", problem.title, problem.detail)
    }

    /// The problem as its `application/problem+json` body.
    pub fn to_json(&self) -> Value {
        body(&self.problem())
    }

    /// The problem's name, when it refuses the request (a 4xx) rather than failing it.
    pub fn refusal(&self) -> Option<&'static str> {
        let problem = self.problem();
        problem.status.is_client_error().then_some(problem.slug)
    }
}

/// `problem` as its `application/problem+json` body.
fn body(problem: &Problem) -> Value {
    let mut body = json!({
        "type": format!("urn:graphgate:problem:{}", problem.slug),
        "title": problem.title,
        "status": problem.status.as_u16(),
        "detail": problem.detail,
    });
    if let Value::Object(map) = &mut body {
        map.extend(problem.extensions.clone());
    }
    body
}

/// Marks a response that refused a request for a change, naming the problem, so the routes
/// that take changes count it once, in one place (`intake::counting_refusals`), whether a
/// problem+json answer or a chat reply in words carries it.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status.is_server_error() {
            tracing::error!(status = problem.status.as_u16(), error = %error_chain(&self), "request failed");
        } else {
            tracing::info!(status = problem.status.as_u16(), error = %error_chain(&self), "request refused");
        }
        let mut response = (problem.status, body(&problem).to_string()).into_response();
        if problem.status.is_client_error() {
            response.extensions_mut().insert(Refused(problem.slug));
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(wait) = problem.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if let Some(challenge) = problem.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
