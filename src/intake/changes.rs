//! `POST /v1/changes` and `GET /v1/changes/{changeId}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::extract::{Authenticated, Deadline, SignedJson};
use super::idempotency;
use super::rehearsal;
use super::submit::submit;
use super::{ApiError, Intake, status_url};
use crate::callers::Caller;
use crate::change::{ChangeId, ChangeRecord, ChangeRequest, ChangeView, FieldError};

pub async fn create(
    State(intake): State<Intake>,
    Deadline(deadline): Deadline,
    SignedJson {
        caller,
        body,
        bytes,
        headers,
    }: SignedJson,
) -> Result<Response, ApiError> {
    let request = ChangeRequest::parse(&body).map_err(ApiError::Validation)?;
    let key = idempotency::key_of(&headers, &caller, &bytes)?;
    if request.dry_run {
        check(&intake, &caller, &request)?;
        let rehearsal = rehearsal::rehearse(&intake, &request, deadline).await?;
        return Ok(Json(rehearsal.to_json()).into_response());
    }
    let record = admit(&intake, &caller, request)?;
    let change_id = record.id().clone();
    idempotency::once(&intake, &caller, key, &bytes, change_id, deadline, async {
        carry_out(&intake, record, deadline)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    })
    .await
}

/// The checks every change meets before it is recorded, whichever route brought it (see
/// [`check`]). Answers the record to store, `submitting`.
pub(super) fn admit(
    intake: &Intake,
    caller: &Caller,
    request: ChangeRequest,
) -> Result<ChangeRecord, ApiError> {
    check(intake, caller, &request)?;
    let now = intake.clock.now();
    let record = ChangeRecord::submitting(
        request,
        caller.name(),
        now,
        now + intake.settings.submit_lease(),
    );
    Ok(record)
}

/// What every change, and every dry run of one, must pass: the caller may ask for it, Graph
/// offers it in this cloud, and its callback may go where it says.
pub(super) fn check(
    intake: &Intake,
    caller: &Caller,
    request: &ChangeRequest,
) -> Result<(), ApiError> {
    let kind = request.action.kind();
    if !caller.may(kind) {
        return Err(ApiError::Forbidden {
            caller: caller.name().to_owned(),
            action: kind,
        });
    }
    if let Some(cloud) = intake.graph.refuses(&request.action) {
        return Err(ApiError::NotInCloud {
            action: kind,
            cloud: cloud.name(),
        });
    }
    if let Some(callback) = &request.callback_url {
        let refusal = match (
            intake.callbacks.check_target(callback.url()),
            caller.signing_secret(),
        ) {
            (Err(e), _) => Some(e.to_string()),
            (Ok(()), None) => Some(
                "callbacks are signed, and no signingSecret is registered for this caller"
                    .to_owned(),
            ),
            (Ok(()), Some(_)) => None,
        };
        if let Some(detail) = refusal {
            return Err(ApiError::Validation(vec![FieldError {
                field: "callbackUrl".into(),
                detail,
            }]));
        }
    }
    Ok(())
}

/// Records the change, sends it to Graph, and says what came of it.
async fn carry_out(
    intake: &Intake,
    record: ChangeRecord,
    deadline: tokio::time::Instant,
) -> Result<Response, ApiError> {
    Ok(submitted(&submit(intake, record, deadline).await?))
}

fn submitted(record: &ChangeRecord) -> Response {
    let mut body = json!({
        "changeId": record.id(),
        "status": record.status(),
        "statusUrl": status_url(record.id()),
    });
    match record.location() {
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
    State(intake): State<Intake>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ChangeView>, ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::ChangeNotFound);
    };
    let id = ChangeId::parse(id).map_err(|_| ApiError::ChangeNotFound)?;
    // Another caller's change is answered exactly like a missing one.
    let record = intake
        .store
        .get(&id)
        .await?
        .filter(|r| r.caller() == caller.name())
        .ok_or(ApiError::ChangeNotFound)?;
    Ok(Json(ChangeView::from(record)))
}
