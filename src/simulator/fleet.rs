//! The simulator's Teams devices: the list (in pages, with an absolute `@odata.nextLink` as
//! Graph sends it), each device, and its health, with software versions that move on after a
//! successful update.
//!
//! Every device ID exists, as in the simulator's actions, except IDs that start with
//! `missing`, which Graph does not know (404 `NotFound`). Devices seeded with
//! `PUT /_simulator/devices` (or by `serve --simulate`) are listed from the start, others once
//! they have been used. An update's new version shows in the device's health after one more
//! read of it, except on devices whose ID starts with `stale`, which never report it.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::device::{SeedDevice, SimDevice, Versions};
use super::graph_errors::graph_error;
use super::state::SimulatorState;
use crate::change::SoftwareType;

/// Devices in one page of the list, unless `$top` asks for fewer.
const PAGE_SIZE: usize = 20;

impl SimulatorState {
    /// Adds devices to the list, or replaces those with the same ID.
    pub fn add_devices(&self, seeds: Vec<SeedDevice>) {
        let mut inner = self.lock();
        for seed in seeds {
            inner
                .devices
                .insert(seed.id.clone(), SimDevice::seeded(seed));
        }
    }

    /// The fleet `serve --simulate` starts with: rooms, a collaboration bar and a panel, some
    /// behind on the Teams client, one that never reports an update.
    pub fn seed_demo_fleet(&self) {
        let behind = |client: &str| {
            BTreeMap::from([(
                SoftwareType::TeamsClient,
                Versions {
                    current_version: client.into(),
                    available_version: "1.0.96.22".into(),
                },
            )])
        };
        let seed = |id: &str, device_type: &str, software| SeedDevice {
            id: id.into(),
            device_type: Some(device_type.into()),
            health_status: None,
            software,
        };
        self.add_devices(vec![
            seed("room-lisbon", "teamsRoom", behind("1.0.96.20")),
            seed("room-oslo", "teamsRoom", behind("1.0.96.20")),
            seed("room-kyoto", "teamsRoom", behind("1.0.96.22")),
            seed("stale-room-quito", "teamsRoom", behind("1.0.96.19")),
            seed("bar-accra", "collaborationBar", behind("1.0.96.21")),
            seed("panel-lima", "teamsPanel", behind("1.0.96.22")),
        ]);
    }

    /// Notes that an update to `version` of `kind` finished on `device`.
    pub(super) fn updated(&self, device: &str, kind: SoftwareType, version: String) {
        if device.starts_with("stale") {
            return;
        }
        let mut inner = self.lock();
        let entry = inner
            .devices
            .entry(device.to_owned())
            .or_insert_with(SimDevice::standard);
        entry.installing = Some((kind, version, 1));
    }

    /// Makes sure `device` is known, as every device but a `missing…` one is.
    pub(super) fn touch(&self, device: &str) {
        self.lock()
            .devices
            .entry(device.to_owned())
            .or_insert_with(SimDevice::standard);
    }
}

fn no_such_device() -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        "The requested device was not found.",
    )
}

/// `GET /teamwork/devices`, `$top` and `$skiptoken` honoured; the next page's link is
/// absolute, as Graph's is.
pub(super) async fn list(
    State(state): State<SimulatorState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let top = param("$top").unwrap_or(PAGE_SIZE).clamp(1, PAGE_SIZE);
    let skip = param("$skiptoken").unwrap_or(0);
    let inner = state.lock();
    let value: Vec<Value> = inner
        .devices
        .iter()
        .skip(skip)
        .take(top)
        .map(|(id, d)| d.listed(id))
        .collect();
    let mut body = json!({ "value": value });
    if skip + top < inner.devices.len() {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        // Only beta has the device list.
        body["@odata.nextLink"] = json!(format!(
            "http://{host}/beta/teamwork/devices?$top={top}&$skiptoken={}",
            skip + top
        ));
    }
    Json(body).into_response()
}

/// `GET /teamwork/devices/{id}`.
pub(super) async fn get(
    State(state): State<SimulatorState>,
    Path(device): Path<String>,
) -> Response {
    known(&state, &device, |d| d.listed(&device))
}

/// `GET /teamwork/devices/{id}/health`.
pub(super) async fn health(
    State(state): State<SimulatorState>,
    Path(device): Path<String>,
) -> Response {
    known(&state, &device, |d| d.read_health(&device))
}

/// `show`'s answer for `device`, which exists unless Graph does not know it.
fn known(
    state: &SimulatorState,
    device: &str,
    show: impl FnOnce(&mut SimDevice) -> Value,
) -> Response {
    if is_missing(device) {
        return no_such_device();
    }
    state.touch(device);
    let mut inner = state.lock();
    let answer = inner.devices.get_mut(device).map(show).unwrap_or_default();
    Json(answer).into_response()
}

/// `PUT /_simulator/devices`: seeds devices (a JSON list of [`SeedDevice`]).
pub(super) async fn seed(
    State(state): State<SimulatorState>,
    Json(seeds): Json<Vec<SeedDevice>>,
) -> StatusCode {
    state.add_devices(seeds);
    StatusCode::NO_CONTENT
}

/// Whether an action on `device` is refused as on a device Graph does not know.
pub(super) fn is_missing(device: &str) -> bool {
    device.starts_with("missing")
}
