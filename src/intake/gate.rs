//! The gate at the intake: a change of a caller whose ticket connection gates changes goes
//! ahead only if its ticket, the change's `reference`, lets it run when it would run (now,
//! or when its window opens). It fails closed: a ticket that cannot be read stops the
//! change. The sweeper asks again when a scheduled change opens and while a fleet is sent.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::idempotency::{self, Place};
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{ChangeRecord, IdempotencyKey, Opening, Requested, Schedule};
use crate::tickets::GateError;

/// Whether the caller's ticket lets a change with `reference` and `schedule` go ahead.
pub(super) async fn gate(
    intake: &Intake,
    caller: &Caller,
    reference: Option<&str>,
    schedule: &Schedule,
    deadline: Instant,
) -> Result<(), ApiError> {
    let Some(connection) = caller.gate() else {
        return Ok(());
    };
    let now = intake.clock.now();
    let at = match schedule.opening(now) {
        Opening::At(at) => at,
        Opening::Now | Opening::Never => now,
    };
    intake
        .tickets
        .gate(connection, reference, at, deadline)
        .await
        .map_err(ApiError::Gate)
}

/// A change's turn at its delivery key (see `idempotency`), once its ticket lets it go
/// ahead. A gated caller's ticket is read before the key is taken, behind this process's
/// other requests for the same delivery: a refusal keeps nothing, so the sender's repeat goes
/// ahead once the ticket is approved, and a delivery cut off while the ticket is read leaves
/// no answer claiming the change was recorded. A repeat of a delivery already answered gets
/// that answer without a read.
pub(super) async fn gated_turn(
    intake: &Intake,
    caller: &Caller,
    key: Option<IdempotencyKey>,
    body: &[u8],
    record: &ChangeRecord,
    deadline: Instant,
) -> Result<Place, ApiError> {
    let change_id = record.id().clone();
    if caller.gate().is_none() {
        return idempotency::wait_turn(intake, caller, key, body, change_id, deadline).await;
    }
    let place = idempotency::turn_to_read(intake, caller, key, body, change_id, deadline).await?;
    if !matches!(place, Place::Answered(_)) {
        gate(
            intake,
            caller,
            record.reference(),
            record.schedule(),
            deadline,
        )
        .await?;
    }
    Ok(place)
}

/// The gate's verdict for a dry run, when the caller is gated: `goesAhead`, and the
/// problem a real change would get. A ticket that cannot be read fails the dry run as it
/// would fail the change.
pub(super) async fn verdict<T>(
    intake: &Intake,
    caller: &Caller,
    request: &Requested<T>,
    deadline: Instant,
) -> Result<Option<Value>, ApiError> {
    let Some(connection) = caller.gate() else {
        return Ok(None);
    };
    let system = connection.system.name();
    let reference = request.reference.as_deref();
    match gate(intake, caller, reference, &request.schedule, deadline).await {
        Ok(()) => Ok(Some(json!({
            "system": system,
            "reference": reference,
            "goesAhead": true,
        }))),
        Err(refused @ ApiError::Gate(GateError::Refused { .. })) => Ok(Some(json!({
            "system": system,
            "reference": reference,
            "goesAhead": false,
            "problem": refused.to_json(),
        }))),
        Err(e) => Err(e),
    }
}
