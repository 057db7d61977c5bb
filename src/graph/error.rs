//! What can go wrong talking to Graph, typed by what the caller should do about it.

use std::time::Duration;

use reqwest::Response;
use serde::Deserialize;

use super::location::LocationError;
use crate::change::{FailureReason, GraphFailure};

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// 409: Graph already has an operation queued for the target.
    #[error("Graph answered 409 {}: an operation is already queued", .0.code)]
    Conflict(GraphFailure),
    /// Graph refused graphgate itself: its token or its app registration's permissions.
    #[error("Graph refused graphgate's access: {} {}", .0.http_status.unwrap_or_default(), .0.code)]
    Permission(GraphFailure),
    /// Any other 4xx: Graph will not do this, as asked.
    #[error("Graph refused the request: {} {}", .0.http_status.unwrap_or_default(), .0.code)]
    Refused(GraphFailure),
    /// Graph no longer serves the API called: `410 Gone`, or an answer that says a path
    /// segment or action does not exist (how Graph answers for an API it has removed).
    #[error("Graph no longer serves this API: {} {}", .0.http_status.unwrap_or_default(), .0.code)]
    Retired(GraphFailure),
    /// A 5xx that is not worth retrying.
    #[error("Graph failed: {} {}", .0.http_status.unwrap_or_default(), .0.code)]
    Server(GraphFailure),
    /// Throttled, unavailable or unreachable until the attempts or the deadline ran out.
    #[error("Graph stayed unavailable: {reason}")]
    Unavailable {
        reason: String,
        /// How long Graph last asked us to wait, if it said.
        retry_after: Option<Duration>,
        /// Whether Graph may have acted anyway (a gateway timeout).
        outcome_unknown: bool,
    },
    /// The request was sent and no answer came before the deadline.
    #[error("Graph did not answer before the deadline")]
    Timeout,
    #[error("could not talk to Graph")]
    Transport(#[source] reqwest::Error),
    #[error("Graph accepted the action but its Location is unusable")]
    Location(#[from] LocationError),
    /// The token endpoint refused graphgate's own credentials.
    #[error("the token endpoint refused graphgate's credentials: {http_status} {error}")]
    TokenRefused { http_status: u16, error: String },
    /// graphgate could not build its own proof of identity (its certificate cannot sign).
    #[error("graphgate could not present its credential: {0}")]
    Credential(String),
    /// A success answer that does not parse as what was asked for.
    #[error("Graph's answer for {what} could not be read")]
    Unexpected {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl GraphError {
    /// Whether Graph may have carried out the action although no success reached us. Such a
    /// change must be reconciled, not retried blindly or marked failed.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            GraphError::Unavailable {
                outcome_unknown, ..
            } => *outcome_unknown,
            GraphError::Timeout | GraphError::Transport(_) | GraphError::Location(_) => true,
            _ => false,
        }
    }

    /// Graph's own error answer, as Graph gave it, when there was one.
    pub fn graph_answer(&self) -> Option<&GraphFailure> {
        match self {
            GraphError::Conflict(f)
            | GraphError::Permission(f)
            | GraphError::Refused(f)
            | GraphError::Retired(f)
            | GraphError::Server(f) => Some(f),
            _ => None,
        }
    }

    /// The failure as the change record keeps it.
    pub fn failure(&self) -> GraphFailure {
        match self {
            // graphgate's code, so that a retired API is never read as a missing device.
            GraphError::Retired(f) => GraphFailure {
                code: FailureReason::GraphApiRetired.as_str().into(),
                message: "Graph no longer serves this API at the configured version; see the README on the teamworkDevice retirement".into(),
                ..f.clone()
            },
            GraphError::Conflict(f)
            | GraphError::Permission(f)
            | GraphError::Refused(f)
            | GraphError::Server(f) => f.clone(),
            // The sign-in error is the operator's to read, in the log; not the caller's.
            GraphError::TokenRefused { .. } | GraphError::Credential(_) => GraphFailure::graphgate(
                FailureReason::GraphSignInRefused,
                "the token endpoint refused graphgate's credentials",
            ),
            // graphgate's own sentence: the error's text may hold an HTTP client's or a
            // parser's words, which are for the log only.
            other => {
                let (code, message) = match other {
                    GraphError::Unavailable { .. } => (
                        FailureReason::GraphUnavailable,
                        "Graph stayed throttled or unreachable until the deadline",
                    ),
                    GraphError::Timeout => {
                        (FailureReason::GraphTimeout, "Graph did not answer before the deadline")
                    }
                    GraphError::Location(_) => (
                        FailureReason::BadLocation,
                        "Graph accepted the action but its Location is unusable",
                    ),
                    GraphError::Unexpected { .. } => {
                        (FailureReason::GraphUnreachable, "Graph's answer could not be read")
                    }
                    _ => (FailureReason::GraphUnreachable, "graphgate could not talk to Graph"),
                };
                GraphFailure::graphgate(code, message)
            }
        }
    }

    /// Reads a Graph error answer: `{"error":{"code","message","innerError":{"request-id"}}}`.
    pub(crate) async fn from_response(response: Response) -> GraphError {
        let status = response.status().as_u16();
        let header_id = request_id(response.headers());
        let body = response.bytes().await.unwrap_or_default();
        Self::from_answer(status, header_id, &body)
    }

    /// An error answer as its parts: the HTTP status, the `request-id` header, and the body.
    /// A `$batch` gives each request's answer this way.
    pub(crate) fn from_answer(status: u16, header_id: Option<String>, body: &[u8]) -> GraphError {
        let parsed = serde_json::from_slice::<ErrorBody>(body)
            .ok()
            .map(|b| b.error);
        let failure = GraphFailure {
            http_status: Some(status),
            code: parsed
                .as_ref()
                .and_then(|e| e.code.as_ref())
                .map(|c| c.chars().take(128).collect())
                .unwrap_or_else(|| {
                    reqwest::StatusCode::from_u16(status)
                        .ok()
                        .and_then(|s| s.canonical_reason())
                        .unwrap_or("unknown")
                        .to_owned()
                }),
            message: parsed
                .as_ref()
                .and_then(|e| e.message.clone())
                .map(|m| m.chars().take(512).collect())
                .unwrap_or_default(),
            request_id: header_id.or_else(|| {
                parsed
                    .and_then(|e| e.inner_error)
                    .and_then(|i| i.request_id)
            }),
        };
        classify(status, failure)
    }
}

/// Graph's error `code` decides where it says enough; the HTTP status decides the rest.
fn classify(status: u16, failure: GraphFailure) -> GraphError {
    const PERMISSION: [&str; 6] = [
        "InvalidAuthenticationToken",
        "Authorization_RequestDenied",
        "Authorization_IdentityNotFound",
        "AccessDenied",
        "accessDenied",
        "Forbidden",
    ];
    const CONFLICT: [&str; 2] = ["Conflict", "conflict"];
    let code = failure.code.as_str();
    if status == 410 || (matches!(status, 400 | 404) && says_no_such_api(&failure.message)) {
        GraphError::Retired(failure)
    } else if PERMISSION.contains(&code) || matches!(status, 401 | 403) {
        GraphError::Permission(failure)
    } else if CONFLICT.contains(&code) || status == 409 {
        GraphError::Conflict(failure)
    } else if (400..500).contains(&status) {
        GraphError::Refused(failure)
    } else {
        GraphError::Server(failure)
    }
}

/// Whether Graph's message says the path itself does not exist, as Graph answers a request
/// for an entity or action it does not have (v1.0's answer to `teamwork/devices` today). A 404
/// `UnknownError` for a device that does not take an action says no such thing.
fn says_no_such_api(message: &str) -> bool {
    const PHRASES: [&str; 3] = [
        "resource not found for the segment",
        "unsupported segment",
        "no http resource was found",
    ];
    let message = message.to_ascii_lowercase();
    PHRASES.iter().any(|p| message.contains(p))
}

/// Graph's `request-id` response header, which support asks for.
pub(crate) fn request_id(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get("request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: &str) -> GraphFailure {
        GraphFailure {
            http_status: None,
            code: code.into(),
            message: String::new(),
            request_id: None,
        }
    }

    #[test]
    fn codes_decide_before_statuses() {
        assert!(matches!(
            classify(400, failure("Authorization_RequestDenied")),
            GraphError::Permission(_)
        ));
        assert!(matches!(
            classify(403, failure("whatever")),
            GraphError::Permission(_)
        ));
        assert!(matches!(
            classify(400, failure("Conflict")),
            GraphError::Conflict(_)
        ));
        assert!(matches!(
            classify(409, failure("BadRequest")),
            GraphError::Conflict(_)
        ));
        assert!(matches!(
            classify(404, failure("UnknownError")),
            GraphError::Refused(_)
        ));
        assert!(matches!(
            classify(410, failure("Gone")),
            GraphError::Retired(_)
        ));
        let no_segment = GraphFailure {
            message: "Resource not found for the segment 'devices'.".into(),
            ..failure("BadRequest")
        };
        assert!(matches!(
            classify(400, no_segment.clone()),
            GraphError::Retired(_)
        ));
        assert!(matches!(
            classify(404, no_segment.clone()),
            GraphError::Retired(_)
        ));
        assert!(matches!(classify(500, no_segment), GraphError::Server(_)));
        let missing_device = GraphFailure {
            message: "The requested device was not found.".into(),
            ..failure("NotFound")
        };
        assert!(matches!(
            classify(404, missing_device),
            GraphError::Refused(_)
        ));
        assert!(matches!(
            classify(500, failure("UnknownError")),
            GraphError::Server(_)
        ));
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: MainError,
}

#[derive(Deserialize)]
struct MainError {
    code: Option<String>,
    message: Option<String>,
    #[serde(alias = "innererror", alias = "InnerError", rename = "innerError")]
    inner_error: Option<InnerError>,
}

#[derive(Deserialize)]
struct InnerError {
    #[serde(rename = "request-id")]
    request_id: Option<String>,
}
