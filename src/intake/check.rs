//! `GET /v1/check`: the preflight check (`graphgate check`) for a deployed graphgate, to any
//! registered caller. It answers 200 whatever it finds; `ready` says whether anything can be
//! done with Graph, and `tickets` whether each caller's ticket system can be reached.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use tokio::time::Instant;

use super::Intake;
use super::extract::{Authenticated, Deadline};
use crate::callers::Caller;
use crate::graph::{GraphClient, Preflight};
use crate::tickets::{TicketCheck, TicketClient};

/// The preflight check's findings: Graph's, and each ticket connection's.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Readiness {
    #[serde(flatten)]
    pub graph: Preflight,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tickets: Vec<TicketCheck>,
}

impl Readiness {
    /// Checks Graph, and each of `callers` with a ticket connection, at once.
    pub async fn check<'a>(
        graph: &GraphClient,
        tickets: &TicketClient,
        callers: impl IntoIterator<Item = &'a Caller>,
        deadline: Instant,
    ) -> Self {
        let connections = callers
            .into_iter()
            .filter_map(|caller| Some((caller.name(), caller.ticket()?)));
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (graph, tickets) = tokio::join!(
            graph.preflight(deadline),
            tickets.check(connections, timeout)
        );
        Readiness { graph, tickets }
    }

    /// The findings as an admin reads them in a terminal.
    pub fn to_text(&self) -> String {
        let mut out = self.graph.to_text();
        if self.tickets.is_empty() {
            return out;
        }
        out += "\nticket systems:\n";
        for check in &self.tickets {
            let state = match (&check.problem, check.gate) {
                (None, true) => "ok: the gate can read its tickets".to_owned(),
                (None, false) => "ok".to_owned(),
                (Some(problem), true) => {
                    format!("FAILED: {problem}; every change of this caller will be refused")
                }
                (Some(problem), false) => format!("FAILED: {problem}"),
            };
            out += &format!(
                "  {} ({} at {}): {state}\n",
                check.caller, check.system, check.url
            );
        }
        out
    }
}

/// A caller sees its own ticket connection, not the others' (their systems and URLs are
/// not its business), and cannot make graphgate sign in to them.
pub async fn show(
    State(intake): State<Intake>,
    Authenticated(caller): Authenticated,
    Deadline(deadline): Deadline,
) -> Json<Readiness> {
    Json(Readiness::check(&intake.graph, &intake.tickets, [caller.as_ref()], deadline).await)
}
