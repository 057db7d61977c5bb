//! A change as its caller sees it, in `GET /v1/changes/{id}` and in callbacks: no lease,
//! version or scheduling internals.

use serde::Serialize;
use time::OffsetDateTime;

use super::{
    Action, CallbackDelivery, CallbackUrl, ChangeId, ChangeRecord, Due, GraphFailure,
    OperationReport, Schedule, Status,
};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeView {
    change_id: ChangeId,
    status: Status,
    #[serde(flatten)]
    action: Action,
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
}

impl From<ChangeRecord> for ChangeView {
    fn from(r: ChangeRecord) -> Self {
        let opens_at = match r.due() {
            Some(Due::Open(at)) => Some(at),
            _ => None,
        };
        ChangeView {
            change_id: r.id,
            status: r.status,
            action: r.action,
            reference: r.reference,
            requested_by: r.requested_by,
            callback_url: r.callback_url,
            location: r.location,
            graph_request_id: r.graph_request_id,
            failure: r.failure,
            operation_status: r.operation_status,
            operation: r.operation,
            callback: r.callback,
            schedule: r.schedule,
            opens_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}
