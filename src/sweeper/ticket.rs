//! The gate, again, where the sweeper is about to send what the intake accepted: a
//! scheduled change when its window opens, a fleet's next children. A ticket withdrawn
//! meanwhile stops them; one that cannot be read holds them back, never lets them through.

use std::time::Duration;

use tokio::time::Instant;

use super::Sweeper;
use crate::change::ChangeRecord;
use crate::tickets::{GateError, TicketError};

/// What the caller's ticket says of a change now.
pub(super) enum Verdict {
    /// It may go ahead, or its caller is not gated.
    GoesAhead,
    /// It may not, in words.
    Withdrawn(String),
    /// The ticket could not be read: ask again after this long.
    Unknown(Duration),
}

/// How long a change waits for a ticket system that did not answer, unless it said.
const UNREAD_WAIT: Duration = Duration::from_secs(60);

impl Sweeper {
    pub(super) async fn ticket(&self, record: &ChangeRecord, deadline: Instant) -> Verdict {
        let registry = self.callers.current().await;
        let caller = registry.get(record.caller());
        let Some(connection) = caller.and_then(|caller| caller.gate()) else {
            // A caller an administrator took out of the registry can no longer act; one
            // whose gate was turned off acts as it now may.
            return if record.gated() && caller.is_none() {
                Verdict::Withdrawn(format!(
                    "its caller {:?} is no longer registered",
                    record.caller()
                ))
            } else {
                Verdict::GoesAhead
            };
        };
        let now = self.clock.now();
        match self
            .tickets
            .gate(connection, record.reference(), now, deadline)
            .await
        {
            Ok(()) => Verdict::GoesAhead,
            Err(GateError::Refused {
                reference, refusal, ..
            }) => Verdict::Withdrawn(refusal.words(reference.as_str())),
            Err(GateError::Reference(detail)) => {
                Verdict::Withdrawn(format!("the change's reference {detail}"))
            }
            Err(GateError::Unread {
                error: TicketError::Unavailable { retry_after },
                ..
            }) => {
                tracing::warn!(change_id = %record.id(), "the change's ticket system is unavailable; the change waits");
                Verdict::Unknown(retry_after.unwrap_or(UNREAD_WAIT))
            }
            // Signing in refused, or a URL the deployment may not call: it will not mend
            // itself, so it is an error for an administrator, and the change waits for them.
            Err(GateError::Unread { error, .. }) => {
                tracing::error!(change_id = %record.id(), error = %error, "the change's ticket cannot be read; the change waits");
                Verdict::Unknown(UNREAD_WAIT)
            }
        }
    }
}
