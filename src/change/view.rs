//! A change as its caller sees it, in `GET /v1/changes/{id}` and in callbacks: no lease,
//! version or scheduling internals; and in one line, for a chat.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{
    CallbackDelivery, CallbackUrl, ChangeId, ChangeRecord, Child, DeviceFilter, Fleet,
    GraphFailure, OperationReport, Rollout, Schedule, Status, Stop, Verification,
    VerificationState,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    change_id: ChangeId,
    status: Status,
    /// The action and its target; a fleet parent names its devices under `fleet` instead.
    #[serde(flatten)]
    action: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback_url: Option<CallbackUrl>,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<url::Url>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<GraphFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    operation: Option<OperationReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    callback: Option<CallbackDelivery>,
    /// For a change to many devices: its rollout and its children, as of its last visit.
    #[serde(skip_serializing_if = "Option::is_none")]
    fleet: Option<FleetView>,
    /// For a child of a fleet change: the parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_change_id: Option<ChangeId>,
    /// For a change that succeeded: whether its target shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    verification: Option<VerificationView>,
    /// `notBefore`, `notAfter` and `window`, as asked.
    #[serde(flatten)]
    schedule: Schedule,
    /// While `scheduled`: when the window next opens and the change goes to Graph.
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    opens_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl ChangeView {
    pub fn change_id(&self) -> &ChangeId {
        &self.change_id
    }

    /// A one-line account of `record`, for a chat: what it is, where it stands, and what
    /// Graph said. Read from the record itself: a line needs no view of the whole change.
    pub fn summary(record: &ChangeRecord) -> String {
        let status = record.status();
        let mut line = format!(
            "{}: change {} ({}) is {}",
            if status.is_terminal() {
                "done"
            } else {
                "accepted"
            },
            record.id(),
            record.action().kind(),
            status.as_str()
        );
        if let Some(reference) = record.reference() {
            line += &format!(" for {reference}");
        }
        if let Some(location) = record.location() {
            line += &format!("; Graph operation {location}");
        }
        if let Some(failure) = record.failure() {
            line += &format!("; {}: {}", failure.code, failure.message);
        }
        line
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationView {
    state: VerificationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    reported_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    checked_at: Option<OffsetDateTime>,
}

impl From<Verification> for VerificationView {
    fn from(v: Verification) -> Self {
        VerificationView {
            state: v.state,
            reported_version: v.reported_version,
            reason: v.reason,
            checked_at: v.checked_at,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FleetView {
    rollout: Rollout,
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<DeviceFilter>,
    total: usize,
    /// Children by status; they add up to `total`.
    counts: BTreeMap<&'static str, usize>,
    /// Children that succeeded, by verification state.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    verification: BTreeMap<VerificationState, usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<Stop>,
    children: Vec<Child>,
}

impl From<Fleet> for FleetView {
    fn from(fleet: Fleet) -> Self {
        FleetView {
            rollout: fleet.rollout,
            total: fleet.children.len(),
            counts: fleet.counts(),
            verification: fleet.verification_counts(),
            stopped: fleet.stopped,
            filter: fleet.filter,
            children: fleet.children,
        }
    }
}

impl From<ChangeRecord> for ChangeView {
    fn from(r: ChangeRecord) -> Self {
        let mut action = match serde_json::to_value(&r.action) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        if r.fleet.is_some() {
            action.remove("deviceId");
        }
        let opens_at = r.opens_at();
        ChangeView {
            change_id: r.id,
            status: r.status,
            action,
            reference: r.reference,
            requested_by: r.requested_by,
            callback_url: r.callback_url,
            location: r.location,
            graph_request_id: r.graph_request_id,
            failure: r.failure,
            operation_status: r.operation_status,
            operation: r.operation,
            callback: r.callback,
            fleet: r.fleet.map(FleetView::from),
            parent_change_id: r.parent,
            verification: r.verification.map(VerificationView::from),
            schedule: r.schedule,
            opens_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
