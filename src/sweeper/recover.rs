//! Reconciling a change left in `submitting` past its lease: its submitter died during the
//! Graph call, or could not store the answer. Look for the operation Graph started first;
//! resubmit at most once.

use tokio::time::Instant;
use url::Url;

use super::ticket::Verdict;
use super::{Sweeper, VisitError};
use crate::change::{
    Action, ActionOutcome, ChangeRecord, DeviceOperation, FailureReason, GraphFailure,
    InvalidTransition, OperationId,
};
use crate::graph::{GraphError, operation_type};
use crate::metrics::{self, Dimension, Metric};
use crate::store::StoreError;
use crate::telemetry::error_chain;

/// How far Graph's clock may run behind graphgate's: an operation Graph says it created more
/// than this before the change was recorded cannot be the change's.
const CLOCK_SKEW: time::Duration = time::Duration::seconds(5);

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
        match self.candidates(record, deadline, started_by_it).await {
            Ok(found) => {
                if let Some((location, operation)) = self.unowned(record, found).await? {
                    return Ok(self.adopt(record, location, &operation)?);
                }
            }
            Err(e) => return Ok(self.after_list_error(record, e, None)?),
        }
        match self.upgrade_took_effect(record, deadline).await {
            Ok(Some(upgraded)) => return Ok(upgraded),
            Ok(None) => {}
            // Graph refuses to show the installation: the upgrade call will meet the same
            // refusal, and the change will end with Graph's words.
            Err(
                e @ (GraphError::Refused(_) | GraphError::Permission(_) | GraphError::Retired(_)),
            ) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "Graph refused to show the app installation; resubmitting")
            }
            // Anything else may pass: send nothing until graphgate can tell.
            Err(e) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "could not read the app installation; will try again");
                return Ok(record.retry_later(None, self.clock.now(), &self.pacing)?);
            }
        }
        if record.resubmitted() {
            return Ok(record.submission_lost(self.clock.now())?);
        }
        // Graph never had it: before it is sent after all, its ticket must still let it.
        match self.ticket(record, deadline).await {
            Verdict::GoesAhead => {}
            Verdict::Withdrawn(why) => {
                tracing::warn!(change_id = %record.id(), why, "the change's ticket no longer lets it go ahead; it is not resubmitted");
                return Ok(record.ticket_withdrawn(self.clock.now(), &why)?);
            }
            Verdict::Unknown(wait) => {
                return Ok(record.retry_later(Some(wait), self.clock.now(), &self.pacing)?);
            }
        }
        // Stored before the call: a sweeper that dies after Graph answers must not resubmit.
        let marked = self.store.update(&record.resubmitting()?).await?;
        let answer = self.graph.execute(marked.action(), deadline).await;
        let now = self.clock.now();
        if let Ok(ActionOutcome::Accepted { location, .. }) = &answer
            && let Some(operation) = self.graph.base().operation_id(location)
            && let Err(e) = self.store.own_operation(&operation, &marked).await
        {
            tracing::warn!(change_id = %marked.id(), error = %error_chain(&e), "could not claim the resubmitted change's operation");
        }
        Ok(match answer {
            Ok(taken) => marked.submitted(&taken, now, &self.pacing)?,
            // Graph has an operation queued for the device: the one the dead submitter started.
            Err(GraphError::Conflict(failure)) => {
                let queued = |op: &DeviceOperation| !op.status.is_terminal();
                match self.candidates(&marked, deadline, queued).await {
                    Ok(found) => match self.unowned(&marked, found).await? {
                        Some((location, operation)) => self.adopt(&marked, location, &operation)?,
                        None => marked.failed(failure, now)?,
                    },
                    Err(e) => self.after_list_error(&marked, e, Some(failure))?,
                }
            }
            Err(e) if e.outcome_unknown() => marked.retry_later(None, now, &self.pacing)?,
            Err(e @ GraphError::Refused(_)) => {
                // Counted as the intake counts Graph's refusal of a change it sent.
                metrics::count(
                    Metric::ChangesRejected,
                    Some(Dimension::Reason("graph-refused")),
                );
                marked.rejected(e.failure(), now)?
            }
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

    /// For an app upgrade noted at intake: the change, `succeeded`, when the installation no
    /// longer runs the definition it ran then, so the lost call took effect; `None` when it
    /// still does, or when nothing was noted (then it can only be resubmitted).
    async fn upgrade_took_effect(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> Result<Option<ChangeRecord>, GraphError> {
        let (
            Action::UpgradeApp {
                scope,
                installation_id,
                ..
            },
            Some(before),
        ) = (record.action(), record.installed_before())
        else {
            return Ok(None);
        };
        let now_installed = self
            .graph
            .installed_definition(scope, installation_id, deadline)
            .await?;
        if &now_installed == before {
            return Ok(None);
        }
        tracing::info!(
            change_id = %record.id(),
            before = %before.id, now = %now_installed.id,
            "the installation moved on since the change was recorded: the upgrade took effect"
        );
        Ok(record
            .found_upgraded(&now_installed, self.clock.now())
            .inspect_err(|e| tracing::error!(change_id = %record.id(), error = %e, "could not mark the change upgraded"))
            .ok())
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
                        FailureReason::UnusableOperationList,
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

    /// The operations of the change's type on its device that `fits`, earliest first.
    async fn candidates(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
        fits: impl Fn(&DeviceOperation) -> bool,
    ) -> Result<Vec<DeviceOperation>, GraphError> {
        let action = record.action();
        let (Some(device), Some(kind)) = (action.device_id(), operation_type(action)) else {
            return Ok(Vec::new());
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
        Ok(candidates)
    }

    /// The first of `candidates` that no other change holds, claimed for this change, and its
    /// URL.
    async fn unowned(
        &self,
        record: &ChangeRecord,
        candidates: Vec<DeviceOperation>,
    ) -> Result<Option<(Url, DeviceOperation)>, StoreError> {
        let Some(device) = record.action().device_id() else {
            return Ok(None);
        };
        for op in candidates {
            let Some(id) = op.id.clone().and_then(|id| OperationId::parse(id).ok()) else {
                continue;
            };
            let owner = self.store.own_operation(&id, record).await?;
            if &owner == record.id() {
                return Ok(Some((self.graph.base().operation_url(device, &id), op)));
            }
            tracing::info!(change_id = %record.id(), operation = %id, owner = %owner, "not adopting an operation another change started");
        }
        Ok(None)
    }
}
