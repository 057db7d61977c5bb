//! What stands before every Graph route, in order: the length check of Graph's front end,
//! latency and faults, the bearer token, and the permission the call needs.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::time::Instant;

use super::graph_errors::{graph_error, no_such_segment};
use super::state::SimulatorState;
use crate::change::ActionKind;
use crate::graph::{Capability, ScopeKind};

/// The length check, latency, faults and bearer-token checks, in that order, before any Graph
/// route.
pub(super) async fn graph_gate(
    State(state): State<SimulatorState>,
    request: Request,
    next: Next,
) -> Response {
    if length_required(&request) {
        return length_required_answer();
    }
    let device_api = request.uri().path().starts_with("/teamwork/devices");
    let (latency, fault, deprecated, retired) = {
        let mut inner = state.lock();
        let latency = Duration::from_millis(inner.faults.latency_ms);
        let fault = if inner.faults.throttle > 0 {
            inner.faults.throttle -= 1;
            Some((
                StatusCode::TOO_MANY_REQUESTS,
                Some(inner.faults.retry_after_secs),
            ))
        } else if inner.faults.unavailable > 0 {
            inner.faults.unavailable -= 1;
            Some((StatusCode::SERVICE_UNAVAILABLE, None))
        } else {
            None
        };
        (
            latency,
            fault,
            inner.faults.deprecated && device_api,
            inner.faults.retired && device_api,
        )
    };
    tokio::time::sleep(latency).await;
    if let Some((status, retry_after)) = fault {
        let code = if status == StatusCode::TOO_MANY_REQUESTS {
            "TooManyRequests"
        } else {
            "ServiceUnavailable"
        };
        let mut response = graph_error(status, code, "The simulator is set to refuse this call.");
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let Some(roles) = token_roles(&state, request.headers()) else {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty, unknown or expired.",
        );
    };
    let (request, consent) = consent_asked(request).await;
    if let Some(capability) = capability_of(request.method(), request.uri().path(), consent) {
        let requirement = capability.requirement();
        if !requirement.judge(&roles).usable() {
            return missing_role(requirement.grant, &roles);
        }
    }
    let mut response = if retired {
        no_such_segment("devices")
    } else {
        next.run(request).await
    };
    if deprecated {
        let headers = response.headers_mut();
        headers.insert(
            "deprecation",
            HeaderValue::from_static("Sat, 01 Nov 2025 00:00:00 GMT"),
        );
        headers.insert(
            "sunset",
            HeaderValue::from_static("Sun, 01 Nov 2026 00:00:00 GMT"),
        );
        headers.insert(
            header::LINK,
            HeaderValue::from_static(
                "<https://learn.microsoft.com/graph/api/resources/teamworkdevice?view=graph-rest-beta>; rel=\"deprecation\"; type=\"text/html\"",
            ),
        );
    }
    if !response.headers().contains_key("request-id")
        && let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
    {
        response.headers_mut().insert("request-id", v);
    }
    response
}

/// Graph's front end, like HTTP.sys, refuses a POST that says neither how long its body is nor
/// that it is chunked; over HTTP/1.1 that is a bodyless POST sent without `Content-Length: 0`.
fn length_required(request: &Request) -> bool {
    request.method() == axum::http::Method::POST
        && request.version() <= axum::http::Version::HTTP_11
        && !request.headers().contains_key(header::CONTENT_LENGTH)
        && !request.headers().contains_key(header::TRANSFER_ENCODING)
}

/// The answer HTTP.sys gives to a POST without a length, as Graph relays it.
fn length_required_answer() -> Response {
    (
        StatusCode::LENGTH_REQUIRED,
        [(header::CONTENT_TYPE, "text/html; charset=us-ascii")],
        "<h2>Length Required</h2><hr><p>HTTP Error 411. The request must be chunked or have a content length.</p>",
    )
        .into_response()
}

/// The application permissions of the request's bearer token, if it is one the token
/// endpoint issued and it has not expired.
fn token_roles(state: &SimulatorState, headers: &HeaderMap) -> Option<Vec<String>> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    state
        .lock()
        .tokens
        .get(token)
        .filter(|(expires, _)| Instant::now() < *expires)
        .map(|(_, roles)| roles.clone())
}

/// What a Graph path asks for, as Graph's permission tables have it.
fn capability_of(method: &axum::http::Method, path: &str, consent: bool) -> Option<Capability> {
    if path.starts_with("/teamwork/devices") {
        return Some(if method == axum::http::Method::POST {
            Capability::DeviceAction(ActionKind::UpdateSoftware)
        } else if path.contains("/operations") {
            Capability::ListOperations
        } else {
            Capability::ReadDevices
        });
    }
    let scope = match path.split('/').nth(1)? {
        "teams" => ScopeKind::Team,
        "chats" => ScopeKind::Chat,
        "users" => ScopeKind::User,
        _ => return None,
    };
    Some(Capability::UpgradeApp { scope, consent })
}

/// Whether the request is an upgrade that carries a `consentedPermissionSet`, which needs a
/// permission of its own; the request comes back whole.
async fn consent_asked(request: Request) -> (Request, bool) {
    if request.method() != axum::http::Method::POST || !request.uri().path().ends_with("/upgrade") {
        return (request, false);
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let consent = serde_json::from_slice::<Value>(&bytes)
        .is_ok_and(|b| b.get("consentedPermissionSet").is_some());
    (
        Request::from_parts(parts, axum::body::Body::from(bytes)),
        consent,
    )
}

/// Graph's 403 for a token without the permission a call needs.
fn missing_role(grant: &str, roles: &[String]) -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Forbidden",
        &format!(
            "Missing role permissions on the request. API requires one of '{grant}'. Roles on the request '{}'.",
            roles.join(",")
        ),
    )
}
