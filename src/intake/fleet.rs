//! Fleet changes at the intake: the devices a fleet names, resolved (a filter is read from
//! the inventory now, so the caller sees at once which devices the change takes), and the
//! parent recorded. The sweeper sends the children.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::time::Instant;

use super::changes::check;
use super::{ApiError, Intake, status_url};
use crate::callers::Caller;
use crate::change::{
    ChangeRecord, DeviceId, FleetDevices, FleetRequest, GraphFailure, MAX_DEVICES, Requested,
    Rollout, SoftwareHealth, Unjudged,
};

/// The devices a fleet takes, in order; those its filter could not judge; and, when the
/// filter was read from the inventory, each device's software health as read then.
pub(super) struct Resolved {
    pub ids: Vec<DeviceId>,
    pub unjudged: Vec<Unjudged>,
    pub health: Option<Vec<Result<SoftwareHealth, GraphFailure>>>,
}

pub(super) async fn resolve(
    intake: &Intake,
    fleet: &FleetRequest,
    deadline: Instant,
) -> Result<Resolved, ApiError> {
    let filter = match &fleet.devices {
        FleetDevices::Ids(ids) => {
            return Ok(Resolved {
                ids: ids.clone(),
                unjudged: Vec::new(),
                health: None,
            });
        }
        FleetDevices::Filter(filter) => filter,
    };
    let inventory = intake
        .graph
        .inventory(filter, deadline)
        .await
        .map_err(|source| ApiError::GraphRead {
            what: "the device inventory",
            source,
        })?;
    let found = inventory.devices.len();
    if found == 0 || found > MAX_DEVICES {
        return Err(ApiError::FleetSize { found });
    }
    // A device Graph lists twice (pages that moved while being read) is one child.
    let mut seen = std::collections::HashSet::new();
    let (ids, health) = inventory
        .devices
        .into_iter()
        .filter(|d| seen.insert(d.id.clone()))
        .map(|d| {
            let health = match (d.software, d.software_error) {
                (Some(software), _) => Ok(software),
                (None, Some(failure)) => Err(failure),
                (None, None) => Ok(SoftwareHealth::default()),
            };
            (d.id, health)
        })
        .unzip();
    Ok(Resolved {
        ids,
        unjudged: inventory.unjudged,
        health: Some(health),
    })
}

/// A fleet change past the intake's checks: its parent record, and what the answer tells of
/// it.
pub(super) struct Admitted {
    pub parent: ChangeRecord,
    devices: Vec<DeviceId>,
    rollout: Rollout,
    unjudged: Vec<Unjudged>,
}

/// Checks a fleet change as any change is checked, resolves its devices and makes its
/// parent record.
pub(super) async fn admit(
    intake: &Intake,
    caller: &Caller,
    request: Requested<FleetRequest>,
    deadline: Instant,
) -> Result<Admitted, ApiError> {
    check(intake, caller, &request)?;
    let resolved = resolve(intake, &request.target, deadline).await?;
    let now = intake.clock.now();
    let opening = request.schedule.opening(now);
    let rollout = request.target.rollout;
    let devices = resolved.ids.clone();
    let parent = ChangeRecord::fleet_parent(request, caller.name(), now, resolved.ids, opening)
        .ok_or(ApiError::FleetSize { found: 0 })?;
    Ok(Admitted {
        parent,
        devices,
        rollout,
        unjudged: resolved.unjudged,
    })
}

/// Records the parent; its children go as the sweeper sends them.
pub(super) async fn record(intake: &Intake, admitted: Admitted) -> Result<Response, ApiError> {
    let Admitted {
        parent,
        devices,
        rollout,
        unjudged,
    } = admitted;
    intake.store.insert(&parent).await?;
    tracing::info!(change_id = %parent.id(), caller = parent.caller(), action = %parent.action().kind(), devices = devices.len(), "fleet change recorded");
    let mut body = json!({
        "changeId": parent.id(),
        "status": parent.status(),
        "statusUrl": status_url(parent.id()),
        "devices": devices,
        "rollout": rollout,
    });
    if let Some(opens_at) = super::changes::opens_at(&parent) {
        body["opensAt"] = json!(opens_at);
    }
    if !unjudged.is_empty() {
        body["unjudged"] = json!(unjudged);
    }
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}
