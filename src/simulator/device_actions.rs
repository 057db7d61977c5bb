//! The device actions and the operations they start: `POST …/devices/{id}/{action}` answers
//! 202 with a `Location`, and each poll of the operation moves it on. Operations on devices
//! whose ID starts with `failing` end `failed`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::fleet::is_missing;
use super::graph_errors::{graph_error, no_such_segment};
use super::operation::{FINAL_POLL, Operation};
use super::state::SimulatorState;
use crate::change::SoftwareType;
use crate::graph::odata_key;

pub(super) async fn device_action(
    State(state): State<SimulatorState>,
    Path((device, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let operation_type = match action.as_str() {
        "updateSoftware" => "softwareUpdate",
        "restart" => "deviceRestart",
        "runDiagnostics" => "deviceDiagnostics",
        _ => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment.",
            );
        }
    };
    let mut update = None;
    if action == "updateSoftware" {
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let software_type = parsed
            .as_ref()
            .and_then(|b| b["softwareType"].as_str())
            .and_then(SoftwareType::parse);
        let version = parsed
            .as_ref()
            .and_then(|b| b["softwareVersion"].as_str())
            .filter(|v| !v.trim().is_empty());
        let (Some(kind), Some(version)) = (software_type, version) else {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid softwareType or softwareVersion.",
            );
        };
        update = Some((kind, version.to_owned()));
    }
    if device.starts_with("unsupported") {
        return graph_error(StatusCode::NOT_FOUND, "UnknownError", "");
    }
    if is_missing(&device) {
        return graph_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested device was not found.",
        );
    }
    state.touch(&device);
    let mut inner = state.lock();
    let busy = inner
        .operations
        .values()
        .any(|op| op.device_id == device && !op.is_final());
    if busy {
        return graph_error(
            StatusCode::CONFLICT,
            "Conflict",
            "An operation is already queued for this device.",
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    inner.operations.insert(
        id.clone(),
        Operation {
            device_id: device.clone(),
            operation_type,
            update,
            created: OffsetDateTime::now_utc(),
            polls: 0,
        },
    );
    // Graph's docs show both forms of Location; software updates get the OData key form.
    let location = if action == "updateSoftware" {
        let quoted = device.replace('\'', "''");
        format!("/teamwork/devices('{quoted}')/operations('{id}')")
    } else {
        format!("/teamwork/devices/{device}/operations/{id}")
    };
    (StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response()
}

/// `GET /teamwork/devices('{id}')/operations('{opId}')`, keys quoted or not.
pub(super) async fn get_operation_by_keys(
    state: State<SimulatorState>,
    Path((device_key, operation_key)): Path<(String, String)>,
) -> Response {
    let key = |segment: &str, name: &str| odata_key(segment, name).map(|k| k.replace("''", "'"));
    match (
        key(&device_key, "devices"),
        key(&operation_key, "operations"),
    ) {
        (Some(device), Some(operation)) => get_operation(state, Path((device, operation))).await,
        _ => no_such_segment(&device_key),
    }
}

pub(super) async fn get_operation(
    State(state): State<SimulatorState>,
    Path((device, operation)): Path<(String, String)>,
) -> Response {
    let mut inner = state.lock();
    let Some(op) = inner
        .operations
        .get_mut(&operation)
        .filter(|op| op.device_id == device)
    else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The operation does not exist.",
        );
    };
    op.polls += 1;
    let installed = (op.polls == FINAL_POLL && op.status() == "succeeded")
        .then(|| op.update.clone())
        .flatten();
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let created = op.created.format(&Rfc3339).unwrap_or_default();
    let status = op.status();
    let mut body = json!({
        "id": operation,
        "operationType": op.operation_type,
        "status": status,
        "createdDateTime": created,
        "lastActionDateTime": now,
        "error": null,
    });
    if status != "queued" {
        body["startedDateTime"] = json!(created);
    }
    if op.is_final() {
        body["completedDateTime"] = json!(now);
    }
    if status == "failed" {
        body["error"] = json!({"code": "DeviceOffline", "message": "The device did not respond."});
    }
    drop(inner);
    if let Some((kind, version)) = installed {
        state.updated(&device, kind, version);
    }
    Json(body).into_response()
}

/// Lists a device's operations as they stand, without moving them on.
pub(super) async fn list_operations(
    State(state): State<SimulatorState>,
    Path(device): Path<String>,
) -> Response {
    let inner = state.lock();
    let value: Vec<Value> = inner
        .operations
        .iter()
        .filter(|(_, op)| op.device_id == device)
        .map(|(id, op)| {
            json!({
                "id": id,
                "operationType": op.operation_type,
                "status": op.status(),
                "createdDateTime": op.created.format(&Rfc3339).unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}
