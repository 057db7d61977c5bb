//! A scheduled change whose window comes: sent to Graph as the intake sends a change made
//! now (`crate::submission`), or left to wait for the next opening, or, past its `notAfter`,
//! ended `expired`; for a caller gated on its tickets, ended `cancelled` when its ticket no
//! longer lets it go ahead.

use tokio::time::Instant;

use super::ticket::Verdict;
use super::{Sweeper, VisitError};
use crate::change::{ChangeRecord, Opening};
use crate::graph::GraphError;

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
        match self.ticket(record, deadline).await {
            Verdict::GoesAhead => {}
            Verdict::Withdrawn(why) => {
                tracing::warn!(change_id = %record.id(), why, "the change's ticket no longer lets it go ahead");
                return Ok(record.ticket_withdrawn(now, &why)?);
            }
            Verdict::Unknown(wait) => return Ok(record.waiting(now + wait)?),
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
        let (outcome, next) = submission.send(&opened, deadline).await;
        // Graph clearly did not take it (throttled, unreachable, no time left): it waits
        // again, for as long as Graph asked, and goes when its window next allows; nobody is
        // there to send it again otherwise.
        if let Err(GraphError::Unavailable {
            retry_after,
            outcome_unknown: false,
            ..
        }) = &outcome
        {
            let now = self.clock.now();
            let wait = retry_after.unwrap_or(self.pacing.poll_base);
            // Past the limit, Graph's answer stands: the change failed, not taken.
            if let Ok(again) = opened.reopened(now, now + wait) {
                tracing::warn!(change_id = %opened.id(), "Graph did not take the scheduled change; it waits again");
                return Ok(again);
            }
        }
        Ok(next.unwrap_or(opened))
    }
}
