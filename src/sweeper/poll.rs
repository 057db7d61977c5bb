//! Following a queued or running change: read its Graph operation and take what it says.

use tokio::time::Instant;

use super::Sweeper;
use crate::change::{ChangeRecord, FailureReason, GraphFailure, InvalidTransition};
use crate::graph::GraphError;
use crate::telemetry::error_chain;

impl Sweeper {
    /// Where a claimed, queued or running change stands now. One Graph call: a throttled poll
    /// is not retried within the pass, but rescheduled by Graph's `Retry-After`.
    pub(super) async fn poll(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, InvalidTransition> {
        let now = self.clock.now();
        if let Ok(timed_out) = record.timed_out(now, &self.pacing) {
            return Ok(timed_out);
        }
        let Some(location) = record.location() else {
            return record.failed(
                GraphFailure::graphgate(
                    FailureReason::LostLocation,
                    "a queued change has no operation to follow",
                ),
                now,
            );
        };
        let read = self.graph.get_operation(location, deadline).await;
        let now = self.clock.now();
        match read {
            Ok(operation) => record.observed(&operation, now, &self.pacing),
            // The operation is gone: Graph will not say how it ended.
            Err(GraphError::Refused(failure)) if failure.http_status == Some(404) => {
                record.failed(failure, now)
            }
            // Graph no longer serves the operations: the change can never be followed.
            Err(e @ GraphError::Retired(_)) => {
                tracing::error!(change_id = %record.id(), error = %error_chain(&e), "Graph no longer serves the device operations API");
                record.failed(e.failure(), now)
            }
            // Only a Location stored before graphgate checked its shape can fail here.
            Err(GraphError::Location(e)) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "cannot follow the stored Location");
                record.failed(
                    GraphFailure::graphgate(
                        FailureReason::UnusableLocation,
                        "Graph accepted the change, but the operation Location it gave is not one graphgate can follow; check the device before asking again",
                    ),
                    now,
                )
            }
            Err(e) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "poll failed; will poll again");
                let retry_after = match &e {
                    GraphError::Unavailable { retry_after, .. } => *retry_after,
                    _ => None,
                };
                record.retry_later(retry_after, now, &self.pacing)
            }
        }
    }
}
