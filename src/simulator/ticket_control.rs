//! The simulator's control of its ticket systems, for tests and demos: seeding tickets,
//! changing one behind graphgate's back (an approval withdrawn mid-fleet), reading every
//! ticket with what graphgate wrote into it, and setting the systems' faults.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use axum::{Json, Router};
use serde_json::json;

use super::state::SimulatorState;
use super::ticket_faults::TicketFaults;
use super::tickets::{
    ChangeUpdate, ChangeView, IssueUpdate, IssueView, SeedError, TicketSeeds, Tickets, TicketsView,
};

pub(super) fn routes() -> Router<SimulatorState> {
    Router::new()
        .route("/_simulator/tickets", get(list).put(seed))
        .route(
            "/_simulator/tickets/faults",
            get(get_faults).put(put_faults),
        )
        .route(
            "/_simulator/tickets/servicenow/{number}",
            patch(update_change),
        )
        .route("/_simulator/tickets/jira/{key}", patch(update_issue))
}

impl SimulatorState {
    /// Adds tickets, or replaces those with the same number or key.
    pub fn add_tickets(&self, seeds: TicketSeeds) -> Result<(), SeedError> {
        self.lock().tickets.add(seeds)
    }

    /// The demo tickets (see [`Tickets::demo`]), their windows around now.
    pub fn seed_demo_tickets(&self) {
        let seeds = Tickets::demo(time::OffsetDateTime::now_utc());
        self.add_tickets(seeds)
            .expect("the demo tickets are well formed");
    }

    /// Every ticket, with the work notes and comments it received, oldest first.
    pub fn tickets(&self) -> TicketsView {
        self.lock().tickets.view()
    }

    /// Changes a ServiceNow change request by number; `None` if there is none.
    pub fn update_change(&self, number: &str, update: ChangeUpdate) -> Option<ChangeView> {
        self.lock().tickets.update_change(number, update)
    }

    /// Changes a Jira issue's status by key; `None` if there is none.
    pub fn update_issue(&self, key: &str, update: IssueUpdate) -> Option<IssueView> {
        self.lock().tickets.update_issue(key, update)
    }

    pub fn set_ticket_faults(&self, faults: TicketFaults) {
        self.lock().tickets.faults = faults;
    }

    /// The ticket systems' faults still to be applied.
    pub fn ticket_faults(&self) -> TicketFaults {
        self.lock().tickets.faults.clone()
    }
}

fn no_ticket(which: &str) -> Response {
    let body = json!({"error": format!("the simulator has no ticket {which}")});
    (StatusCode::NOT_FOUND, Json(body)).into_response()
}

/// `GET /_simulator/tickets`.
async fn list(State(state): State<SimulatorState>) -> Json<TicketsView> {
    Json(state.tickets())
}

/// `PUT /_simulator/tickets`: seeds tickets ([`TicketSeeds`]).
async fn seed(State(state): State<SimulatorState>, Json(seeds): Json<TicketSeeds>) -> Response {
    match state.add_tickets(seeds) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let body = json!({"error": e.to_string()});
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
    }
}

/// `PATCH /_simulator/tickets/servicenow/{number}`.
async fn update_change(
    State(state): State<SimulatorState>,
    Path(number): Path<String>,
    Json(update): Json<ChangeUpdate>,
) -> Response {
    match state.update_change(&number, update) {
        Some(view) => Json(view).into_response(),
        None => no_ticket(&number),
    }
}

/// `PATCH /_simulator/tickets/jira/{key}`.
async fn update_issue(
    State(state): State<SimulatorState>,
    Path(key): Path<String>,
    Json(update): Json<IssueUpdate>,
) -> Response {
    match state.update_issue(&key, update) {
        Some(view) => Json(view).into_response(),
        None => no_ticket(&key),
    }
}

async fn get_faults(State(state): State<SimulatorState>) -> Json<TicketFaults> {
    Json(state.ticket_faults())
}

async fn put_faults(
    State(state): State<SimulatorState>,
    Json(faults): Json<TicketFaults>,
) -> Json<TicketFaults> {
    state.set_ticket_faults(faults.clone());
    Json(faults)
}
