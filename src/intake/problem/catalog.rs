//! What each error tells the client: its status, type, title and detail, and the fields that
//! say more. Graph's failures are mapped in `graph.rs`.

use std::time::Duration;

use axum::http::StatusCode;

use super::body::Problem;
use super::error::ApiError;
use super::graph::{graph_problem, read_problem};
use super::ticket::gate_problem;
use crate::callers::Route;
use crate::intake::status_url;

/// How much of a duplicate key the problem repeats back.
const MAX_ECHOED_KEY: usize = 100;

impl ApiError {
    pub(super) fn problem(&self) -> Problem {
        use ApiError::*;
        match self {
            Validation(errors) => Problem::invalid("The change request is invalid", errors),
            InvalidQuery(errors) => Problem::invalid("The query is invalid", errors),
            // The parser's own words stay in the log; where it stopped helps the caller.
            MalformedJson(e) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not valid JSON",
                "the body could not be parsed as JSON; line and column say where it went wrong",
            )
            .with("line", e.line())
            .with("column", e.column()),
            DuplicateKey(key) => Problem::new(
                StatusCode::BAD_REQUEST,
                "duplicate-key",
                "The body repeats a key",
                "an object in the body holds the same key twice; send each field once",
            )
            .with("key", key.chars().take(MAX_ECHOED_KEY).collect::<String>()),
            IdempotencyKeyReused { key } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "The delivery key was used for another request",
                "this caller already sent a different body under this Idempotency-Key (or delivery id); use a new key for a new request",
            )
            .with("key", key.clone()),
            Interrupted { change_id } => Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "graph-pending",
                "Graph's answer is not known yet",
                "the first delivery of this request stopped before graphgate answered it; the change is recorded, and graphgate will find out what Graph did: follow statusUrl rather than resubmitting",
            )
            .with("changeId", change_id.to_string())
            .with("statusUrl", status_url(change_id)),
            DeliveryInFlight { change_id } => {
                let mut p = Problem::new(
                    StatusCode::CONFLICT,
                    "delivery-in-flight",
                    "The first delivery with this key is still in flight",
                    "the first delivery with this key is still being carried out; ask again shortly",
                );
                if let Some(id) = change_id {
                    p = p
                        .with("changeId", id.to_string())
                        .with("statusUrl", status_url(id));
                }
                p
            }
            NotAnObject => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-json",
                "The body is not a JSON object",
                "send the change request as one JSON object",
            ),
            UnreadableBody => Problem::new(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                "The body could not be read",
                "the request body ended early or was malformed",
            ),
            PayloadTooLarge { limit } => Problem::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "The body is too large",
                format!("a change request may be at most {limit} bytes"),
            ),
            UnsupportedMediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported content type",
                "send the change request with Content-Type: application/json",
            ),
            Unauthorized(route) => unauthorized(*route),
            Forbidden { caller, action } => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This caller may not request this action",
                format!("caller {caller:?} is not allowed to request {action}"),
            )
            .with("action", action.as_str()),
            DeviceForbidden {
                caller,
                device,
                others,
            } => Problem::new(
                StatusCode::FORBIDDEN,
                "device-forbidden",
                "This caller may not change this device",
                format!(
                    "caller {caller:?} is limited to its own devices, and device {device} is not one of them{}",
                    match others.len() {
                        0 => String::new(),
                        n => format!(" (nor are {n} more; deviceIds lists them all)"),
                    }
                ),
            )
            .with("deviceId", device.as_ref())
            .with(
                "deviceIds",
                std::iter::once(device)
                    .chain(others)
                    .map(|d| d.as_ref().to_owned())
                    .collect::<Vec<_>>(),
            ),
            InventoryForbidden { caller } => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This caller may not read the device inventory",
                format!(
                    "caller {caller:?} may request no device action, so it may not read the devices"
                ),
            ),
            GraphRead { what, source } => read_problem(what, source),
            FleetSize { found } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "fleet-size",
                "The filter takes no devices, or too many",
                if *found == 0 {
                    "no device in the inventory matches devices; check it with GET /v1/devices".to_owned()
                } else {
                    format!("{found} devices match devices, and a fleet change takes at most {}; narrow the filter or list deviceIds in several changes", crate::change::MAX_DEVICES)
                },
            )
            .with("found", *found),
            // Graph's answer was a 404 (see `rehearsal::not_found_or`), so graphStatus is 404.
            TargetNotFound { target, failure } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "target-not-found",
                "Graph does not know the change's target",
                format!("Graph answered 404 when asked for {target}, so the change could not be carried out as asked"),
            )
            .with_graph_answer(failure),
            NotInCloud { action, cloud } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not-in-cloud",
                "Graph does not offer this action in this cloud",
                format!(
                    "Microsoft documents {action} in this scope as unavailable to applications in the {cloud} cloud (GRAPH_CLOUD), so graphgate did not send it"
                ),
            )
            .with("action", action.as_str())
            .with("cloud", *cloud),
            ChangeNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "No such change",
                "no change with this ID was created by this caller",
            ),
            NotCancellable { change_id, status } => Problem::new(
                StatusCode::CONFLICT,
                "not-cancellable",
                "The change can no longer be cancelled",
                format!("the change is {status}: only a change that has not reached Graph (scheduled) can be cancelled"),
            )
            .with("changeId", change_id.as_ref())
            .with("changeStatus", status.as_str())
            .with("statusUrl", status_url(change_id)),
            RouteNotFound => Problem::new(
                StatusCode::NOT_FOUND,
                "not-found",
                "No such resource",
                "see the README for graphgate's routes",
            ),
            MethodNotAllowed => Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
                "this route does not take this method",
            ),
            Graph {
                change_id,
                action,
                source,
            } => graph_problem(change_id, action, source),
            Gate(error) => gate_problem(error),
            Store(_) => {
                let mut p = Problem::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store-unavailable",
                    "The change store is unavailable",
                    "graphgate's change store did not answer and nothing was changed; retry later",
                );
                p.retry_after = Some(Duration::from_secs(5));
                p
            }
            Panic => Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "graphgate failed unexpectedly; the error is logged",
            ),
        }
    }
}

/// A 401 that says what proof `route` takes. Slack and Teams sign their deliveries, and a
/// chat tool's administrator reading the answer needs their own signature named, not a
/// bearer token.
fn unauthorized(route: Route) -> Problem {
    let (detail, challenge) = match route {
        Route::Api | Route::Read => (
            "send Authorization: Bearer <token> with a token registered in GRAPHGATE_CALLERS",
            Some("Bearer realm=\"graphgate\""),
        ),
        Route::Slack => (
            "this route takes Slack's request signature: X-Slack-Signature and X-Slack-Request-Timestamp (within 5 minutes), signed with the Slack app's signing secret registered in GRAPHGATE_CALLERS",
            None,
        ),
        Route::Teams => (
            "this route takes a Teams outgoing webhook's signature: Authorization: HMAC <signature>, made with the security token Teams showed when the webhook was created, registered in GRAPHGATE_CALLERS",
            Some("HMAC realm=\"graphgate\""),
        ),
    };
    let mut problem = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Missing or invalid credentials",
        detail,
    );
    problem.challenge = challenge;
    problem
}
