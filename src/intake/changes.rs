//! `POST /v1/changes` and `GET /v1/changes/{changeId}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use super::accepted::Accepted;
use super::admission::{admit, check};
use super::extract::{Authenticated, Deadline, SignedJson};
use super::fleet;
use super::gate::gated_turn;
use super::idempotency::{self, Place};
use super::rehearsal;
use super::submit::submit;
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{ChangeId, ChangeRecord, ChangeRequest, ChangeView, Status, Stop};
use crate::store::StoreError;
use crate::submission::count_end;

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
    let request = match request {
        ChangeRequest::One(request) if request.dry_run => {
            check(&intake, &caller, &request, deadline).await?;
            let rehearsal = rehearsal::rehearse(&intake, &caller, &request, deadline).await?;
            return Ok(Json(rehearsal.to_json()).into_response());
        }
        ChangeRequest::Fleet(request) if request.dry_run => {
            check(&intake, &caller, &request, deadline).await?;
            let rehearsal = rehearsal::rehearse_fleet(&intake, &caller, &request, deadline).await?;
            return Ok(Json(rehearsal.to_json()).into_response());
        }
        ChangeRequest::Fleet(request) => {
            // The parent's ID comes first, so that repeats of this delivery in this process
            // wait behind it before any of them reads the store or resolves the devices.
            let change_id = ChangeId::new();
            let place = idempotency::turn_to_read(
                &intake,
                &caller,
                key,
                &bytes,
                change_id.clone(),
                deadline,
            )
            .await?;
            if let Place::Answered(answer) = place {
                return Ok(answer);
            }
            let admitted = fleet::admit(&intake, &caller, request, change_id, deadline).await?;
            return idempotency::once_at(&intake, place, deadline, async {
                fleet::record(&intake, admitted)
                    .await
                    .unwrap_or_else(IntoResponse::into_response)
            })
            .await;
        }
        ChangeRequest::One(request) => request,
    };
    let record = admit(&intake, &caller, request, deadline).await?;
    let place = match gated_turn(&intake, &caller, key, &bytes, &record, deadline).await? {
        Place::Answered(answer) => return Ok(answer),
        place => place,
    };
    idempotency::once_at(&intake, place, deadline, async {
        carry_out(&intake, record, deadline)
            .await
            .unwrap_or_else(IntoResponse::into_response)
    })
    .await
}

/// Records the change, sends it to Graph, and says what came of it; or, for a change whose
/// window has not opened, records it for the sweeper to send then.
async fn carry_out(
    intake: &Intake,
    record: ChangeRecord,
    deadline: tokio::time::Instant,
) -> Result<Response, ApiError> {
    if record.status() == Status::Scheduled {
        intake.store.insert(&record).await?;
        tracing::info!(change_id = %record.id(), caller = record.caller(), action = %record.action().kind(), "scheduled change");
        return Ok(Accepted::of(&record).into_response());
    }
    let submitted = submit(intake, record, deadline).await?;
    Ok(Accepted::of(&submitted).into_response())
}

pub async fn show(
    State(intake): State<Intake>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ChangeView>, ApiError> {
    let record = own_change(&intake, &caller, &change_id(id)?).await?;
    Ok(Json(ChangeView::from(record)))
}

/// `POST /v1/changes/{changeId}/cancel`: a change that has not reached Graph is cancelled;
/// cancelling it again answers the same. One that has reached Graph is a 409.
pub async fn cancel(
    State(intake): State<Intake>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ChangeView>, ApiError> {
    let id = change_id(id)?;
    // A sweeper may claim or open the change between our read and our write: read again.
    for _ in 0..CANCEL_ATTEMPTS {
        let record = own_change(&intake, &caller, &id).await?;
        let already = record.status() == Status::Cancelled
            || record
                .fleet()
                .is_some_and(|f| f.stopped == Some(Stop::Cancelled));
        if already {
            return Ok(Json(ChangeView::from(record)));
        }
        let Ok(cancelled) = record.cancelled(intake.clock.now()) else {
            return Err(ApiError::NotCancellable {
                change_id: record.id().clone(),
                status: record.status(),
            });
        };
        match intake.store.update(&cancelled).await {
            Ok(stored) => {
                tracing::info!(change_id = %stored.id(), caller = caller.name(), "change cancelled");
                count_end(&stored);
                return Ok(Json(ChangeView::from(stored)));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Store(StoreError::Conflict { id, expected: 0 }))
}

/// The change ID in the path; one that cannot be an ID names no change.
fn change_id(id: Result<Path<String>, PathRejection>) -> Result<ChangeId, ApiError> {
    let Ok(Path(id)) = id else {
        return Err(ApiError::ChangeNotFound);
    };
    ChangeId::parse(id).map_err(|_| ApiError::ChangeNotFound)
}

/// How often a cancel reads the change again after another writer won.
const CANCEL_ATTEMPTS: usize = 5;

/// The change `id` names, if `caller` made it: another caller's change is answered exactly
/// like a missing one.
async fn own_change(
    intake: &Intake,
    caller: &Caller,
    id: &ChangeId,
) -> Result<ChangeRecord, ApiError> {
    intake
        .store
        .get(id)
        .await?
        .filter(|r| r.caller() == caller.name())
        .ok_or(ApiError::ChangeNotFound)
}
