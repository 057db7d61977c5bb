//! Windows: a scheduled change waits for its window, goes to Graph when it opens, waits
//! again when Graph does not take it, and expires, or is cancelled, if it never goes.

use time::OffsetDateTime;

use super::{ChangeRecord, InvalidTransition};
use crate::change::failure_reason::FailureReason;
use crate::change::fleet::Stop;
use crate::change::outcome::GraphFailure;
use crate::change::schedule::{Due, MAX_NOT_TAKEN};
use crate::change::status::Status;
use crate::change::window::Opening;

/// Transitions of a change that waits for its window.
impl ChangeRecord {
    /// When, seen from `now`, a scheduled change may go to Graph.
    pub fn opening(&self, now: OffsetDateTime) -> Opening {
        self.schedule.opening(now)
    }

    /// A scheduled change's window opened: it goes to Graph now, held by its sender until
    /// `lease_until`.
    pub fn opened(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled], "opened")?;
        let mut next = self.moved_to(Status::Submitting, now)?;
        next.submitted_at = Some(now);
        next.due = Some(Due::Lease(lease_until));
        Ok(next)
    }

    /// A scheduled change waits again, for its window to open at `opens_at`.
    pub fn waiting(&self, opens_at: OffsetDateTime) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled], "rescheduled")?;
        Ok(ChangeRecord {
            due: Some(Due::Open(opens_at)),
            ..self.clone()
        })
    }

    /// A scheduled change Graph clearly did not take when its window opened: it waits again,
    /// and is sent when its window next allows, from `at` on; at most [`MAX_NOT_TAKEN`] times.
    pub fn reopened(
        &self,
        now: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "scheduled again")?;
        if self.schedule.is_empty() || self.resubmitted || self.polls >= MAX_NOT_TAKEN {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "scheduled again without a window, or too often",
            });
        }
        Ok(ChangeRecord {
            status: Status::Scheduled,
            submitted_at: None,
            due: Some(Due::Open(at)),
            polls: self.polls + 1,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The change's window did not open before its `notAfter`: it never reached Graph.
    pub fn expired(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled], "expired")?;
        self.ended(
            Status::Expired,
            GraphFailure::graphgate(
                FailureReason::Expired,
                "the change's window did not open before its notAfter, so it was not sent to Graph",
            ),
            now,
        )
    }

    /// A change not yet sent whose ticket no longer lets it go ahead (`why`, in words) ends
    /// `cancelled`, never sent: a scheduled one when its window opens, or one whose
    /// submitter died before Graph had it.
    pub fn ticket_withdrawn(
        &self,
        now: OffsetDateTime,
        why: &str,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Scheduled, Status::Submitting], "cancelled")?;
        self.ended(
            Status::Cancelled,
            GraphFailure::graphgate(
                FailureReason::TicketWithdrawn,
                format!("{why}, so the change was not sent to Graph"),
            ),
            now,
        )
    }

    /// The caller cancelled a change that had not reached Graph; for a fleet, the children
    /// not yet sent (those sent go on, and the parent ends when they have).
    pub fn cancelled(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if let Some(fleet) = &self.fleet {
            self.only_from(&[Status::Scheduled, Status::Running], "cancelled")?;
            let mut fleet = fleet.clone();
            fleet.stop(Stop::Cancelled);
            let mut next = self.fleet_advanced(fleet, now, std::time::Duration::ZERO)?;
            if !next.status.is_terminal() {
                next.due = Some(Due::Poll(now));
            }
            return Ok(next);
        }
        self.only_from(&[Status::Scheduled], "cancelled")?;
        self.ended(
            Status::Cancelled,
            GraphFailure::graphgate(
                FailureReason::Cancelled,
                "the caller cancelled the change before it reached Graph",
            ),
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::*;
    use super::*;
    use crate::change::schedule::Pacing;
    use crate::change::status::Status;

    #[test]
    fn a_scheduled_change_opens_waits_expires_or_is_cancelled() {
        let pacing = Pacing::default();
        let mut body = json!({"action": "restartDevice", "deviceId": "d1",
            "callbackUrl": "https://itsm.example.com/hook",
            "notAfter": "1970-01-02T00:00:00Z",
            "window": {"start": "10:00", "end": "12:00", "timeZone": "UTC"}});
        let opens = T0 + SECS(10 * 3600);
        let scheduled = ChangeRecord::scheduled(request(body.clone()), "itsm", T0, opens);
        assert_eq!(scheduled.status(), Status::Scheduled);
        assert_eq!(scheduled.due(), Some(Due::Open(opens)));
        assert_eq!(scheduled.opening(T0), Opening::At(opens));
        assert_eq!(
            scheduled.timed_out(T0 + SECS(86_400 * 30), &pacing),
            Err(InvalidTransition::NotFrom {
                status: Status::Scheduled,
                event: "timed out"
            }),
            "a change waiting for its window does not time out"
        );
        // The window opens: it goes to Graph, and the operation timeout runs from then.
        let opened = scheduled.opened(opens, opens + SECS(60)).unwrap();
        assert_eq!(opened.status(), Status::Submitting);
        assert_eq!(opened.due(), Some(Due::Lease(opens + SECS(60))));
        assert_eq!(opened.submitted_at(), opens);
        assert!(
            opened
                .timed_out(opens + pacing.operation_timeout, &pacing)
                .is_err()
        );
        assert!(opened.expired(opens).is_err());
        assert!(opened.cancelled(opens).is_err());
        // Past notAfter it expires, owing its report.
        let expired = scheduled.expired(T0 + SECS(86_400)).unwrap();
        assert_eq!(expired.status(), Status::Expired);
        assert_eq!(expired.failure().unwrap().code, "expired");
        assert!(expired.pending_callback().is_some());
        let cancelled = scheduled.cancelled(T0).unwrap();
        assert_eq!(cancelled.status(), Status::Cancelled);
        assert_eq!(cancelled.failure().unwrap().code, "cancelled");
        assert_eq!(
            scheduled.claim(T0).unwrap().waiting(opens).unwrap().due(),
            Some(Due::Open(opens))
        );
        body["dryRun"] = json!(false);
        let round = ChangeRecord::scheduled(request(body), "itsm", T0, opens);
        assert_eq!(ChangeRecord::from_json(&round.to_json()).unwrap(), round);
    }

    #[test]
    fn a_scheduled_change_graph_keeps_declining_is_not_scheduled_again_forever() {
        let body = json!({"action": "restartDevice", "deviceId": "d1",
            "window": {"start": "10:00", "end": "12:00", "timeZone": "UTC"}});
        let opens = T0 + SECS(10 * 3600);
        let mut record = ChangeRecord::scheduled(request(body), "itsm", T0, opens);
        for _ in 0..MAX_NOT_TAKEN {
            let opened = record.opened(opens, opens + SECS(60)).unwrap();
            record = opened.reopened(opens, opens + SECS(5)).unwrap();
            assert_eq!(record.status(), Status::Scheduled);
            assert_eq!(record.due(), Some(Due::Open(opens + SECS(5))));
        }
        let opened = record.opened(opens, opens + SECS(60)).unwrap();
        assert!(opened.reopened(opens, opens + SECS(5)).is_err());
        assert!(
            submitting(false).reopened(T0, T0).is_err(),
            "a change without a window is never scheduled again"
        );
    }
}
