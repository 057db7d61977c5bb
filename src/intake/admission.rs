//! What a change must pass before it is recorded, or rehearsed, whichever route brought it:
//! the checks every change meets (a caller limited to its devices changes no other), and a
//! fleet's devices resolved.

use std::collections::HashMap;

use tokio::time::Instant;

use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{
    Action, ActionKind, ChangeRecord, DeviceId, DeviceScope, FieldError, FleetDevices,
    FleetRequest, GraphFailure, MAX_DEVICES, Opening, Requested, SoftwareHealth, Unjudged,
};
use crate::graph::{Capability, GraphError};

/// What a change can be for, one action or a fleet's, as the checks see it: the action's
/// kind, what Graph must offer for it, and the devices it names.
pub(super) trait Target {
    fn kind(&self) -> ActionKind;
    fn needs(&self) -> Capability;
    /// The devices named in the request: none for an app upgrade (not a device), nor for a
    /// fleet filter, whose devices are narrowed to the caller's when it is resolved.
    fn devices(&self) -> &[DeviceId];
}

impl Target for Action {
    fn kind(&self) -> ActionKind {
        Action::kind(self)
    }

    fn needs(&self) -> Capability {
        Capability::of(self)
    }

    fn devices(&self) -> &[DeviceId] {
        self.device_id()
            .map(std::slice::from_ref)
            .unwrap_or_default()
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

    fn devices(&self) -> &[DeviceId] {
        match &self.devices {
            FleetDevices::Ids(ids) => ids,
            FleetDevices::Filter(_) => &[],
        }
    }
}

/// The checks every change meets before it is recorded, whichever route brought it (see
/// [`check`]). Answers the record to store, `submitting`.
pub(super) async fn admit(
    intake: &Intake,
    caller: &Caller,
    request: Requested<Action>,
    deadline: Instant,
) -> Result<ChangeRecord, ApiError> {
    check(intake, caller, &request, deadline).await?;
    let now = intake.clock.now();
    let record = match request.schedule.opening(now) {
        Opening::At(opens_at) => ChangeRecord::scheduled(request, caller.name(), now, opens_at),
        Opening::Now | Opening::Never => ChangeRecord::submitting(
            request,
            caller.name(),
            now,
            now + intake.settings.submit_lease(),
        ),
    };
    // Recorded only once the gate let it in (`gate::gated_turn`).
    Ok(if caller.gate().is_some() {
        record.let_in_by_ticket()
    } else {
        record
    })
}

/// What every change, and every dry run of one, must pass: the caller may ask for it, Graph
/// offers it in this cloud, its window opens before its `notAfter`, its callback may go
/// where it says, and the devices it names are the caller's.
pub(super) async fn check<T: Target>(
    intake: &Intake,
    caller: &Caller,
    request: &Requested<T>,
    deadline: Instant,
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
    match caller.devices() {
        Some(scope) => within(intake, caller, scope, request.target.devices(), deadline).await,
        None => Ok(()),
    }
}

/// Refuses `devices` unless each is one of the caller's. By ID alone when that suffices;
/// when the caller is limited to device types, the devices are read from Graph (one, or
/// the list for many). A device Graph does not know is refused as one of another type is,
/// so the answer does not tell which devices exist outside the caller's.
async fn within(
    intake: &Intake,
    caller: &Caller,
    scope: &DeviceScope,
    devices: &[DeviceId],
    deadline: Instant,
) -> Result<(), ApiError> {
    let refuse = |outside: Vec<&DeviceId>| match outside.split_first() {
        None => Ok(()),
        Some((device, others)) => Err(ApiError::DeviceForbidden {
            caller: caller.name().to_owned(),
            device: (*device).clone(),
            others: others.iter().map(|d| (*d).clone()).collect(),
        }),
    };
    refuse(devices.iter().filter(|d| !scope.takes_id(d)).collect())?;
    if !scope.limits_types() || devices.is_empty() {
        return Ok(());
    }
    let read = |source: GraphError| ApiError::GraphRead {
        what: "the device's type",
        source,
    };
    let types: HashMap<DeviceId, String> = match devices {
        [one] => match intake.graph.device(one, deadline).await {
            Ok(device) => HashMap::from([(one.clone(), device.device_type)]),
            Err(GraphError::Refused(failure)) if failure.http_status == Some(404) => HashMap::new(),
            Err(source) => return Err(read(source)),
        },
        _ => intake
            .graph
            .list_devices(deadline)
            .await
            .map_err(read)?
            .into_iter()
            .map(|d| (d.id, d.device_type))
            .collect(),
    };
    refuse(
        devices
            .iter()
            .filter(|d| !types.get(*d).is_some_and(|t| scope.matches(d, t)))
            .collect(),
    )
}

/// The devices a fleet takes, in order; those its filter could not judge; and, when the
/// filter was read from the inventory, each device's software health as read then.
pub(super) struct Resolved {
    pub ids: Vec<DeviceId>,
    pub unjudged: Vec<Unjudged>,
    pub health: Option<Vec<Result<SoftwareHealth, GraphFailure>>>,
}

/// The devices a fleet takes: those it lists (already checked against the caller's devices
/// by [`check`]), or those its filter takes among the caller's own.
pub(super) async fn resolve(
    intake: &Intake,
    caller: &Caller,
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
        .inventory_within(filter, caller.devices(), deadline)
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
