//! Reconciling a change left in `submitting` past its lease: its submitter died during the
//! Graph call, or could not store the answer. Look for the operation Graph started first;
//! resubmit at most once.

use tokio::time::Instant;
use url::Url;

use super::{Sweeper, VisitError};
use crate::change::{ChangeRecord, DeviceOperation, GraphFailure, InvalidTransition, OperationId};
use crate::graph::{GraphError, operation_type};
use crate::telemetry::error_chain;

/// How far a change's own creation may precede, by Graph's clock, the operation it started.
const CLOCK_SKEW: time::Duration = time::Duration::seconds(30);

impl Sweeper {
    pub(super) async fn recover(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, VisitError> {
        tracing::warn!(change_id = %record.id(), resubmitted = record.resubmitted(), "recovering a change stuck in submitting");
        if let Ok(timed_out) = record.timed_out(self.clock.now(), &self.pacing) {
            return Ok(timed_out);
        }
        let created = record.created_at();
        let started_by_it = |op: &DeviceOperation| {
            op.times
                .created
                .is_some_and(|at| at.checked_add(CLOCK_SKEW).is_none_or(|at| at >= created))
        };
        match self.find_operation(record, deadline, started_by_it).await {
            Ok(Some((location, operation))) => {
                return Ok(self.adopt(record, location, &operation)?);
            }
            Ok(None) => {}
            Err(e) => return Ok(self.after_list_error(record, e, None)?),
        }
        if record.resubmitted() {
            return Ok(record.submission_lost(self.clock.now())?);
        }
        // Stored before the call: a sweeper that dies after Graph answers must not resubmit.
        let marked = self.store.update(&record.resubmitting()?).await?;
        let answer = self.graph.execute(marked.action(), deadline).await;
        let now = self.clock.now();
        Ok(match answer {
            Ok(taken) => marked.submitted(&taken, now, &self.pacing)?,
            // Graph has an operation queued for the device: the one the dead submitter started.
            Err(GraphError::Conflict(failure)) => {
                let queued = |op: &DeviceOperation| !op.status.is_terminal();
                match self.find_operation(&marked, deadline, queued).await {
                    Ok(Some((location, operation))) => self.adopt(&marked, location, &operation)?,
                    Ok(None) => marked.failed(failure, now)?,
                    Err(e) => self.after_list_error(&marked, e, Some(failure))?,
                }
            }
            Err(e) if e.outcome_unknown() => marked.retry_later(None, now, &self.pacing)?,
            Err(e @ GraphError::Refused(_)) => marked.rejected(e.failure(), now)?,
            Err(
                e @ (GraphError::Permission(_) | GraphError::Server(_) | GraphError::Retired(_)),
            ) => marked.submission_failed(e.failure(), now)?,
            // Graph did not take it (throttled, unreachable, no token): it may be sent again.
            Err(e) => {
                tracing::warn!(change_id = %marked.id(), error = %error_chain(&e), "resubmission not taken; will try again");
                marked.resubmission_not_taken(now, &self.pacing)?
            }
        })
    }

    fn adopt(
        &self,
        record: &ChangeRecord,
        location: Url,
        operation: &DeviceOperation,
    ) -> Result<ChangeRecord, InvalidTransition> {
        tracing::info!(change_id = %record.id(), operation = %location, "adopted the operation Graph lists for the change");
        record.adopted(location, operation, self.clock.now(), &self.pacing)
    }

    /// A failed operation list: Graph's refusal, or a list graphgate cannot follow, ends
    /// recovery; anything else is tried again (the operation timeout bounds how long).
    fn after_list_error(
        &self,
        record: &ChangeRecord,
        error: GraphError,
        conflict: Option<GraphFailure>,
    ) -> Result<ChangeRecord, InvalidTransition> {
        let now = self.clock.now();
        match error {
            GraphError::Permission(f) | GraphError::Refused(f) => {
                record.failed(conflict.unwrap_or(f), now)
            }
            e @ GraphError::Retired(_) => record.failed(e.failure(), now),
            // Only an `@odata.nextLink` can be unusable here: graphgate builds the list's URL.
            GraphError::Location(e) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "stopped reading the device's operation list");
                record.failed(
                    GraphFailure::graphgate(
                        "unusableOperationList",
                        "Graph's list of the device's operations continued outside the Graph origin, so graphgate could not tell whether Graph started this change; check the device before asking again",
                    ),
                    now,
                )
            }
            e => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "could not list the device's operations; will try again");
                record.retry_later(None, now, &self.pacing)
            }
        }
    }

    /// The earliest operation of the change's type on its device that `fits`, and its URL.
    async fn find_operation(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
        fits: impl Fn(&DeviceOperation) -> bool,
    ) -> Result<Option<(Url, DeviceOperation)>, GraphError> {
        let action = record.action();
        let (Some(device), Some(kind)) = (action.device_id(), operation_type(action)) else {
            return Ok(None);
        };
        let mut candidates: Vec<DeviceOperation> = self
            .graph
            .list_operations(device, deadline)
            .await?
            .into_iter()
            .filter(|op| {
                op.operation_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .filter(|op| fits(op))
            .collect();
        candidates.sort_by_key(|op| op.times.created);
        Ok(candidates.into_iter().find_map(|op| {
            let id = OperationId::parse(op.id.clone()?).ok()?;
            Some((self.graph.base().operation_url(device, &id), op))
        }))
    }
}
