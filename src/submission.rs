//! Sending a change recorded as `submitting` to Graph, and what Graph's answer makes of it.
//! The intake sends a change made now; the sweeper sends a scheduled change once its window
//! opens. Both record the change as `submitting` before Graph is called, so a process that
//! dies during the call, or cannot store the answer, leaves it for the sweeper to reconcile.

use tokio::time::Instant;
use url::Url;

use crate::change::{Action, ActionOutcome, ChangeRecord, FailureReason, Pacing, Status};
use crate::clock::Clock;
use crate::graph::{GraphClient, GraphError};
use crate::metrics::{self, Dimension, Metric};
use crate::store::Store;
use crate::telemetry::error_chain;

/// The clients and rules a submission needs.
pub struct Submission<'a> {
    pub graph: &'a GraphClient,
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub pacing: &'a Pacing,
}

impl Submission<'_> {
    /// For an app upgrade, notes the definition the installation runs before the upgrade is
    /// sent. An upgrade starts no operation to look up, so this is how recovery tells whether
    /// a call whose answer was lost took effect. Best effort: if the read fails, the upgrade
    /// goes ahead, and a lost answer is resubmitted as before.
    pub async fn note_installed(&self, record: ChangeRecord, deadline: Instant) -> ChangeRecord {
        let Action::UpgradeApp {
            scope,
            installation_id,
            ..
        } = record.action()
        else {
            return record;
        };
        match self
            .graph
            .installed_definition(scope, installation_id, deadline)
            .await
        {
            Ok(definition) => record.with_installed_before(definition),
            Err(e) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "could not read the app installation before upgrading it");
                record
            }
        }
    }

    /// Sends `record`, stored as `submitting`, to Graph. Answers Graph's outcome, and the
    /// record that outcome makes: `None` when Graph may or may not have acted.
    pub async fn send(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> (Result<ActionOutcome, GraphError>, Option<ChangeRecord>) {
        let outcome = self.graph.execute(record.action(), deadline).await;
        if let Ok(ActionOutcome::Accepted { location, .. }) = &outcome {
            self.own_operation(record, location).await;
        }
        let next = self.answer(record, &outcome);
        (outcome, next)
    }

    /// Claims the operation Graph started for this change, before the change records it, so
    /// that recovering another change never adopts it (should this process die in between,
    /// this change's own recovery finds its claim). Best effort: a store failure here is
    /// logged, and the change goes on.
    async fn own_operation(&self, record: &ChangeRecord, location: &Url) {
        let Some(operation) = self.graph.base().operation_id(location) else {
            return;
        };
        if let Err(e) = self.store.own_operation(&operation, record).await {
            tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "could not claim the operation for the change");
        }
    }

    /// The record after Graph's answer, or `None` when Graph may or may not have acted.
    fn answer(
        &self,
        record: &ChangeRecord,
        outcome: &Result<ActionOutcome, GraphError>,
    ) -> Option<ChangeRecord> {
        let now = self.clock.now();
        let next = match outcome {
            Ok(taken) => record.submitted(taken, now, self.pacing),
            Err(e) if e.outcome_unknown() => return None,
            Err(e @ (GraphError::Conflict(_) | GraphError::Refused(_))) => {
                record.rejected(e.failure(), now)
            }
            Err(e) => record.submission_failed(e.failure(), now),
        };
        // The record was just stored as `submitting`, so every answer applies; were it not
        // to, the sweeper would reconcile the change as for an unknown answer.
        next.inspect_err(|e| tracing::error!(change_id = %record.id(), error = %e, "Graph's answer does not apply to the change"))
            .ok()
    }
}

/// Counts a change whose end was just stored, by its action, if its status is an end that has
/// a metric. Whoever stores that end counts it: the intake for a change Graph completed at
/// once or its caller cancelled, the sweeper for the rest.
pub fn count_end(stored: &ChangeRecord) {
    // A fleet parent's children are counted, each as a change; the parent is not. A change
    // its caller cancelled, or one Graph never took (a fleet sends its device again), did not
    // fail.
    let cancelled_here = stored.failure().is_some_and(|f| {
        matches!(
            f.reason(),
            Some(FailureReason::Cancelled | FailureReason::NotTaken)
        )
    });
    if stored.fleet().is_some() || cancelled_here {
        return;
    }
    // A change Graph refused is counted where the refusal is answered, with the other
    // refusals.
    let metric = match stored.status() {
        Status::Succeeded => Metric::ChangesSucceeded,
        Status::Failed | Status::Cancelled | Status::Expired => Metric::ChangesFailed,
        Status::TimedOut => Metric::ChangesTimedOut,
        Status::Scheduled
        | Status::Submitting
        | Status::Queued
        | Status::Running
        | Status::Rejected => return,
    };
    metrics::count(
        metric,
        Some(Dimension::Action(stored.action().kind().as_str())),
    );
}
