//! The answer to a change the intake took: where it stands, and where to follow it.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use url::Url;

use super::status_url;
use crate::change::{ChangeId, ChangeRecord, DeviceId, Rollout, Status, Unjudged};

/// `202 Accepted` for a change under way (with Graph's operation as `Location`, once there is
/// one), or `200 OK` for one already done.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Accepted {
    change_id: ChangeId,
    /// A fleet's devices, in the order they are sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    devices: Option<Vec<DeviceId>>,
    /// The Graph operation that carries the change out.
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<Url>,
    /// When a scheduled change's window opens, as RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    opens_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rollout: Option<Rollout>,
    status: Status,
    status_url: String,
    /// The devices a fleet's filter could not judge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unjudged: Vec<Unjudged>,
}

impl Accepted {
    pub fn of(record: &ChangeRecord) -> Self {
        let opens_at = record.opens_at().and_then(|at| at.format(&Rfc3339).ok());
        Accepted {
            change_id: record.id().clone(),
            status: record.status(),
            status_url: status_url(record.id()),
            location: record.location().cloned(),
            // A fleet's parent: the devices it takes, in order, and how.
            devices: record
                .fleet()
                .map(|fleet| fleet.children.iter().map(|c| c.device_id.clone()).collect()),
            rollout: record.fleet().map(|fleet| fleet.rollout),
            opens_at,
            unjudged: Vec::new(),
        }
    }

    /// A fleet change's answer: its parent's, with the devices its filter could not judge.
    pub fn fleet(parent: &ChangeRecord, unjudged: Vec<Unjudged>) -> Self {
        Accepted {
            unjudged,
            ..Self::of(parent)
        }
    }
}

impl IntoResponse for Accepted {
    fn into_response(self) -> Response {
        let location = self.location.as_ref().map(|l| l.as_str().to_owned());
        let status = match location {
            Some(_) => StatusCode::ACCEPTED,
            None if self.status.is_terminal() => StatusCode::OK,
            None => StatusCode::ACCEPTED,
        };
        // Through a JSON value, so each object's keys are written in order of their names,
        // as the intake has always written this answer.
        let body = Json(json!(self));
        match location {
            Some(location) => (status, [(LOCATION, location)], body).into_response(),
            None => (status, body).into_response(),
        }
    }
}
