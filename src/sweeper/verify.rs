//! Verifying a change that succeeded in Graph: look at the device's software health, or the
//! app installation's definition, until it shows the change or the verification timeout
//! passes. One Graph read a visit; an unreadable answer is a look that found nothing.

use tokio::time::Instant;

use super::{Sweeper, VisitError};
use crate::change::{Action, ChangeRecord, Reading};
use crate::graph::GraphError;
use crate::telemetry::error_chain;

impl Sweeper {
    pub(super) async fn verify(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, VisitError> {
        let read = match record.action() {
            Action::UpdateSoftware { device_id, .. } => self
                .graph
                .device_health(device_id, deadline)
                .await
                .map(Reading::Software),
            Action::UpgradeApp {
                scope,
                installation_id,
                ..
            } => self
                .graph
                .installed_definition(scope, installation_id, deadline)
                .await
                .map(Reading::App),
            Action::RestartDevice { .. } | Action::RunDiagnostics { .. } => Ok(Reading::Unreadable),
        };
        let reading = match read {
            Ok(reading) => reading,
            Err(
                e @ (GraphError::Refused(_) | GraphError::Permission(_) | GraphError::Retired(_)),
            ) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "Graph refused to show the change's target; it cannot be verified");
                let failure = e.failure();
                Reading::Refused(format!(
                    "Graph answered {} {} when asked for the target",
                    failure
                        .http_status
                        .map_or_else(|| "-".to_owned(), |s| s.to_string()),
                    failure.code
                ))
            }
            Err(e) => {
                tracing::warn!(change_id = %record.id(), error = %error_chain(&e), "could not read the change's target to verify it; will look again");
                Reading::Unreadable
            }
        };
        let next = record.verified(&reading, self.clock.now(), &self.pacing)?;
        if let Some(v) = next.verification().filter(|v| !v.is_pending()) {
            tracing::info!(change_id = %record.id(), state = ?v.state, reported = v.reported_version.as_deref().unwrap_or("-"), "verification done");
        }
        Ok(next)
    }
}
