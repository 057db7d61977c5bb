//! `teamworkDeviceOperation`, read liberally: Graph's own documentation disagrees with itself
//! on the spelling of statuses and sometimes wraps the entity in `{"value": …}`.

use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Where a Graph operation stands, with every spelling seen in the docs folded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// A status graphgate does not know; treated as still running.
    Unknown,
}

impl OperationStatus {
    pub fn parse(raw: &str) -> Self {
        match raw.trim().to_ascii_lowercase().as_str() {
            "queued" | "scheduled" | "notstarted" | "pending" => OperationStatus::Queued,
            "inprogress" | "running" | "started" => OperationStatus::Running,
            "succeeded" | "successful" | "success" | "completed" => OperationStatus::Succeeded,
            "failed" | "failure" => OperationStatus::Failed,
            "cancelled" | "canceled" => OperationStatus::Cancelled,
            _ => OperationStatus::Unknown,
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OperationStatus::Succeeded | OperationStatus::Failed | OperationStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceOperation {
    pub id: Option<String>,
    pub status: OperationStatus,
    /// The status exactly as Graph wrote it.
    pub raw_status: String,
    pub operation_type: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub created: Option<OffsetDateTime>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    id: Option<String>,
    status: Option<String>,
    operation_type: Option<String>,
    error: Option<WireError>,
    created_date_time: Option<String>,
}

#[derive(Deserialize)]
struct WireError {
    code: Option<String>,
    message: Option<String>,
}

impl DeviceOperation {
    /// Parses one operation, bare or inside `{"value": {...}}`.
    pub fn from_json(value: Value) -> Result<Self, String> {
        let entity = match value {
            Value::Object(mut map) if map.get("value").is_some_and(Value::is_object) => {
                map.remove("value").unwrap_or_default()
            }
            other => other,
        };
        let wire: Wire = serde_json::from_value(entity).map_err(|e| e.to_string())?;
        let raw_status = wire.status.unwrap_or_default();
        Ok(DeviceOperation {
            id: wire.id,
            status: OperationStatus::parse(&raw_status),
            raw_status,
            operation_type: wire.operation_type,
            error_code: wire.error.as_ref().and_then(|e| e.code.clone()),
            error_message: wire.error.and_then(|e| e.message),
            created: wire
                .created_date_time
                .and_then(|t| OffsetDateTime::parse(&t, &Rfc3339).ok()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_compare_case_insensitively() {
        for (raw, status) in [
            ("queued", OperationStatus::Queued),
            ("Queued", OperationStatus::Queued),
            ("Scheduled", OperationStatus::Queued),
            ("InProgress", OperationStatus::Running),
            ("inProgress", OperationStatus::Running),
            ("succeeded", OperationStatus::Succeeded),
            ("Successful", OperationStatus::Succeeded),
            ("failed", OperationStatus::Failed),
            ("Cancelled", OperationStatus::Cancelled),
            ("unknownFutureValue", OperationStatus::Unknown),
            ("", OperationStatus::Unknown),
        ] {
            assert_eq!(OperationStatus::parse(raw), status, "{raw}");
        }
        assert!(!OperationStatus::Unknown.is_terminal());
    }

    #[test]
    fn parses_the_docs_samples_bare_and_wrapped() {
        let bare = json!({"id": "op-1", "status": "Successful", "operationType": "softwareUpdate",
            "createdDateTime": "2021-06-19T12-01-03.45Z", "error": null});
        let op = DeviceOperation::from_json(bare).unwrap();
        assert_eq!(op.status, OperationStatus::Succeeded);
        assert_eq!(op.created, None, "a malformed timestamp is tolerated");

        let wrapped = json!({"@odata.context": "…", "value": {"id": "op-2", "status": "failed",
            "operationType": "deviceRestart", "createdDateTime": "2026-11-23T10:00:00Z",
            "error": {"code": "DeviceOffline", "message": "The device is offline."}}});
        let op = DeviceOperation::from_json(wrapped).unwrap();
        assert_eq!(op.id.as_deref(), Some("op-2"));
        assert_eq!(op.status, OperationStatus::Failed);
        assert_eq!(op.error_code.as_deref(), Some("DeviceOffline"));
        assert_eq!(op.error_message.as_deref(), Some("The device is offline."));
        assert!(op.created.is_some());

        assert!(DeviceOperation::from_json(json!("nope")).is_err());
    }
}
