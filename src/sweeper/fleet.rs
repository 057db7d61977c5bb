//! Visiting a fleet parent: read how its children in flight stand, spend the failure budget,
//! and send the next children within the window, the concurrency, the rate and any pause
//! Graph asked for. Each child is sent exactly as the intake sends a change
//! (`crate::submission`), and from then on is followed by the sweeper on its own.

use futures::StreamExt;
use tokio::time::Instant;

use super::{Sweeper, VisitError};
use crate::change::{ChangeId, ChangeRecord, DeviceId, Fleet, Opening, Status, Stop};
use crate::graph::GraphError;
use crate::telemetry::error_chain;

impl Sweeper {
    pub(super) async fn advance_fleet(
        &self,
        parent: &ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, VisitError> {
        let Some(fleet) = parent.fleet() else {
            return Ok(parent.clone());
        };
        let mut fleet = fleet.clone();
        self.follow_children(&mut fleet).await?;
        fleet.check_budget();
        let now = self.clock.now();
        let assigned = match parent.opening(now) {
            Opening::Never => {
                fleet.stop(Stop::Expired);
                Vec::new()
            }
            Opening::At(_) => Vec::new(),
            Opening::Now => fleet.assign(now),
        };
        let follow = self.pacing.poll_base;
        // The assignments are stored before any child is: a child is never sent twice.
        let planned = parent.fleet_advanced(fleet, now, follow)?;
        if assigned.is_empty() {
            return Ok(planned);
        }
        let stored = self.store.update(&planned).await?;
        tracing::info!(change_id = %stored.id(), children = assigned.len(), "sending the next children of a fleet");
        let sent: Vec<(ChangeId, Sent)> = futures::stream::iter(assigned)
            .map(|(device, id)| self.send_child(&stored, device, id, deadline))
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        let mut fleet = stored.fleet().cloned().unwrap_or_else(|| unreachable!());
        let now = self.clock.now();
        for (id, sent) in sent {
            match sent {
                Sent::Stored(status) => fleet.observe(&id, status),
                Sent::Throttled { status, wait } => {
                    fleet.observe(&id, status);
                    fleet.pause(now + wait);
                }
                // Its record is not known to be stored: the next visit reads it, or finds
                // it missing and sends the device again.
                Sent::Unknown => {}
            }
        }
        fleet.check_budget();
        Ok(stored.fleet_advanced(fleet, now, follow)?)
    }

    /// Reads the record of each child in flight. One with no record, past the lease its
    /// sender held, was never sent, and waits again.
    async fn follow_children(&self, fleet: &mut Fleet) -> Result<(), VisitError> {
        let in_flight: Vec<ChangeId> = fleet
            .in_flight()
            .filter_map(|c| c.change_id.clone())
            .collect();
        let lease_start = self.clock.now() - self.settings.claim_lease;
        for id in in_flight {
            match self.store.get(&id).await? {
                Some(child) => fleet.observe(&id, child.status()),
                None => fleet.unassign_unsent(&id, lease_start),
            }
        }
        Ok(())
    }

    /// Records one child, sends it to Graph and stores Graph's answer.
    async fn send_child(
        &self,
        parent: &ChangeRecord,
        device: DeviceId,
        id: ChangeId,
        deadline: Instant,
    ) -> (ChangeId, Sent) {
        let now = self.clock.now();
        let child = ChangeRecord::child(parent, device, id.clone(), now, self.claim_ends());
        if let Err(e) = self.store.insert(&child).await {
            tracing::error!(change_id = %id, error = %error_chain(&e), "could not record a fleet child");
            return (id, Sent::Unknown);
        }
        let submission = self.submission();
        let (outcome, answered) = submission.send(&child, deadline).await;
        let now = self.clock.now();
        // Throttled, and clearly not taken: the child waits as a change Graph did not take,
        // and the fleet sends no more until Graph's wait is over.
        let throttled = match &outcome {
            Err(GraphError::Unavailable {
                retry_after,
                outcome_unknown: false,
                ..
            }) => Some(retry_after.unwrap_or(self.pacing.poll_base)),
            _ => None,
        };
        let next = match throttled {
            Some(wait) => child.retry_later(Some(wait), now, &self.pacing).ok(),
            None => answered,
        };
        let Some(next) = next else {
            return (id, Sent::Stored(Status::Submitting));
        };
        match self.store.update(&next).await {
            Ok(stored) => {
                if let Some((metric, action)) = stored.end_metric() {
                    crate::metrics::count(metric, Some(action));
                }
                let status = stored.status();
                match throttled {
                    Some(wait) => (id, Sent::Throttled { status, wait }),
                    None => (id, Sent::Stored(status)),
                }
            }
            Err(e) => {
                tracing::error!(change_id = %id, error = %error_chain(&e), "could not store Graph's answer for a fleet child; the sweeper will reconcile it");
                (id, Sent::Stored(Status::Submitting))
            }
        }
    }
}

/// What came of sending one child.
enum Sent {
    Stored(Status),
    Throttled {
        status: Status,
        wait: std::time::Duration,
    },
    Unknown,
}
