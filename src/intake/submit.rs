//! Recording a change made now, sending it to Graph (`crate::submission`) and recording
//! Graph's answer. Nothing Graph accepted is lost: see `crate::submission`.

use tokio::time::Instant;

use super::{ApiError, Intake};
use crate::change::ChangeRecord;
use crate::graph::GraphError;
use crate::store::StoreError;
use crate::submission::count_end;
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
    let submission = intake.submission();
    let record = submission.note_installed(record, deadline).await;
    intake
        .store
        .insert(&record)
        .await
        .map_err(SubmitFailure::Store)?;
    let (outcome, next) = submission.send(&record, deadline).await;
    let record = match next {
        Some(next) => match intake.store.update(&next).await {
            Ok(stored) => {
                count_end(&stored);
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
