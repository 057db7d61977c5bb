//! What a client is told when Graph failed it: Graph's error, mapped by what the client can
//! do about it, with Graph's own code, message and request ID as named fields.

use std::time::Duration;

use axum::http::StatusCode;

use super::body::Problem;
use crate::change::{Action, AppScope, ChangeId};
use crate::graph::GraphError;
use crate::intake::status_url;

/// Graph stayed throttled or unreachable: retry after Graph's wait, or 5 s.
fn graph_unavailable(detail: String, retry_after: Option<Duration>) -> Problem {
    let mut p = Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "graph-unavailable",
        "Graph is unavailable",
        detail,
    );
    p.retry_after = Some(retry_after.unwrap_or(Duration::from_secs(5)));
    p
}

fn sign_in_refused() -> Problem {
    Problem::new(
        StatusCode::BAD_GATEWAY,
        "graph-sign-in",
        "graphgate could not sign in to Graph",
        "the token endpoint refused graphgate's credentials; the operator must fix its app registration",
    )
}

/// Graph would not give what graphgate read for the caller: nothing was changed.
pub(super) fn read_problem(what: &str, error: &GraphError) -> Problem {
    let status = error
        .graph_answer()
        .and_then(|f| f.http_status)
        .unwrap_or_default();
    let p = match error {
        GraphError::Permission(_) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-permission",
            "Graph refused graphgate's permissions",
            format!(
                "Graph answered HTTP {status} to reading {what}: graphgate's app registration needs TeamworkDevice.Read.All (or ReadWrite.All)"
            ),
        ),
        GraphError::Retired(_) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-api-retired",
            "The Graph API for Teams devices is no longer available",
            format!(
                "Graph answered HTTP {status} to reading {what} in a way that means it no longer serves this API at the configured version; Microsoft retired the beta teamworkDevice management APIs (see the README), so no retry will help"
            ),
        ),
        GraphError::Unavailable { retry_after, .. } => graph_unavailable(
            format!(
                "Graph stayed throttled or unreachable until the deadline while reading {what}; retry later"
            ),
            *retry_after,
        ),
        GraphError::TokenRefused { .. } | GraphError::Credential(_) => sign_in_refused(),
        _ => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-error",
            "Graph failed",
            format!("graphgate could not read {what} from Graph; the error is logged"),
        ),
    };
    match error.graph_answer() {
        Some(failure) => p.with_graph_answer(failure),
        None => p,
    }
}

/// `Team`, `Chat` or `User`, for an upgrade that asks Graph to consent to permissions.
fn consent_scope(action: &Action) -> Option<&'static str> {
    match action {
        Action::UpgradeApp {
            scope,
            consented_permission_set: Some(_),
            ..
        } => Some(match scope {
            AppScope::Team(_) => "Team",
            AppScope::Chat(_) => "Chat",
            AppScope::User(_) => "User",
        }),
        _ => None,
    }
}

pub(super) fn graph_problem(change_id: &ChangeId, action: &Action, error: &GraphError) -> Problem {
    let target = match action.device_id() {
        Some(device) => format!("device {device}"),
        None => "the app installation".to_owned(),
    };
    let kind = action.kind();
    let mut p = match error {
        // Graph may have acted: the caller must not resubmit, and the sweeper will find out.
        e if e.outcome_unknown() => Problem::new(
            StatusCode::GATEWAY_TIMEOUT,
            "graph-pending",
            "Graph's answer is not known yet",
            format!(
                "Graph may have carried out {kind}, but no usable answer reached graphgate; graphgate will find out what Graph did: follow statusUrl rather than resubmitting"
            ),
        ),
        // Consent is what most often fails an upgrade that carries it; say so, with the fix.
        GraphError::Refused(f) | GraphError::Permission(f) if consent_scope(action).is_some() => {
            let scope = consent_scope(action).unwrap_or_default();
            Problem::new(
                if matches!(error, GraphError::Permission(_)) {
                    StatusCode::BAD_GATEWAY
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                },
                "graph-consent-refused",
                "Graph refused the upgrade with its permission consent",
                format!(
                    "Graph answered HTTP {} to upgradeApp with consentedPermissionSet. To consent in app-only context graphgate's app registration needs TeamsAppInstallation.ReadWriteAndConsentFor{scope}.All (or ReadWriteAndConsentSelfFor{scope}.All); TeamsAppInstallation.ReadWriteFor{scope}.All cannot consent, and the set must match the resource-specific permissions in the app's definition. graphCode and graphMessage say what Graph objected to",
                    f.http_status.unwrap_or_default(),
                ),
            )
        }
        GraphError::Conflict(_) => Problem::new(
            StatusCode::CONFLICT,
            "graph-conflict",
            "An operation is already queued",
            format!(
                "Graph already has an operation queued for {target}; wait for it to finish, then retry"
            ),
        ),
        GraphError::Permission(f) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-permission",
            "Graph refused graphgate's permissions",
            format!(
                "Graph answered HTTP {} to {kind}: graphgate's app registration lacks a permission this action needs",
                f.http_status.unwrap_or_default(),
            ),
        ),
        // Graph answers 404 when a device does not take an action, even when GET finds the
        // device: say that Graph refused, never that the device does not exist.
        GraphError::Refused(f) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "graph-refused",
            "Graph refused the action",
            format!(
                "Graph refused {kind} for {target} with HTTP {}; graphCode and graphMessage say why",
                f.http_status.unwrap_or_default()
            ),
        ),
        GraphError::Retired(f) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-api-retired",
            "The Graph API for this action is no longer available",
            format!(
                "Graph answered HTTP {} to {kind} in a way that means it no longer serves this API at the configured version; Microsoft retired the beta teamworkDevice management APIs (see the README), so no retry will help",
                f.http_status.unwrap_or_default(),
            ),
        ),
        GraphError::Unavailable { retry_after, .. } => graph_unavailable(
            format!(
                "Graph stayed throttled or unreachable until the deadline; {kind} was not carried out, retry later"
            ),
            *retry_after,
        ),
        GraphError::TokenRefused { .. } | GraphError::Credential(_) => sign_in_refused(),
        GraphError::Server(f) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-error",
            "Graph failed",
            format!(
                "Graph answered HTTP {} to {kind}",
                f.http_status.unwrap_or_default(),
            ),
        ),
        // Only answers that leave no doubt remain: an unknown outcome was handled first.
        GraphError::Transport(_)
        | GraphError::Timeout
        | GraphError::Location(_)
        | GraphError::Unexpected { .. } => Problem::new(
            StatusCode::BAD_GATEWAY,
            "graph-error",
            "Graph's answer could not be used",
            format!("graphgate could not complete {kind} with Graph; the error is logged"),
        ),
    };
    p = p
        .with("changeId", change_id.as_ref())
        .with("statusUrl", status_url(change_id));
    if let Some(device) = action.device_id() {
        p = p.with("deviceId", device.as_ref());
    }
    // Graph's own words, as named fields: never graphgate's internal text.
    if let Some(failure) = error.graph_answer() {
        p = p.with_graph_answer(failure);
        if !failure.message.is_empty() {
            p = p.with("graphMessage", failure.message.as_str());
        }
    }
    p
}
