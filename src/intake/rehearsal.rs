//! Dry runs: a change meets every check a real one does, its target is looked up in Graph
//! (it must exist; its current version is shown), and the exact Graph request that would
//! carry it out is answered. Nothing is recorded and no action is called.

use serde::Serialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::admission::resolve;
use super::gate;
use super::{ApiError, Intake};
use crate::callers::Caller;
use crate::change::{Action, ActionKind, DeviceAction, FleetRequest, Opening, Requested, Schedule};
use crate::graph::{GraphError, GraphRequest};

/// What a dry run found.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rehearsal {
    action: ActionKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    /// The device or app installation, as Graph showed it.
    target: Value,
    /// For `updateSoftware`: the version of that software the device reports now.
    #[serde(skip_serializing_if = "Option::is_none")]
    current_version: Option<String>,
    /// The requests that would carry out the change, as graphgate would send them.
    requests: Vec<GraphRequest>,
    /// When the change's window would open, if not at once: the requests would wait until then.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    opens_at: Option<time::OffsetDateTime>,
    /// For a caller gated on its tickets: whether the ticket lets the change go ahead.
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<Value>,
}

impl Rehearsal {
    pub fn to_json(&self) -> Value {
        let mut body = json!({"dryRun": true});
        if let (Value::Object(out), Ok(Value::Object(found))) =
            (&mut body, serde_json::to_value(self))
        {
            out.extend(found);
        }
        body
    }

    /// The dry run in words, for a chat.
    pub fn summary(&self) -> String {
        let requests: Vec<String> = self
            .requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.url))
            .collect();
        let mut line = format!(
            "dry run: {} would send {}",
            self.action,
            requests.join(", ")
        );
        if let Some(version) = &self.current_version {
            line += &format!("; the device reports {version} now");
        }
        if let Some(ticket) = &self.ticket {
            let reference = ticket["reference"].as_str().unwrap_or_default();
            line += &match ticket["problem"]["detail"].as_str() {
                None => format!("; ticket {reference} lets it go ahead"),
                Some(why) => format!("; the gate would stop it: {why}"),
            };
        }
        line + "; nothing was done"
    }
}

/// Looks up the target of `request` and says what would be sent for it.
pub(super) async fn rehearse(
    intake: &Intake,
    caller: &Caller,
    request: &Requested<Action>,
    deadline: Instant,
) -> Result<Rehearsal, ApiError> {
    let ticket = gate::verdict(intake, caller, request, deadline).await?;
    let graph = &intake.graph;
    let action = &request.target;
    let (target, current_version) = match action {
        Action::UpgradeApp {
            scope,
            installation_id,
            ..
        } => {
            let definition = graph
                .installed_definition(scope, installation_id, deadline)
                .await
                .map_err(|e| not_found_or(e, format!("app installation {installation_id}")))?;
            (
                json!({"installationId": installation_id, "teamsAppDefinition": definition}),
                None,
            )
        }
        Action::UpdateSoftware { device_id, .. }
        | Action::RestartDevice { device_id }
        | Action::RunDiagnostics { device_id } => {
            let device = graph
                .device(device_id, deadline)
                .await
                .map_err(|e| not_found_or(e, format!("device {device_id}")))?;
            let current = match action {
                Action::UpdateSoftware { software_type, .. } => device
                    .software
                    .as_ref()
                    .and_then(|s| s.get(*software_type))
                    .and_then(|s| s.current_version.clone()),
                _ => None,
            };
            (serde_json::to_value(&device).unwrap_or_default(), current)
        }
    };
    Ok(Rehearsal {
        action: action.kind(),
        reference: request.reference.clone(),
        target,
        current_version,
        requests: vec![graph.action_request(action)],
        opens_at: opens_at(intake, &request.schedule),
        ticket,
    })
}

/// A fleet's dry run: the devices it would take, each with its health as Graph reports it
/// (a device Graph does not know shows Graph's 404), and the request for each.
pub(super) async fn rehearse_fleet(
    intake: &Intake,
    caller: &Caller,
    request: &Requested<FleetRequest>,
    deadline: Instant,
) -> Result<Rehearsal, ApiError> {
    let ticket = gate::verdict(intake, caller, request, deadline).await?;
    let fleet = &request.target;
    let resolved = resolve(intake, caller, fleet, deadline).await?;
    let devices = resolved.ids;
    let unjudged = resolved.unjudged;
    // A filter's devices were read with their health; listed devices are read now.
    let health = match resolved.health {
        Some(health) => health,
        None => intake
            .graph
            .software_health(&devices, deadline)
            .await
            .map_err(|source| ApiError::GraphRead {
                what: "the devices' health",
                source,
            })?,
    };
    let software_type = match &fleet.action {
        DeviceAction::UpdateSoftware { software_type, .. } => Some(*software_type),
        DeviceAction::RestartDevice | DeviceAction::RunDiagnostics => None,
    };
    let listed: Vec<Value> = devices
        .iter()
        .zip(health)
        .map(|(device, health)| match health {
            Ok(software) => {
                let mut entry = json!({"deviceId": device});
                if let Some(current) = software_type
                    .and_then(|kind| software.get(kind))
                    .and_then(|s| s.current_version.clone())
                {
                    entry["currentVersion"] = json!(current);
                }
                entry
            }
            Err(failure) => json!({"deviceId": device, "softwareError": failure}),
        })
        .collect();
    let requests = devices
        .iter()
        .map(|device| {
            intake
                .graph
                .action_request(&fleet.action.on(device.clone()))
        })
        .collect();
    let mut target = json!({"count": devices.len(), "devices": listed, "rollout": fleet.rollout});
    if !unjudged.is_empty() {
        target["unjudged"] = json!(unjudged);
    }
    Ok(Rehearsal {
        action: fleet.action.kind(),
        reference: request.reference.clone(),
        target,
        current_version: None,
        requests,
        opens_at: opens_at(intake, &request.schedule),
        ticket,
    })
}

fn opens_at(intake: &Intake, schedule: &Schedule) -> Option<time::OffsetDateTime> {
    match schedule.opening(intake.clock.now()) {
        Opening::At(at) => Some(at),
        Opening::Now | Opening::Never => None,
    }
}
/// Graph's 404 for the target says it does not exist; anything else is a failed read.
fn not_found_or(error: GraphError, target: String) -> ApiError {
    match error {
        GraphError::Refused(failure) if failure.http_status == Some(404) => {
            ApiError::TargetNotFound { target, failure }
        }
        source => ApiError::GraphRead {
            what: "the change's target",
            source,
        },
    }
}
