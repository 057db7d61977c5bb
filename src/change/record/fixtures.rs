//! What the record's unit tests share: a request, and a change at each early stage.

use std::time::Duration;

use serde_json::json;
use time::OffsetDateTime;
use url::Url;

use super::ChangeRecord;
use crate::change::action::Action;
use crate::change::outcome::{ActionOutcome, DeviceOperation, GraphFailure, OperationStatus};
use crate::change::request::{ChangeRequest, Requested};
use crate::change::schedule::Pacing;

pub const T0: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;
pub const SECS: fn(u64) -> Duration = Duration::from_secs;

/// A request for one target.
pub fn request(body: serde_json::Value) -> Requested<Action> {
    match ChangeRequest::parse(body.as_object().unwrap()).unwrap() {
        ChangeRequest::One(request) => request,
        other => panic!("not one target: {other:?}"),
    }
}

pub fn submitting(callback: bool) -> ChangeRecord {
    let mut body = json!({"action": "restartDevice", "deviceId": "d1"});
    if callback {
        body["callbackUrl"] = json!("https://itsm.example.com/hook");
    }
    ChangeRecord::submitting(request(body), "itsm", T0, T0 + SECS(55))
}

/// Graph's refusal, with its own code.
pub fn refusal(code: &str, message: &str) -> GraphFailure {
    GraphFailure {
        http_status: Some(409),
        code: code.into(),
        message: message.into(),
        request_id: None,
    }
}

pub fn accepted() -> ActionOutcome {
    ActionOutcome::Accepted {
        location: Url::parse(
            "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op-1",
        )
        .unwrap(),
        request_id: Some("req-1".into()),
    }
}

pub fn operation(status: &str) -> DeviceOperation {
    DeviceOperation {
        id: Some("op-1".into()),
        status: OperationStatus::parse(status),
        raw_status: status.into(),
        operation_type: Some("deviceRestart".into()),
        error_code: None,
        error_message: None,
        times: Default::default(),
    }
}

pub fn queued(pacing: &Pacing) -> ChangeRecord {
    submitting(false)
        .submitted(&accepted(), T0, pacing)
        .unwrap()
}
