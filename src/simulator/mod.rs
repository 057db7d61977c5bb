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
//! Operations on devices whose ID starts with `failing` end `failed`.
//!
//! Beside Graph, it plays the ticket systems graphgate reads change tickets from and writes
//! results into: a ServiceNow instance (OAuth token endpoint, Table API on `change_request`)
//! and a Jira Cloud site (REST API v3 issues, comments, transitions), under their own paths.
//!
//! This file wires the routes. The checks before every Graph route are in `gate.rs`, the
//! faults in `faults.rs`, the token endpoint in `login.rs`, device actions and their
//! operations in `device_actions.rs`, app installations in `installations.rs`, Teams devices,
//! their health and software versions in `fleet.rs` and `device.rs`, and `$batch` in
//! `batch.rs`; what the simulator remembers is in `state.rs`. ServiceNow is in `servicenow.rs`
//! (its records in `change_request.rs`, its queries in `table_query.rs`), Jira in `jira.rs`
//! (its issues in `jira_issue.rs`, comment bodies in `adf.rs`); both systems' tickets are in
//! `tickets.rs`, their faults in `ticket_faults.rs` and `ticket_gate.rs`, what they read from
//! a request alike in `ticket_http.rs`, and the `/_simulator/tickets` routes in
//! `ticket_control.rs`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::middleware;
use axum::routing::{any, get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;

mod adf;
mod batch;
mod change_request;
mod device;
mod device_actions;
mod faults;
mod fleet;
mod gate;
mod graph_errors;
mod installations;
mod jira;
mod jira_issue;
mod login;
mod operation;
mod servicenow;
mod state;
mod table_query;
mod ticket_control;
mod ticket_faults;
mod ticket_gate;
mod ticket_http;
mod tickets;

pub use change_request::{Approval, ChangeState, CloseCode, GlideDateTime, SeedChange};
pub use device::{SeedDevice, Versions};
pub use faults::Faults;
pub use jira_issue::IssueStatus;
pub use state::SimulatorState;
pub use ticket_faults::{SystemFaults, TicketFaults};
pub use tickets::{
    ChangeUpdate, ChangeView, CommentView, IssueUpdate, IssueView, JIRA_API_TOKEN, JIRA_EMAIL,
    NoteView, SERVICENOW_CLIENT_ID, SERVICENOW_CLIENT_SECRET, SERVICENOW_PASSWORD, SERVICENOW_USER,
    SeedError, SeedIssue, TicketSeeds, TicketsView,
};

use graph_errors::no_such_segment;

pub fn router(state: SimulatorState) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(login::token))
        .route("/_simulator/faults", get(get_faults).put(put_faults))
        .route("/_simulator/devices", axum::routing::put(fleet::seed))
        .merge(ticket_control::routes())
        .merge(servicenow::routes().layer(middleware::from_fn_with_state(
            state.clone(),
            ticket_gate::servicenow,
        )))
        .merge(jira::routes().layer(middleware::from_fn_with_state(
            state.clone(),
            ticket_gate::jira,
        )))
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
    let gate = middleware::from_fn_with_state(state.clone(), gate::graph_gate);
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
        .route(
            "/teamwork/devices/{device}/{action}",
            post(device_actions::device_action),
        )
        .route(
            "/teamwork/devices/{device}/operations",
            get(device_actions::list_operations),
        )
        .route(
            "/teamwork/devices/{device}/operations/{operation}",
            get(device_actions::get_operation),
        )
        // The OData key form, `devices('{id}')/operations('{opId}')`, of the same operation.
        .route(
            "/teamwork/{device_key}/{operation_key}",
            get(device_actions::get_operation_by_keys),
        )
}

fn upgrade_routes() -> Router<SimulatorState> {
    Router::new()
        .route(
            "/teams/{team}/installedApps/{installation}",
            get(installations::get_installation),
        )
        .route(
            "/teams/{team}/installedApps/{installation}/upgrade",
            post(installations::upgrade),
        )
        .route(
            "/chats/{chat}/installedApps/{installation}",
            get(installations::get_installation),
        )
        .route(
            "/chats/{chat}/installedApps/{installation}/upgrade",
            post(installations::upgrade),
        )
        .route(
            "/users/{user}/teamwork/installedApps/{installation}",
            get(installations::get_installation),
        )
        .route(
            "/users/{user}/teamwork/installedApps/{installation}/upgrade",
            post(installations::upgrade),
        )
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
    state.seed_demo_tickets();
    serve(listener, state).await
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
