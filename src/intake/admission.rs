//! What a change must pass before it is recorded, or rehearsed, whichever route brought it:
//! the checks every change meets, and a fleet's devices resolved.

use tokio::time::Instant;

use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{
    Action, ActionKind, ChangeRecord, DeviceId, FieldError, FleetDevices, FleetRequest,
    GraphFailure, MAX_DEVICES, Opening, Requested, SoftwareHealth, Unjudged,
};
use crate::graph::Capability;

/// What a change can be for, one action or a fleet's, as the checks see it: the action's
/// kind, and what Graph must offer for it.
pub(super) trait Target {
    fn kind(&self) -> ActionKind;
    fn needs(&self) -> Capability;
}

impl Target for Action {
    fn kind(&self) -> ActionKind {
        Action::kind(self)
    }

    fn needs(&self) -> Capability {
        Capability::of(self)
    }
}

impl Target for FleetRequest {
    fn kind(&self) -> ActionKind {
        self.action.kind()
    }

    /// Each child is the same device action, on one device.
    fn needs(&self) -> Capability {
        Capability::DeviceAction(self.action.kind())
    }
}

/// The checks every change meets before it is recorded, whichever route brought it (see
/// [`check`]). Answers the record to store, `submitting`.
pub(super) fn admit(
    intake: &Intake,
    caller: &Caller,
    request: Requested<Action>,
) -> Result<ChangeRecord, ApiError> {
    check(intake, caller, &request)?;
    let now = intake.clock.now();
    Ok(match request.schedule.opening(now) {
        Opening::At(opens_at) => ChangeRecord::scheduled(request, caller.name(), now, opens_at),
        Opening::Now | Opening::Never => ChangeRecord::submitting(
            request,
            caller.name(),
            now,
            now + intake.settings.submit_lease(),
        ),
    })
}

/// What every change, and every dry run of one, must pass: the caller may ask for it, Graph
/// offers it in this cloud, its window opens before its `notAfter`, and its callback may go
/// where it says.
pub(super) fn check<T: Target>(
    intake: &Intake,
    caller: &Caller,
    request: &Requested<T>,
) -> Result<(), ApiError> {
    let now = intake.clock.now();
    let schedule = &request.schedule;
    if schedule.opening(now) == Opening::Never {
        let (field, detail) = match schedule.not_after {
            Some(last) if last <= now => ("notAfter", "has already passed"),
            _ => ("window", "does not open before notAfter"),
        };
        return Err(ApiError::Validation(vec![FieldError {
            field: field.into(),
            detail: detail.into(),
        }]));
    }
    let kind = request.target.kind();
    if !caller.may(kind) {
        return Err(ApiError::Forbidden {
            caller: caller.name().to_owned(),
            action: kind,
        });
    }
    if let Some(cloud) = intake.graph.refuses(request.target.needs()) {
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
