//! Teams app installations in a team, a chat or a user's personal scope: every installation
//! exists, and each upgrade moves its version on.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::graph_errors::graph_error;
use super::state::SimulatorState;

/// An installation's key in the simulator's memory: its path, less any `/upgrade`.
fn installation_key(uri: &axum::http::Uri) -> String {
    uri.path().trim_end_matches("/upgrade").to_owned()
}

/// `GET …/installedApps/{id}`: every installation exists, and runs version `1.0.{n}` after
/// `n` upgrades. With `$expand=teamsAppDefinition`, the definition is included, as in Graph.
pub(super) async fn get_installation(
    State(state): State<SimulatorState>,
    uri: axum::http::Uri,
) -> Response {
    let key = installation_key(&uri);
    let upgrades = state.lock().upgrades.get(&key).copied().unwrap_or(0);
    let id = key.rsplit('/').next().unwrap_or_default();
    let mut body = json!({"id": id});
    let expand = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .any(|(k, v)| k == "$expand" && v.split(',').any(|p| p.trim() == "teamsAppDefinition"));
    if expand {
        body["teamsAppDefinition"] = json!({
            "id": format!("{id}-definition-{upgrades}"),
            "teamsAppId": format!("{id}-app"),
            "displayName": "Simulated app",
            "version": format!("1.0.{upgrades}"),
        });
    }
    Json(body).into_response()
}

pub(super) async fn upgrade(
    State(state): State<SimulatorState>,
    uri: axum::http::Uri,
    body: axum::body::Bytes,
) -> Response {
    if !body.is_empty() {
        let set = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|b| b.get("consentedPermissionSet").cloned());
        if set.is_none() {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid upgrade request body.",
            );
        }
    }
    *state
        .lock()
        .upgrades
        .entry(installation_key(&uri))
        .or_default() += 1;
    StatusCode::NO_CONTENT.into_response()
}
