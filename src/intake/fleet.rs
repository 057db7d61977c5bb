//! Fleet changes at the intake: the parent made for the devices the fleet names (resolved at
//! admission: a filter is read from the inventory now, so the caller sees at once which
//! devices the change takes), and recorded. The sweeper sends the children.

use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use super::accepted::Accepted;
use super::admission::{check, resolve};
use super::gate::gate;
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{ChangeId, ChangeRecord, FleetRequest, Requested, Unjudged};

/// A fleet change past the intake's checks: its parent record, and the devices its filter
/// could not judge, which the answer names.
pub(super) struct Admitted {
    pub parent: ChangeRecord,
    unjudged: Vec<Unjudged>,
}

/// Checks a fleet change as any change is checked, resolves its devices and makes its
/// parent record, `id`.
pub(super) async fn admit(
    intake: &Intake,
    caller: &Caller,
    request: Requested<FleetRequest>,
    id: ChangeId,
    deadline: Instant,
) -> Result<Admitted, ApiError> {
    check(intake, caller, &request, deadline).await?;
    gate(
        intake,
        caller,
        request.reference.as_deref(),
        &request.schedule,
        deadline,
    )
    .await?;
    let resolved = resolve(intake, caller, &request.target, deadline).await?;
    let now = intake.clock.now();
    let opening = request.schedule.opening(now);
    let mut parent =
        ChangeRecord::fleet_parent(id, request, caller.name(), now, resolved.ids, opening)
            .ok_or(ApiError::FleetSize { found: 0 })?;
    if caller.gate().is_some() {
        parent = parent.let_in_by_ticket();
    }
    Ok(Admitted {
        parent,
        unjudged: resolved.unjudged,
    })
}

/// Records the parent; its children go as the sweeper sends them.
pub(super) async fn record(intake: &Intake, admitted: Admitted) -> Result<Response, ApiError> {
    let Admitted { parent, unjudged } = admitted;
    intake.store.insert(&parent).await?;
    let devices = parent.fleet().map_or(0, |fleet| fleet.children.len());
    tracing::info!(change_id = %parent.id(), caller = parent.caller(), action = %parent.action().kind(), devices, "fleet change recorded");
    Ok(Accepted::fleet(&parent, unjudged).into_response())
}
