//! Sending a recorded change to Graph and recording Graph's answer.
//!
//! The record is stored as `submitting` before Graph is called. If the process dies during
//! the call, or the answer cannot be stored, the record stays `submitting` until its lease
//! runs out, and the sweeper reconciles it: nothing Graph accepted is lost.

use tokio::time::Instant;

use super::{ApiError, Intake};
use crate::change::{Action, ActionOutcome, ChangeRecord};
use crate::graph::GraphError;
use crate::metrics;
use crate::store::StoreError;
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

impl From<SubmitFailure> for ApiError {
    fn from(failure: SubmitFailure) -> Self {
        match failure {
            SubmitFailure::Store(e) => ApiError::Store(e),
            SubmitFailure::Graph { record, error } => ApiError::Graph {
                change_id: record.id().clone(),
                action: Box::new(record.action().clone()),
                source: error,
            },
        }
    }
}

/// Stores `record` (status `submitting`), calls Graph, and stores what Graph answered.
pub async fn submit(
    intake: &Intake,
    record: ChangeRecord,
    deadline: Instant,
) -> Result<ChangeRecord, SubmitFailure> {
    tracing::info!(
        change_id = %record.id(), caller = record.caller(), action = %record.action().kind(),
        reference = record.reference().unwrap_or("-"),
        "submitting change"
    );
    let record = note_installed(intake, record, deadline).await;
    intake
        .store
        .insert(&record)
        .await
        .map_err(SubmitFailure::Store)?;
    let outcome = intake.graph.execute(record.action(), deadline).await;
    if let Ok(ActionOutcome::Accepted { location, .. }) = &outcome {
        own_operation(intake, &record, location).await;
    }
    let record = match answer(intake, &record, &outcome) {
        Some(next) => match intake.store.update(&next).await {
            Ok(stored) => {
                if let Some((metric, action)) = stored.end_metric() {
                    metrics::count(metric, Some(action));
                }
                stored
            }
            Err(e) => {
                tracing::error!(
                    change_id = %record.id(), error = %error_chain(&e),
                    "could not store Graph's answer; the sweeper will reconcile the change"
                );
                next
            }
        },
        None => {
            tracing::warn!(change_id = %record.id(), "Graph's answer is unknown; the sweeper will reconcile the change");
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

/// For an app upgrade, notes the definition the installation runs before the upgrade is
/// sent. An upgrade starts no operation to look up, so this is how recovery tells whether a
/// call whose answer was lost took effect. Best effort: if the read fails, the upgrade goes
/// ahead, and a lost answer is resubmitted as before.
async fn note_installed(intake: &Intake, record: ChangeRecord, deadline: Instant) -> ChangeRecord {
    let Action::UpgradeApp {
        scope,
        installation_id,
        ..
    } = record.action()
    else {
        return record;
    };
    match intake
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

/// Claims the operation Graph started for this change, before the change records it, so that
/// recovering another change never adopts it (should this process die in between, this
/// change's own recovery finds its claim). Best effort: a store failure here is logged, and the
/// change goes on.
async fn own_operation(intake: &Intake, record: &ChangeRecord, location: &url::Url) {
    let Some(operation) = intake.graph.base().operation_id(location) else {
        return;
    };
    if let Err(e) = intake.store.own_operation(&operation, record).await {
        tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "could not claim the operation for the change");
    }
}

/// The record after Graph's answer, or `None` when Graph may or may not have acted.
fn answer(
    intake: &Intake,
    record: &ChangeRecord,
    outcome: &Result<ActionOutcome, GraphError>,
) -> Option<ChangeRecord> {
    let now = intake.clock.now();
    let next = match outcome {
        Ok(taken) => record.submitted(taken, now, &intake.pacing),
        Err(e) if e.outcome_unknown() => return None,
        Err(e @ (GraphError::Conflict(_) | GraphError::Refused(_))) => {
            record.rejected(e.failure(), now)
        }
        Err(e) => record.submission_failed(e.failure(), now),
    };
    // The record was just stored as `submitting`, so every answer applies; were it not to,
    // the sweeper would reconcile the change as for an unknown answer.
    next.inspect_err(|e| tracing::error!(change_id = %record.id(), error = %e, "Graph's answer does not apply to the change"))
        .ok()
}
