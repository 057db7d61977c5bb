//! Every error the HTTP API returns, and the one place they become `application/problem+json`
//! (RFC 9457). Logs get the whole error chain; the body gets a fixed sentence per problem,
//! and Graph's own `code` and `message` as named fields. No parser, HTTP client or I/O text,
//! and nothing from a Graph body that is not a Graph error, reaches a client.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::change::{Action, ActionKind, AppScope, ChangeId, FieldError, GraphFailure, Status};
use crate::graph::GraphError;
use crate::store::StoreError;
use crate::telemetry::error_chain;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the change request has invalid fields")]
    Validation(Vec<FieldError>),
    #[error("the query has invalid parameters")]
    InvalidQuery(Vec<FieldError>),
    #[error("the body is not valid JSON")]
    MalformedJson(#[source] serde_json::Error),
    #[error("the body holds an object with a duplicate key")]
    DuplicateKey(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("the delivery key was used for another body")]
    IdempotencyKeyReused { key: String },
    /// The first delivery with this key stopped before it was answered (a dropped
    /// connection, a panic): what Graph did is for the sweeper to find out.
    #[error("the first delivery with this key was interrupted")]
    Interrupted { change_id: ChangeId },
    #[error("the first delivery with this key is in flight")]
    DeliveryInFlight { change_id: Option<ChangeId> },
    #[error("the body could not be read")]
    UnreadableBody,
    #[error("the body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("the content type must be application/json")]
    UnsupportedMediaType,
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("caller {caller} is not allowed to {action}")]
    Forbidden { caller: String, action: ActionKind },
    #[error("caller {caller} may act on no device, so may not read the inventory")]
    InventoryForbidden { caller: String },
    #[error("Graph did not give {what}")]
    GraphRead {
        what: &'static str,
        #[source]
        source: GraphError,
    },
    #[error("the fleet's filter takes {found} devices")]
    FleetSize { found: usize },
    #[error("Graph does not know {target}")]
    TargetNotFound {
        target: String,
        failure: GraphFailure,
    },
    #[error("Graph does not offer {action} in the {cloud} cloud")]
    NotInCloud {
        action: ActionKind,
        cloud: &'static str,
    },
    #[error("no such change")]
    ChangeNotFound,
    #[error("change {change_id} is {status}: it can no longer be cancelled")]
    NotCancellable { change_id: ChangeId, status: Status },
    #[error("no such resource")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("Graph did not carry out the change")]
    Graph {
        change_id: ChangeId,
        action: Box<Action>,
        #[source]
        source: GraphError,
    },
    #[error("the change store is unavailable")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Panic,
}

/// How many invalid fields a validation problem lists; `errorCount` says how many there were.
const MAX_LISTED_ERRORS: usize = 20;

/// How much of a duplicate key the problem repeats back.
const MAX_ECHOED_KEY: usize = 100;

struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    extensions: Map<String, Value>,
    retry_after: Option<Duration>,
}

impl Problem {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Problem {
            status,
            slug,
            title,
            detail: detail.into(),
            extensions: Map::new(),
            retry_after: None,
        }
    }

    fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }
}

impl ApiError {
    fn problem(&self) -> Problem {
        use ApiError::*;
        match self {
            Validation(errors) => invalid("The change request is invalid", errors),
            InvalidQuery(errors) => invalid("The query is invalid", errors),
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
            .with("statusUrl", super::status_url(change_id)),
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
                        .with("statusUrl", super::status_url(id));
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
            Unauthorized => Problem::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Missing or invalid credentials",
                "send Authorization: Bearer <token> with a token registered in GRAPHGATE_CALLERS",
            ),
            Forbidden { caller, action } => Problem::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "This caller may not request this action",
                format!("caller {caller:?} is not allowed to request {action}"),
            )
            .with("action", action.as_str()),
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
            TargetNotFound { target, failure } => {
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "target-not-found",
                    "Graph does not know the change's target",
                    format!("Graph answered 404 when asked for {target}, so the change could not be carried out as asked"),
                )
                .with("graphCode", failure.code.as_str())
                .with("graphStatus", 404);
                if let Some(request_id) = &failure.request_id {
                    p = p.with("graphRequestId", request_id.as_str());
                }
                p
            }
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
            .with("statusUrl", super::status_url(change_id)),
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

/// A 400 that names each bad field (or parameter) of a request.
fn invalid(title: &'static str, errors: &[FieldError]) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "validation",
        title,
        match errors {
            [one] => format!("{}: {}", one.field, one.detail),
            many => format!("{} fields are invalid; see errors", many.len()),
        },
    )
    // A body of thousands of unknown keys must not get an answer many times its size.
    .with(
        "errors",
        serde_json::to_value(&errors[..errors.len().min(MAX_LISTED_ERRORS)]).unwrap_or_default(),
    )
    .with("errorCount", errors.len())
}

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
fn read_problem(what: &str, error: &GraphError) -> Problem {
    let status = error
        .graph_answer()
        .and_then(|f| f.http_status)
        .unwrap_or_default();
    let mut p = match error {
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
    if let Some(failure) = error.graph_answer() {
        p = p.with("graphCode", failure.code.as_str());
        if let Some(status) = failure.http_status {
            p = p.with("graphStatus", status);
        }
        if let Some(request_id) = &failure.request_id {
            p = p.with("graphRequestId", request_id.as_str());
        }
    }
    p
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

fn graph_problem(change_id: &ChangeId, action: &Action, error: &GraphError) -> Problem {
    let failure = error
        .graph_answer()
        .cloned()
        .unwrap_or_else(|| error.failure());
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
        .with("statusUrl", super::status_url(change_id));
    if let Some(device) = action.device_id() {
        p = p.with("deviceId", device.as_ref());
    }
    // Graph's own words, as named fields: never graphgate's internal text.
    if failure.http_status.is_some() {
        p = p.with("graphCode", failure.code.as_str());
        if !failure.message.is_empty() {
            p = p.with("graphMessage", failure.message.as_str());
        }
    }
    if let Some(status) = failure.http_status {
        p = p.with("graphStatus", status);
    }
    if let Some(request_id) = &failure.request_id {
        p = p.with("graphRequestId", request_id.as_str());
    }
    p
}

impl ApiError {
    /// The problem's title and detail as one sentence, for a chat reply.
    pub fn sentence(&self) -> String {
        let problem = self.problem();
        format!("{}: {}", problem.title, problem.detail)
    }

    /// The problem's name, when it refuses the request (a 4xx) rather than failing it.
    pub fn refusal(&self) -> Option<&'static str> {
        let problem = self.problem();
        problem.status.is_client_error().then_some(problem.slug)
    }
}

/// Marks a response that refused a request for a change, naming the problem, so the routes
/// that take changes count it once, in one place (`intake::counting_refusals`), whether a
/// problem+json answer or a chat reply in words carries it.
#[derive(Debug, Clone, Copy)]
pub struct Refused(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        if problem.status.is_server_error() {
            tracing::error!(status = problem.status.as_u16(), error = %error_chain(&self), "request failed");
        } else {
            tracing::info!(status = problem.status.as_u16(), error = %error_chain(&self), "request refused");
        }
        let mut body = json!({
            "type": format!("urn:graphgate:problem:{}", problem.slug),
            "title": problem.title,
            "status": problem.status.as_u16(),
            "detail": problem.detail,
        });
        if let Value::Object(map) = &mut body {
            map.extend(problem.extensions);
        }
        let mut response = (problem.status, body.to_string()).into_response();
        if problem.status.is_client_error() {
            response.extensions_mut().insert(Refused(problem.slug));
        }
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(wait) = problem.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if problem.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"graphgate\""),
            );
        }
        response
    }
}
