//! A built-in stand-in for Microsoft Graph and its token endpoint, so graphgate can be tried
//! and tested on one machine. It follows Graph's documented behaviour for the endpoints
//! graphgate uses, including its quirks: a relative `Location` without the version segment,
//! 409 while an operation is queued, and 404 `UnknownError` for a device that does not take
//! an action (device IDs starting with `unsupported`).
//!
//! Two modes follow the device APIs' retirement: `deprecated` adds Graph's `Deprecation` and
//! `Sunset` headers to their answers, and `retired` answers them as Graph answers a path it no
//! longer has.
//!
//! A POST with neither `Content-Length` nor chunked encoding gets 411, as Graph's front end
//! answers it.
//!
//! Fault modes (`PUT /_simulator/faults`, or flags of `graphgate simulate-graph`) make the
//! next Graph calls answer 429 with a fractional `Retry-After`, or 503, or answer late.
//!
//! Operations on devices whose ID starts with `failing` end `failed`. Teams devices, their
//! health and software versions are in `fleet.rs`; `$batch` in `batch.rs`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::change::{ActionKind, SoftwareType};
use crate::graph::{Capability, ScopeKind, odata_key};

mod batch;
mod fleet;
mod login;

pub use fleet::{SeedDevice, Versions};

/// Faults applied to the next Graph calls, and the permissions of the tokens issued from now
/// on. Set with `PUT /_simulator/faults`, or with the same-named flags of
/// `graphgate simulate-graph`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Faults {
    /// Answer the next N Graph calls with 429.
    #[arg(long, default_value_t = 0)]
    pub throttle: u32,
    /// Retry-After sent with each 429, in (fractional) seconds.
    #[arg(long, default_value_t = 2.128)]
    pub retry_after_secs: f64,
    /// Answer the next N requests inside `$batch` calls with 429 (and `retryAfterSecs`),
    /// while the batch itself succeeds.
    #[arg(long, default_value_t = 0)]
    pub throttle_batch_items: u32,
    /// Answer the next N Graph calls (after throttled ones) with 503.
    #[arg(long, default_value_t = 0)]
    pub unavailable: u32,
    /// Delay every Graph call by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Mark the device APIs deprecated: their answers carry `Deprecation`, `Sunset` and a
    /// `Link` to the notice, as Graph's gateway adds them.
    #[arg(long)]
    pub deprecated: bool,
    /// Act as Graph once the device APIs are removed: every device call answers 400
    /// "Resource not found for the segment 'devices'", as v1.0 does today.
    #[arg(long)]
    pub retired: bool,
    /// The application permissions (`roles`) of the tokens issued from now on, comma
    /// separated; Graph answers 403 to a call they do not allow. Unset: the least-privileged
    /// permissions for every action, consent included.
    #[arg(long, value_delimiter = ',')]
    pub roles: Option<Vec<String>>,
}

struct Operation {
    device_id: String,
    operation_type: &'static str,
    /// What a software update installs.
    update: Option<(SoftwareType, String)>,
    created: OffsetDateTime,
    polls: u32,
}

/// The poll at which an operation reports its final status.
const FINAL_POLL: u32 = 3;

impl Operation {
    /// Each poll moves the operation on: queued, then InProgress, then succeeded (or, on a
    /// `failing…` device, failed).
    fn status(&self) -> &'static str {
        match self.polls {
            0 | 1 => "queued",
            2 => "InProgress",
            _ if self.device_id.starts_with("failing") => "failed",
            _ => "succeeded",
        }
    }

    fn is_final(&self) -> bool {
        self.polls >= FINAL_POLL
    }
}

struct Inner {
    faults: Faults,
    token_lifetime: Duration,
    /// Each issued token's expiry and application permissions.
    tokens: HashMap<String, (Instant, Vec<String>)>,
    operations: BTreeMap<String, Operation>,
    /// How many times each app installation (by path) has been upgraded.
    upgrades: HashMap<String, u32>,
    devices: BTreeMap<String, fleet::SimDevice>,
}

/// The simulator's memory; clone it to look inside from a test.
#[derive(Clone)]
pub struct SimulatorState(Arc<Mutex<Inner>>);

impl SimulatorState {
    pub fn new(token_lifetime: Duration, faults: Faults) -> Self {
        SimulatorState(Arc::new(Mutex::new(Inner {
            faults,
            token_lifetime,
            tokens: HashMap::new(),
            operations: BTreeMap::new(),
            upgrades: HashMap::new(),
            devices: BTreeMap::new(),
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_faults(&self, faults: Faults) {
        self.lock().faults = faults;
    }

    /// The faults still to be applied.
    pub fn faults(&self) -> Faults {
        self.lock().faults.clone()
    }

    /// How many tokens the token endpoint has issued.
    pub fn tokens_issued(&self) -> usize {
        self.lock().tokens.len()
    }
}

impl Default for SimulatorState {
    fn default() -> Self {
        Self::new(Duration::from_secs(3599), Faults::default())
    }
}

pub fn router(state: SimulatorState) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(login::token))
        .route("/_simulator/faults", get(get_faults).put(put_faults))
        .route("/_simulator/devices", axum::routing::put(fleet::seed))
        .nest_service("/beta", beta(state.clone()))
        .nest_service("/v1.0", v1(state.clone()))
        .with_state(state)
}

/// Graph's beta: the device APIs and app upgrades.
fn beta(state: SimulatorState) -> Router {
    versioned(state, device_routes().merge(upgrade_routes()), beta)
}

/// v1.0 has app upgrades but no `teamworkDevice`, as in Graph.
fn v1(state: SimulatorState) -> Router {
    let routes = upgrade_routes().route(
        "/teamwork/devices/{*rest}",
        any(|| async { no_such_segment("devices") }),
    );
    versioned(state, routes, v1)
}

/// One version's routes behind the Graph gate, with its `$batch`, whose requests go through
/// the same version's routes (built by `itself`).
fn versioned(
    state: SimulatorState,
    routes: Router<SimulatorState>,
    itself: fn(SimulatorState) -> Router,
) -> Router {
    let gate = middleware::from_fn_with_state(state.clone(), graph_gate);
    routes
        .route(
            "/$batch",
            post(
                move |state: State<SimulatorState>, headers: HeaderMap, body| {
                    let routes = itself(state.0.clone());
                    batch::answer(state, headers, routes, body)
                },
            ),
        )
        .fallback(|| async { no_such_segment("") })
        .layer(gate)
        .with_state(state)
}

fn device_routes() -> Router<SimulatorState> {
    Router::new()
        .route("/teamwork/devices", get(fleet::list))
        .route("/teamwork/devices/{device}", get(fleet::get))
        .route("/teamwork/devices/{device}/health", get(fleet::health))
        .route("/teamwork/devices/{device}/{action}", post(device_action))
        .route(
            "/teamwork/devices/{device}/operations",
            get(list_operations),
        )
        .route(
            "/teamwork/devices/{device}/operations/{operation}",
            get(get_operation),
        )
        // The OData key form, `devices('{id}')/operations('{opId}')`, of the same operation.
        .route(
            "/teamwork/{device_key}/{operation_key}",
            get(get_operation_by_keys),
        )
}

fn upgrade_routes() -> Router<SimulatorState> {
    Router::new()
        .route(
            "/teams/{team}/installedApps/{installation}",
            get(get_installation),
        )
        .route(
            "/teams/{team}/installedApps/{installation}/upgrade",
            post(upgrade),
        )
        .route(
            "/chats/{chat}/installedApps/{installation}",
            get(get_installation),
        )
        .route(
            "/chats/{chat}/installedApps/{installation}/upgrade",
            post(upgrade),
        )
        .route(
            "/users/{user}/teamwork/installedApps/{installation}",
            get(get_installation),
        )
        .route(
            "/users/{user}/teamwork/installedApps/{installation}/upgrade",
            post(upgrade),
        )
}

/// Graph's answer to a path it has no resource for.
fn no_such_segment(segment: &str) -> Response {
    let message = if segment.is_empty() {
        "Resource not found for the segment.".to_owned()
    } else {
        format!("Resource not found for the segment '{segment}'.")
    };
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", &message)
}

/// Serves the simulator until the process ends.
pub async fn serve(listener: TcpListener, state: SimulatorState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

/// Runs `graphgate simulate-graph`.
pub async fn run(
    listen: SocketAddr,
    token_lifetime: Duration,
    faults: Faults,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    crate::telemetry::show(&format!(
        "Graph simulator on http://{addr}\n  GRAPH_BASE_URL=http://{addr}\n  GRAPH_TOKEN_URL=http://{addr}/simulated-tenant/oauth2/v2.0/token\n  \
         faults: curl -X PUT http://{addr}/_simulator/faults -H 'Content-Type: application/json' -d '{{\"throttle\":2,\"retryAfterSecs\":2.128}}'\n"
    ));
    let state = SimulatorState::new(token_lifetime, faults);
    state.seed_demo_fleet();
    serve(listener, state).await
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = json!({"error": {"code": code, "message": message, "innerError": {
        "request-id": request_id,
        "date": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
    }}});
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("request-id", v);
    }
    response
}

/// The length check, latency, faults and bearer-token checks, in that order, before any Graph
/// route.
async fn graph_gate(State(state): State<SimulatorState>, request: Request, next: Next) -> Response {
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

async fn device_action(
    State(state): State<SimulatorState>,
    Path((device, action)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Response {
    let operation_type = match action.as_str() {
        "updateSoftware" => "softwareUpdate",
        "restart" => "deviceRestart",
        "runDiagnostics" => "deviceDiagnostics",
        _ => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Resource not found for the segment.",
            );
        }
    };
    let mut update = None;
    if action == "updateSoftware" {
        let parsed: Option<Value> = serde_json::from_slice(&body).ok();
        let software_type = parsed
            .as_ref()
            .and_then(|b| b["softwareType"].as_str())
            .and_then(SoftwareType::parse);
        let version = parsed
            .as_ref()
            .and_then(|b| b["softwareVersion"].as_str())
            .filter(|v| !v.trim().is_empty());
        let (Some(kind), Some(version)) = (software_type, version) else {
            return graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Invalid softwareType or softwareVersion.",
            );
        };
        update = Some((kind, version.to_owned()));
    }
    if device.starts_with("unsupported") {
        return graph_error(StatusCode::NOT_FOUND, "UnknownError", "");
    }
    if fleet::is_missing(&device) {
        return graph_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The requested device was not found.",
        );
    }
    state.touch(&device);
    let mut inner = state.lock();
    let busy = inner
        .operations
        .values()
        .any(|op| op.device_id == device && !op.is_final());
    if busy {
        return graph_error(
            StatusCode::CONFLICT,
            "Conflict",
            "An operation is already queued for this device.",
        );
    }
    let id = uuid::Uuid::new_v4().to_string();
    inner.operations.insert(
        id.clone(),
        Operation {
            device_id: device.clone(),
            operation_type,
            update,
            created: OffsetDateTime::now_utc(),
            polls: 0,
        },
    );
    // Graph's docs show both forms of Location; software updates get the OData key form.
    let location = if action == "updateSoftware" {
        let quoted = device.replace('\'', "''");
        format!("/teamwork/devices('{quoted}')/operations('{id}')")
    } else {
        format!("/teamwork/devices/{device}/operations/{id}")
    };
    (StatusCode::ACCEPTED, [(header::LOCATION, location)]).into_response()
}

/// `GET /teamwork/devices('{id}')/operations('{opId}')`, keys quoted or not.
async fn get_operation_by_keys(
    state: State<SimulatorState>,
    Path((device_key, operation_key)): Path<(String, String)>,
) -> Response {
    let key = |segment: &str, name: &str| odata_key(segment, name).map(|k| k.replace("''", "'"));
    match (
        key(&device_key, "devices"),
        key(&operation_key, "operations"),
    ) {
        (Some(device), Some(operation)) => get_operation(state, Path((device, operation))).await,
        _ => no_such_segment(&device_key),
    }
}

async fn get_operation(
    State(state): State<SimulatorState>,
    Path((device, operation)): Path<(String, String)>,
) -> Response {
    let mut inner = state.lock();
    let Some(op) = inner
        .operations
        .get_mut(&operation)
        .filter(|op| op.device_id == device)
    else {
        return graph_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "The operation does not exist.",
        );
    };
    op.polls += 1;
    let installed = (op.polls == FINAL_POLL && op.status() == "succeeded")
        .then(|| op.update.clone())
        .flatten();
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default();
    let created = op.created.format(&Rfc3339).unwrap_or_default();
    let status = op.status();
    let mut body = json!({
        "id": operation,
        "operationType": op.operation_type,
        "status": status,
        "createdDateTime": created,
        "lastActionDateTime": now,
        "error": null,
    });
    if status != "queued" {
        body["startedDateTime"] = json!(created);
    }
    if op.is_final() {
        body["completedDateTime"] = json!(now);
    }
    if status == "failed" {
        body["error"] = json!({"code": "DeviceOffline", "message": "The device did not respond."});
    }
    drop(inner);
    if let Some((kind, version)) = installed {
        state.updated(&device, kind, version);
    }
    Json(body).into_response()
}

/// Lists a device's operations as they stand, without moving them on.
async fn list_operations(
    State(state): State<SimulatorState>,
    Path(device): Path<String>,
) -> Response {
    let inner = state.lock();
    let value: Vec<Value> = inner
        .operations
        .iter()
        .filter(|(_, op)| op.device_id == device)
        .map(|(id, op)| {
            json!({
                "id": id,
                "operationType": op.operation_type,
                "status": op.status(),
                "createdDateTime": op.created.format(&Rfc3339).unwrap_or_default(),
            })
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}

/// An installation's key in the simulator's memory: its path, less any `/upgrade`.
fn installation_key(uri: &axum::http::Uri) -> String {
    uri.path().trim_end_matches("/upgrade").to_owned()
}

/// `GET …/installedApps/{id}`: every installation exists, and runs version `1.0.{n}` after
/// `n` upgrades. With `$expand=teamsAppDefinition`, the definition is included, as in Graph.
async fn get_installation(State(state): State<SimulatorState>, uri: axum::http::Uri) -> Response {
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

async fn upgrade(
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

async fn get_faults(State(state): State<SimulatorState>) -> Json<Faults> {
    Json(state.lock().faults.clone())
}

async fn put_faults(
    State(state): State<SimulatorState>,
    Json(faults): Json<Faults>,
) -> Json<Faults> {
    state.set_faults(faults.clone());
    Json(faults)
}
