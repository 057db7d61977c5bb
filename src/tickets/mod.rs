//! Ticket systems: ServiceNow, Jira and PagerDuty, where a caller's changes are approved and
//! where their results are written. A caller's `ticket` connection (`connection.rs`) says
//! which system holds its tickets; the gate reads the change's ticket (`servicenow.rs`,
//! `jira.rs`) and judges it (`verdict.rs`) before graphgate acts.

mod client;
mod connection;
mod jira;
mod reference;
mod servicenow;
mod verdict;

use std::time::Duration;

use reqwest::StatusCode;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::time::Instant;

pub use client::TicketClient;
pub use connection::{Connection, ConnectionError, System, TicketEntry};
pub use reference::TicketRef;
pub use verdict::{Refusal, Ticket};

/// Why a ticket system's answer is not known. No variant holds a credential or the
/// system's own words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// It did not answer in time, or answered that it cannot now (5xx, 429).
    #[error("the ticket system is unavailable")]
    Unavailable { retry_after: Option<Duration> },
    /// It refused graphgate's sign-in, or the account's access (401, 403).
    #[error("the ticket system refused graphgate's sign-in ({0})")]
    SignIn(StatusCode),
    /// It refused the request for another reason.
    #[error("the ticket system answered {0}")]
    Status(StatusCode),
    #[error("the ticket system's answer is not what its API documents")]
    Unreadable,
    /// The deployment may not call the connection's URL.
    #[error("{0}")]
    NotAllowed(String),
}

/// Why the gate stops a change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    /// The change names no ticket, or nothing that can name one in the caller's system: the
    /// words complete a sentence that begins with `reference`.
    #[error("reference {0}")]
    Reference(String),
    #[error("the ticket does not let the change go ahead")]
    Refused {
        system: &'static str,
        reference: TicketRef,
        refusal: Refusal,
    },
    #[error("the ticket could not be read")]
    Unread {
        system: &'static str,
        #[source]
        error: TicketError,
    },
}

/// The longest one read of a ticket may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

impl TicketClient {
    /// The ticket `reference` names in the connection's system, if there is one.
    pub async fn read(
        &self,
        connection: &Connection,
        reference: &TicketRef,
        timeout: Duration,
    ) -> Result<Option<Ticket>, TicketError> {
        let timeout = timeout.min(READ_TIMEOUT);
        match &connection.system {
            System::ServiceNow { base, auth, .. } => {
                servicenow::read(self, base, auth, reference, timeout).await
            }
            System::Jira {
                base,
                user,
                api_token,
                ..
            } => jira::read(self, base, user, api_token, reference, timeout).await,
            // PagerDuty has no approvals; the connection refuses `gate` for it.
            System::PagerDuty { .. } => Err(TicketError::Status(StatusCode::NOT_IMPLEMENTED)),
        }
    }

    /// Whether the ticket `reference` names lets a change run at `at`: read by `deadline`
    /// (signing in included), then judged.
    pub async fn gate(
        &self,
        connection: &Connection,
        reference: Option<&str>,
        at: OffsetDateTime,
        deadline: Instant,
    ) -> Result<(), GateError> {
        let system = connection.system.name();
        let reference = match reference {
            None => {
                return Err(GateError::Reference(format!(
                    "is required: this caller acts only on an approved ticket; name it, a {}",
                    TicketRef::what(&connection.system)
                )));
            }
            Some(raw) => TicketRef::parse(&connection.system, raw).map_err(GateError::Reference)?,
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout_at(deadline, self.read(connection, &reference, timeout));
        let ticket = match read.await {
            Ok(read) => read,
            Err(_) => Err(TicketError::Unavailable { retry_after: None }),
        }
        .map_err(|error| GateError::Unread { system, error })?;
        verdict::judge(connection, ticket.as_ref(), at).map_err(|refusal| GateError::Refused {
            system,
            reference: reference.clone(),
            refusal,
        })
    }
}

/// What the preflight check found of one caller's ticket connection. Holds no credential.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketCheck {
    pub caller: String,
    pub system: &'static str,
    pub url: String,
    /// Whether graphgate signed in and read what it reads (ServiceNow: one change request;
    /// Jira: its own account).
    pub reached: bool,
    /// Why not, in graphgate's words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// Whether the gate is on, and so whether it can work.
    pub gate: bool,
}

impl TicketClient {
    /// Signs in to `connection`'s system and reads one record, as the preflight check does.
    pub async fn probe(
        &self,
        connection: &Connection,
        timeout: Duration,
    ) -> Result<(), TicketError> {
        let timeout = timeout.min(READ_TIMEOUT);
        match &connection.system {
            System::ServiceNow { base, auth, .. } => {
                servicenow::probe(self, base, auth, timeout).await
            }
            System::Jira {
                base,
                user,
                api_token,
                ..
            } => jira::probe(self, base, user, api_token, timeout).await,
            System::PagerDuty { .. } => Err(TicketError::Status(StatusCode::NOT_IMPLEMENTED)),
        }
    }

    /// The preflight check of each caller's ticket connection, in the registry's order.
    pub async fn check<'a>(
        &self,
        connections: impl IntoIterator<Item = (&'a str, &'a Connection)>,
        timeout: Duration,
    ) -> Vec<TicketCheck> {
        let checks = connections
            .into_iter()
            .map(|(caller, connection)| async move {
                let probed = self.probe(connection, timeout).await;
                TicketCheck {
                    caller: caller.to_owned(),
                    system: connection.system.name(),
                    url: connection.system.base().url().to_string(),
                    reached: probed.is_ok(),
                    problem: probed.err().map(|e| e.to_string()),
                    gate: connection.gate,
                }
            });
        futures::future::join_all(checks).await
    }
}
