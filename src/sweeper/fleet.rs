//! Visiting a fleet parent: read how its children in flight stand, spend the failure budget,
//! and send the next children within the window, the concurrency, the rate and any pause
//! Graph asked for. Each child is sent exactly as the intake sends a change
//! (`crate::submission`), and from then on is followed by the sweeper on its own.

use futures::StreamExt;
use tokio::time::Instant;

use super::ticket::Verdict;
use super::{Sweeper, VisitError};
use crate::change::{
    ChangeId, ChangeRecord, DeviceId, Fleet, Opening, Status, Stop, VerificationState,
};
use crate::graph::GraphError;
use crate::store::StoreError;
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
        self.follow_children(parent, &mut fleet).await?;
        fleet.check_budget();
        let now = self.clock.now();
        let assigned = match parent.opening(now) {
            Opening::Never => {
                fleet.stop(Stop::Expired);
                Vec::new()
            }
            Opening::At(_) => Vec::new(),
            Opening::Now => {
                if fleet.ticket_due(now) {
                    match self.ticket(parent, deadline).await {
                        Verdict::GoesAhead => fleet.ticket_allowed(now),
                        Verdict::Withdrawn(why) => {
                            tracing::warn!(change_id = %parent.id(), why, "the fleet's ticket no longer lets it go ahead; the devices not yet sent are cancelled");
                            fleet.stop(Stop::TicketWithdrawn);
                        }
                        Verdict::Unknown(wait) => fleet.pause(now + wait),
                    }
                }
                fleet.assign(now)
            }
        };
        let follow = self.pacing.poll_base;
        let planned = parent.fleet_advanced(fleet.clone(), now, follow)?;
        if assigned.is_empty() {
            return Ok(planned);
        }
        // The assignments are stored before any child is, still claimed, so no other sweeper
        // visits the parent while its children are sent: a child is never sent twice.
        let stored = self
            .store
            .update(&planned.claim(self.claim_ends())?)
            .await?;
        tracing::info!(change_id = %stored.id(), children = assigned.len(), "sending the next children of a fleet");
        let sent: Vec<(ChangeId, Sent)> = futures::stream::iter(assigned)
            .map(|(device, id)| self.send_child(&stored, device, id, deadline))
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        // `fleet` is the table just stored, with these children assigned.
        let now = self.clock.now();
        for (id, sent) in sent {
            match sent {
                Sent::Stored(status) => fleet.observe(&id, status, None),
                Sent::NotTaken { wait } => {
                    fleet.requeue(&id);
                    fleet.pause(now + wait.unwrap_or(self.pacing.poll_base));
                }
                // Its record is not known to be stored: the next visit reads it, or finds
                // it missing and sends the device again.
                Sent::Unknown => {}
            }
        }
        fleet.check_budget();
        Ok(stored.fleet_advanced(fleet, now, follow)?)
    }

    /// Reads the record of each child in flight or being verified. One with no record, past
    /// the lease its sender held, was never sent: a final record is written under its ID,
    /// which only succeeds if the ID is still free (so a sender that comes back late finds it
    /// taken, and sends nothing), and its device waits again.
    async fn follow_children(
        &self,
        parent: &ChangeRecord,
        fleet: &mut Fleet,
    ) -> Result<(), VisitError> {
        let unsettled: Vec<(ChangeId, DeviceId)> = fleet
            .unsettled()
            .filter_map(|c| Some((c.change_id.clone()?, c.device_id.clone())))
            .collect();
        let now = self.clock.now();
        let lease_start = now - self.settings.claim_lease;
        for (id, device) in unsettled {
            if let Some(child) = self.store.get(&id).await? {
                settle(fleet, &id, &child);
                continue;
            }
            if !fleet.assigned_before(&id, lease_start) {
                continue;
            }
            let never_sent =
                ChangeRecord::child(parent, device, id.clone(), now, now).not_taken(now)?;
            match self.store.insert(&never_sent).await {
                Ok(()) => {
                    tracing::warn!(change_id = %id, "a fleet child was assigned but never recorded; its device waits again");
                    fleet.requeue(&id);
                }
                Err(StoreError::Duplicate(_)) => {
                    if let Some(child) = self.store.get(&id).await? {
                        settle(fleet, &id, &child);
                    }
                }
                Err(e) => return Err(e.into()),
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
        // Queued behind others past the deadline: not recorded, so plainly not sent.
        if Instant::now() >= deadline {
            return (id, Sent::NotTaken { wait: None });
        }
        let now = self.clock.now();
        let child = ChangeRecord::child(parent, device, id.clone(), now, self.claim_ends());
        if let Err(e) = self.store.insert(&child).await {
            tracing::error!(change_id = %id, error = %error_chain(&e), "could not record a fleet child");
            return (id, Sent::Unknown);
        }
        let submission = self.submission();
        let (outcome, answered) = submission.send(&child, deadline).await;
        let now = self.clock.now();
        // Clearly not taken (throttled, unreachable): the child ends here, and its device
        // waits again in the fleet, which sends no more until Graph's wait is over.
        let not_taken = match &outcome {
            Err(GraphError::Unavailable {
                retry_after,
                outcome_unknown: false,
                ..
            }) => Some(*retry_after),
            _ => None,
        };
        let next = match not_taken {
            Some(_) => child.not_taken(now).ok(),
            None => answered,
        };
        let Some(next) = next else {
            return (id, Sent::Stored(Status::Submitting));
        };
        match self.store.update(&next).await {
            Ok(stored) => {
                count_end(&stored);
                match not_taken {
                    Some(wait) => (id, Sent::NotTaken { wait }),
                    None => (id, Sent::Stored(stored.status())),
                }
            }
            Err(e) => {
                tracing::error!(change_id = %id, error = %error_chain(&e), "could not store Graph's answer for a fleet child; the sweeper will reconcile it");
                (id, Sent::Stored(Status::Submitting))
            }
        }
    }
}

/// Takes what child `id`'s record says. A record that says Graph did not take the child
/// (written by its sender, or in its place) sends the device again, whether or not the
/// parent's last write said so: that write may have lost to a cancel.
fn settle(fleet: &mut Fleet, id: &ChangeId, child: &ChangeRecord) {
    if child.not_taken_by_graph() {
        fleet.requeue(id);
    } else {
        let verification: Option<VerificationState> = child.verification().map(|v| v.state);
        fleet.observe(id, child.status(), verification);
    }
}

/// Counts a change the sweeper sent and stored: its end, or Graph's refusal, as the intake
/// counts a refusal of a change it sent.
pub(super) fn count_end(stored: &ChangeRecord) {
    crate::submission::count_end(stored);
    if stored.status() == Status::Rejected {
        crate::metrics::count(
            crate::metrics::Metric::ChangesRejected,
            Some(crate::metrics::Dimension::Reason("graph-refused")),
        );
    }
}

/// What came of sending one child.
enum Sent {
    Stored(Status),
    /// Graph did not take it; wait this long, if Graph said, before sending more.
    NotTaken {
        wait: Option<std::time::Duration>,
    },
    Unknown,
}
