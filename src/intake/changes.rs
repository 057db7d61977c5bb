//! `POST /v1/changes` and `GET /v1/changes/{changeId}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use super::extract::{Authenticated, Deadline, JsonObject};
use super::{ApiError, AppState, status_url};
use crate::change::{
    Action, CallbackUrl, ChangeId, ChangeRecord, ChangeRequest, GraphFailure, Status,
};
use crate::submission::{SubmitFailure, submit};

pub async fn create(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    Deadline(deadline): Deadline,
    JsonObject(body): JsonObject,
) -> Result<Response, ApiError> {
    let request = ChangeRequest::parse(&body).map_err(ApiError::Validation)?;
    let kind = request.action.kind();
    if !caller.may(kind) {
        return Err(ApiError::Forbidden {
            caller: caller.name().to_owned(),
            action: kind.to_string(),
        });
    }
    let now = OffsetDateTime::now_utc();
    let record =
        ChangeRecord::submitting(request, caller.name(), now, now + app.timing.submit_lease());
    tracing::info!(
        change_id = %record.id, caller = caller.name(), action = %kind,
        reference = record.reference.as_deref().unwrap_or("-"),
        "submitting change"
    );
    match submit(
        &app.graph,
        app.store.as_ref(),
        &app.timing,
        record,
        deadline,
    )
    .await
    {
        Ok(record) => Ok(submitted(&record)),
        Err(SubmitFailure::Store(e)) => Err(ApiError::Store(e)),
        Err(SubmitFailure::Graph { record, error }) => Err(ApiError::Graph {
            change_id: record.id.clone(),
            action: Box::new(record.action),
            source: error,
        }),
    }
}

fn submitted(record: &ChangeRecord) -> Response {
    let mut body = json!({
        "changeId": record.id,
        "status": record.status,
        "statusUrl": status_url(&record.id),
    });
    match &record.location {
        Some(location) => {
            body["location"] = json!(location);
            (
                StatusCode::ACCEPTED,
                [(LOCATION, location.as_str().to_owned())],
                Json(body),
            )
                .into_response()
        }
        None => (StatusCode::OK, Json(body)).into_response(),
    }
}

pub async fn show(
    State(app): State<AppState>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ChangeView>, ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::ChangeNotFound);
    };
    let id = ChangeId::parse(id).map_err(|_| ApiError::ChangeNotFound)?;
    // Another caller's change is answered exactly like a missing one.
    let record = app
        .store
        .get(&id)
        .await?
        .filter(|r| r.caller == caller.name())
        .ok_or(ApiError::ChangeNotFound)?;
    Ok(Json(ChangeView::from(record)))
}

/// A change as its caller sees it: no lease, version or scheduling internals.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    change_id: ChangeId,
    status: Status,
    #[serde(flatten)]
    action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<CallbackUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<url::Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<GraphFailure>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl From<ChangeRecord> for ChangeView {
    fn from(r: ChangeRecord) -> Self {
        ChangeView {
            change_id: r.id,
            status: r.status,
            action: r.action,
            reference: r.reference,
            requested_by: r.requested_by,
            callback_url: r.callback_url,
            location: r.location,
            graph_request_id: r.graph_request_id,
            failure: r.failure,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
