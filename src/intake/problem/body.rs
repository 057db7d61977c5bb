//! A problem as RFC 9457 has it: status, type, title and detail, and the named fields that
//! extend it. What graphgate puts in one is fixed text, or Graph's own words as named fields.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};

use crate::change::GraphFailure;

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
}
