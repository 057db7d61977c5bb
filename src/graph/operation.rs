//! `teamworkDeviceOperation` off the wire, read liberally: Graph sometimes wraps the entity in
//! `{"value": …}`, and a malformed timestamp is dropped rather than failing the read.

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::change::{DeviceOperation, OperationStatus, OperationTimes};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    id: Option<String>,
    status: Option<String>,
    operation_type: Option<String>,
    error: Option<WireError>,
    created_date_time: Option<String>,
    started_date_time: Option<String>,
    completed_date_time: Option<String>,
    last_action_date_time: Option<String>,
}

#[derive(Deserialize)]
struct WireError {
    code: Option<String>,
    message: Option<String>,
}

/// Parses one operation, bare or inside `{"value": {...}}`.
pub(super) fn parse(value: Value) -> Result<DeviceOperation, serde_json::Error> {
    let entity = match value {
        Value::Object(mut map) if map.get("value").is_some_and(Value::is_object) => {
            map.remove("value").unwrap_or_default()
        }
        other => other,
    };
    let wire: Wire = serde_json::from_value(entity)?;
    let raw_status = wire.status.unwrap_or_default();
    Ok(DeviceOperation {
        id: wire.id,
        status: OperationStatus::parse(&raw_status),
        raw_status,
        operation_type: wire.operation_type,
        error_code: wire.error.as_ref().and_then(|e| e.code.clone()),
        error_message: wire.error.and_then(|e| e.message),
        times: OperationTimes {
            created: timestamp(wire.created_date_time),
            started: timestamp(wire.started_date_time),
            completed: timestamp(wire.completed_date_time),
            last_action: timestamp(wire.last_action_date_time),
        },
    })
}

fn timestamp(raw: Option<String>) -> Option<OffsetDateTime> {
    raw.and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_docs_samples_bare_and_wrapped() {
        let bare = json!({"id": "op-1", "status": "Successful", "operationType": "softwareUpdate",
            "createdDateTime": "2021-06-19T12-01-03.45Z", "error": null});
        let op = parse(bare).unwrap();
        assert_eq!(op.status, OperationStatus::Succeeded);
        assert_eq!(op.times.created, None, "a malformed timestamp is tolerated");

        let wrapped = json!({"@odata.context": "…", "value": {"id": "op-2", "status": "failed",
            "operationType": "deviceRestart", "createdDateTime": "2026-11-23T10:00:00Z",
            "error": {"code": "DeviceOffline", "message": "The device is offline."}}});
        let op = parse(wrapped).unwrap();
        assert_eq!(op.id.as_deref(), Some("op-2"));
        assert_eq!(op.status, OperationStatus::Failed);
        assert_eq!(op.error_code.as_deref(), Some("DeviceOffline"));
        assert_eq!(op.error_message.as_deref(), Some("The device is offline."));
        assert!(op.times.created.is_some());
        assert_eq!(op.times.started, None);

        let full = json!({"id": "op-3", "status": "Successful", "operationType": "softwareUpdate",
            "createdDateTime": "2026-11-23T10:00:00Z", "startedDateTime": "2026-11-23T10:00:05.5Z",
            "completedDateTime": "2026-11-23T10:09:00+01:00", "lastActionDateTime": "2026-11-23T09:09:01Z"});
        let times = parse(full).unwrap().times;
        let at = |raw| Some(OffsetDateTime::parse(raw, &Rfc3339).unwrap());
        assert_eq!(times.created, at("2026-11-23T10:00:00Z"));
        assert_eq!(times.started, at("2026-11-23T10:00:05.5Z"));
        assert_eq!(times.completed, at("2026-11-23T09:09:00Z"));
        assert_eq!(times.last_action, at("2026-11-23T09:09:01Z"));

        assert!(parse(json!("nope")).is_err());
    }
}
