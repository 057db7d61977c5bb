//! A problem as RFC 9457 has it: status, type, title and detail, and the named fields that
//! extend it. What graphgate puts in one is fixed text, or Graph's own words as named fields.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::change::{FieldError, GraphFailure};

/// How many invalid fields a validation problem lists; `errorCount` says how many there were.
const MAX_LISTED_ERRORS: usize = 20;

pub(super) struct Problem {
    pub(super) status: StatusCode,
    /// The last part of the type, `urn:graphgate:problem:{slug}`.
    pub(super) slug: &'static str,
    pub(super) title: &'static str,
    pub(super) detail: String,
    pub(super) extensions: Map<String, Value>,
    pub(super) retry_after: Option<Duration>,
    /// The `WWW-Authenticate` challenge of a 401, for a route whose proof is an HTTP
    /// authentication scheme.
    pub(super) challenge: Option<&'static str>,
}

impl Problem {
    pub(super) fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            slug,
            title,
            detail: detail.into(),
            extensions: Map::new(),
            retry_after: None,
            challenge: None,
        }
    }

    pub(super) fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// Graph's answer, as `graphCode`, `graphStatus` and `graphRequestId`: what support asks
    /// for. Never graphgate's internal text.
    pub(super) fn with_graph_answer(mut self, failure: &GraphFailure) -> Self {
        self = self.with("graphCode", failure.code.as_str());
        if let Some(status) = failure.http_status {
            self = self.with("graphStatus", status);
        }
        if let Some(request_id) = &failure.request_id {
            self = self.with("graphRequestId", request_id.as_str());
        }
        self
    }

    /// A 400 that names each bad field (or parameter) of a request.
    pub(super) fn invalid(title: &'static str, errors: &[FieldError]) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "validation",
            title,
            match errors {
                [one] => format!("{}: {}", one.field, one.detail),
                many => format!("{} fields are invalid; see errors", many.len()),
            },
        )
        // A body of thousands of unknown keys must not get an answer many times its size.
        .with(
            "errors",
            serde_json::to_value(&errors[..errors.len().min(MAX_LISTED_ERRORS)])
                .unwrap_or_default(),
        )
        .with("errorCount", errors.len())
    }
}
