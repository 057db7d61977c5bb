//! What the gate's refusals and a ticket system's failures tell the client: what the ticket
//! said, in named fields, and never the system's own words or graphgate's credentials.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::body::Problem;
use crate::change::FieldError;
use crate::tickets::{GateError, Refusal, TicketError};

/// How long a caller is asked to wait when the ticket system gave no `Retry-After`.
const RETRY_AFTER: Duration = Duration::from_secs(30);

pub(super) fn gate_problem(error: &GateError) -> Problem {
    match error {
        GateError::Refused {
            system,
            reference,
            refusal,
        } => refused(system, reference.as_str(), refusal)
            .with("ticketSystem", *system)
            .with("reference", reference.as_str()),
        GateError::Unread { system, error } => unread(error).with("ticketSystem", *system),
        GateError::Reference(detail) => Problem::invalid(
            "The change request is invalid",
            &[FieldError {
                field: "reference".into(),
                detail: detail.clone(),
            }],
        ),
    }
}

fn refused(system: &str, reference: &str, refusal: &Refusal) -> Problem {
    match refusal {
        Refusal::NotFound => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "ticket-not-found",
            "The change's ticket was not found",
            format!(
                "{system} has no ticket {reference} that graphgate's account can see, so nothing was sent to Graph"
            ),
        ),
        Refusal::NotApproved { approval, state } => {
            let said = match approval {
                Some(approval) => format!("its approval is {approval:?} and its state {state:?}"),
                None => format!("its status is {state:?}"),
            };
            let mut p = Problem::new(
                StatusCode::CONFLICT,
                "ticket-not-approved",
                "The change's ticket is not approved",
                format!("ticket {reference} does not let the change go ahead: {said}; nothing was sent to Graph"),
            )
            .with("state", state.as_str());
            if let Some(approval) = approval {
                p = p.with("approval", approval.as_str());
            }
            p
        }
        Refusal::OutsideWindow { start, end } => {
            let at = |t: &Option<time::OffsetDateTime>| t.and_then(|t| t.format(&Rfc3339).ok());
            Problem::new(
                StatusCode::CONFLICT,
                "ticket-outside-window",
                "The change is outside its ticket's planned window",
                format!(
                    "ticket {reference} plans the change from {} to {}; nothing was sent to Graph",
                    at(start).unwrap_or_else(|| "any time".into()),
                    at(end).unwrap_or_else(|| "any time".into()),
                ),
            )
            .with("window", json!({"start": at(start), "end": at(end)}))
        }
    }
}

fn unread(error: &TicketError) -> Problem {
    match error {
        TicketError::Unavailable { retry_after } => {
            let mut p = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ticket-unavailable",
                "The ticket system is unavailable",
                "graphgate could not read the change's ticket, so it did not act; retry later",
            );
            p.retry_after = Some(retry_after.unwrap_or(RETRY_AFTER));
            p
        }
        TicketError::SignIn(_) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "ticket-sign-in-refused",
            "The ticket system refused graphgate's sign-in",
            "the ticket system refused the credentials registered for this caller, so graphgate did not act; an administrator must fix the caller's ticket connection",
        ),
        TicketError::Status(_) | TicketError::Unreadable => Problem::new(
            StatusCode::BAD_GATEWAY,
            "ticket-error",
            "The ticket system's answer could not be used",
            "the ticket system answered in a way its API does not document, so graphgate did not act; what it answered is logged",
        ),
        TicketError::NotAllowed(_) => Problem::new(
            StatusCode::BAD_GATEWAY,
            "ticket-error",
            "graphgate may not call this ticket system",
            "the caller's ticket url is not one this deployment may call (in Lambda: https to a public address), so graphgate did not act",
        ),
    }
}
