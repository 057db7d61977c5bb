//! The gate at the intake: a change of a caller whose ticket connection gates changes goes
//! ahead only if its ticket, the change's `reference`, lets it run when it would run (now,
//! or when its window opens). It fails closed: a ticket that cannot be read stops the
//! change. The sweeper asks again when a scheduled change opens and while a fleet is sent.

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{Opening, Schedule};
use crate::tickets::{Connection, GateError};

/// Whether the caller's ticket lets a change with `reference` and `schedule` go ahead.
pub(super) async fn gate(
    intake: &Intake,
    caller: &Caller,
    reference: Option<&str>,
    schedule: &Schedule,
    deadline: Instant,
) -> Result<(), ApiError> {
    let Some(connection) = gated(caller) else {
        return Ok(());
    };
    let now = intake.clock.now();
    let at = match schedule.opening(now) {
        Opening::At(at) => at,
        Opening::Now | Opening::Never => now,
    };
    let timeout = deadline.saturating_duration_since(Instant::now());
    intake
        .tickets
        .gate(connection, reference, at, timeout)
        .await
        .map_err(ApiError::Gate)
}

/// The gate's verdict for a dry run, when the caller is gated: `goesAhead`, and the
/// problem a real change would get. A ticket that cannot be read fails the dry run as it
/// would fail the change.
pub(super) async fn verdict(
    intake: &Intake,
    caller: &Caller,
    reference: Option<&str>,
    schedule: &Schedule,
    deadline: Instant,
) -> Result<Option<Value>, ApiError> {
    let Some(connection) = gated(caller) else {
        return Ok(None);
    };
    let system = connection.system.name();
    match gate(intake, caller, reference, schedule, deadline).await {
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

/// The caller's connection, if it gates changes.
fn gated(caller: &Caller) -> Option<&Connection> {
    caller.ticket().filter(|connection| connection.gate)
}
