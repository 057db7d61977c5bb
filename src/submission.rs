//! Sending a recorded change to Graph and recording Graph's answer.
//!
//! The record is stored as `submitting` before Graph is called. If the process dies during
//! the call, or the answer cannot be stored, the record stays `submitting` until its lease
//! runs out, and the sweeper reconciles it: nothing Graph accepted is lost.

use time::OffsetDateTime;
use tokio::time::Instant;

use crate::change::{ChangeRecord, Status};
use crate::config::Timing;
use crate::graph::{ActionOutcome, GraphClient, GraphError};
use crate::store::{Store, StoreError};
use crate::telemetry::error_chain;

#[derive(Debug)]
pub enum SubmitFailure {
    /// The record could not be written, so Graph was not called.
    Store(StoreError),
    /// Graph did not carry out the change; `record` is as stored afterwards.
    Graph {
        record: Box<ChangeRecord>,
        error: GraphError,
    },
}

/// Stores `record` (status `submitting`), calls Graph, and stores what Graph answered.
pub async fn submit(
    graph: &GraphClient,
    store: &dyn Store,
    timing: &Timing,
    record: ChangeRecord,
    deadline: Instant,
) -> Result<ChangeRecord, SubmitFailure> {
    store.insert(&record).await.map_err(SubmitFailure::Store)?;
    let outcome = graph.execute(&record.action, deadline).await;
    let answered = answer(&record, &outcome, timing, OffsetDateTime::now_utc());
    let record = match answered {
        Some(next) => match store.update(&next).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(
                    change_id = %record.id, error = %error_chain(&e),
                    "could not store Graph's answer; the sweeper will reconcile the change"
                );
                next
            }
        },
        None => {
            tracing::warn!(change_id = %record.id, "Graph's answer is unknown; the sweeper will reconcile the change");
            record
        }
    };
    match outcome {
        Ok(_) => Ok(record),
        Err(error) => Err(SubmitFailure::Graph {
            record: Box::new(record),
            error,
        }),
    }
}

/// The record after Graph's answer, or `None` when Graph may or may not have acted.
fn answer(
    record: &ChangeRecord,
    outcome: &Result<ActionOutcome, GraphError>,
    timing: &Timing,
    now: OffsetDateTime,
) -> Option<ChangeRecord> {
    match outcome {
        Ok(taken) => Some(took(record, taken, now, timing.first_poll_after)),
        Err(e) if e.outcome_unknown() => None,
        Err(e) => {
            let status = match e {
                GraphError::Conflict(_) | GraphError::Refused(_) => Status::Rejected,
                _ => Status::Failed,
            };
            let mut next = record
                .moved_to(status, now)
                .expect("a submitting change may become rejected or failed");
            next.failure = Some(e.failure());
            next.graph_request_id = next.failure.as_ref().and_then(|f| f.request_id.clone());
            Some(next)
        }
    }
}

/// The record once Graph took the action: a device action is queued, with its operation
/// first polled `first_poll` later; an app upgrade is done. Used by the intake, and by the
/// sweeper when it resubmits.
pub(crate) fn took(
    record: &ChangeRecord,
    outcome: &ActionOutcome,
    now: OffsetDateTime,
    first_poll: std::time::Duration,
) -> ChangeRecord {
    let (status, request_id) = match outcome {
        ActionOutcome::Accepted { request_id, .. } => (Status::Queued, request_id),
        ActionOutcome::Completed { request_id } => (Status::Succeeded, request_id),
    };
    let mut next = record
        .moved_to(status, now)
        .expect("a submitting change may become queued or succeeded");
    next.graph_request_id = request_id.clone();
    if let ActionOutcome::Accepted { location, .. } = outcome {
        next.location = Some(location.clone());
        next.next_poll_at = Some(now + first_poll);
    }
    next
}
