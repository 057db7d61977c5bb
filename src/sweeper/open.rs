//! A scheduled change whose window comes: sent to Graph as the intake sends a change made
//! now (`crate::submission`), or left to wait for the next opening, or, past its `notAfter`,
//! ended `expired`.

use tokio::time::Instant;

use super::{Sweeper, VisitError};
use crate::change::{ChangeRecord, Opening};

impl Sweeper {
    pub(super) async fn open(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, VisitError> {
        let now = self.clock.now();
        match record.opening(now) {
            Opening::Never => return Ok(record.expired(now)?),
            Opening::At(at) => return Ok(record.waiting(at)?),
            Opening::Now => {}
        }
        let submission = self.submission();
        let noted = submission.note_installed(record.clone(), deadline).await;
        // Stored before the call, as the intake stores a change made now: a sweeper that dies
        // from here on leaves the change to recovery, never to a second submission.
        let opened = self
            .store
            .update(&noted.opened(self.clock.now(), self.claim_ends())?)
            .await?;
        tracing::info!(change_id = %opened.id(), "the change's window opened; sending it to Graph");
        let (_, next) = submission.send(&opened, deadline).await;
        Ok(next.unwrap_or(opened))
    }
}
