//! What stands before every route of a simulated ticket system: its latency and its faults.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::state::SimulatorState;
use super::ticket_faults::TicketSystem;

pub(super) async fn servicenow(
    State(state): State<SimulatorState>,
    request: Request,
    next: Next,
) -> Response {
    gate(TicketSystem::ServiceNow, state, request, next).await
}

pub(super) async fn jira(
    State(state): State<SimulatorState>,
    request: Request,
    next: Next,
) -> Response {
    gate(TicketSystem::Jira, state, request, next).await
}

async fn gate(
    system: TicketSystem,
    state: SimulatorState,
    request: Request,
    next: Next,
) -> Response {
    let (latency, unavailable) = {
        let mut inner = state.lock();
        let faults = inner.tickets.faults.of(system);
        let unavailable = faults.unavailable > 0;
        faults.unavailable = faults.unavailable.saturating_sub(1);
        (Duration::from_millis(faults.latency_ms), unavailable)
    };
    tokio::time::sleep(latency).await;
    if unavailable {
        // Both answer an outage from their front door, with a page rather than their API's
        // JSON.
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1></body></html>",
        )
            .into_response();
    }
    next.run(request).await
}
