//! Recovery: a change whose submitter stopped before Graph's answer was stored is found
//! carried out (adopted, found upgraded), sent again once, or given up as lost.

use time::OffsetDateTime;
use url::Url;

use super::{ChangeRecord, InvalidTransition};
use crate::change::failure_reason::FailureReason;
use crate::change::outcome::{AppDefinition, DeviceOperation, GraphFailure};
use crate::change::schedule::Pacing;
use crate::change::status::Status;
use crate::change::verification::{Verification, VerificationState};

/// Transitions that reconcile a change left `submitting`.
impl ChangeRecord {
    /// Recovering an app upgrade whose answer was lost: the installation no longer runs the
    /// definition it ran when the change was recorded, so the upgrade took effect.
    pub fn found_upgraded(
        &self,
        installed: &AppDefinition,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "found upgraded")?;
        if self
            .installed_before
            .as_ref()
            .is_none_or(|before| before == installed)
        {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "found upgraded while the installation is unchanged",
            });
        }
        let mut next = self.moved_to(Status::Succeeded, now)?;
        // The look that found it upgraded is the verification.
        next.verification = Some(Verification {
            state: VerificationState::Verified,
            reported_version: installed.version.clone(),
            reason: None,
            checked_at: Some(now),
            until: now,
            checks: 1,
        });
        Ok(next)
    }

    /// A change left `submitting` turns out to have started `operation`, at `location`.
    pub fn adopted(
        &self,
        location: Url,
        operation: &DeviceOperation,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "adopted")?;
        let mut next = self.moved_to(Status::Queued, now)?;
        next.location = Some(location);
        next.apply(operation, now, pacing)
    }

    /// The change is sent to Graph again, recovering it. Stored before the call, so that a
    /// sweeper dying after Graph's answer cannot send it a third time.
    pub fn resubmitting(&self) -> Result<Self, InvalidTransition> {
        if self.resubmitted {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "resubmitted twice",
            });
        }
        self.only_from(&[Status::Submitting], "resubmitted")?;
        Ok(ChangeRecord {
            resubmitted: true,
            ..self.clone()
        })
    }

    /// Graph clearly did not take the resubmission (throttled, unreachable): it may be sent
    /// again, later.
    pub fn resubmission_not_taken(
        &self,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        let mut next = self.retry_later(None, now, pacing)?;
        next.resubmitted = false;
        Ok(next)
    }

    /// The change was resubmitted once already and Graph still shows no operation for it.
    pub fn submission_lost(&self, now: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if !self.resubmitted {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "lost before it was resubmitted",
            });
        }
        self.ended(
            Status::Failed,
            GraphFailure::graphgate(
                FailureReason::LostSubmission,
                "the change was resubmitted after its submitter stopped, and Graph shows no operation for it",
            ),
            now,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::*;
    use super::*;
    use crate::change::schedule::Due;

    #[test]
    fn a_change_is_resubmitted_at_most_once() {
        let pacing = Pacing::default();
        let marked = submitting(false).resubmitting().unwrap();
        assert!(marked.resubmitted());
        assert!(marked.resubmitting().is_err());
        assert_eq!(
            marked.submission_lost(T0).unwrap().failure().unwrap().code,
            "lostSubmission"
        );
        let again = marked.resubmission_not_taken(T0, &pacing).unwrap();
        assert!(
            !again.resubmitted(),
            "Graph did not take it, so it may be sent again"
        );
        assert_eq!(again.due(), Some(Due::Poll(T0 + pacing.poll_base)));
        assert!(submitting(false).submission_lost(T0).is_err());
    }

    #[test]
    fn an_adopted_operation_makes_the_change_queued_at_its_location() {
        let pacing = Pacing::default();
        let location =
            Url::parse("https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op-7")
                .unwrap();
        let adopted = submitting(false)
            .adopted(location.clone(), &operation("InProgress"), T0, &pacing)
            .unwrap();
        assert_eq!(adopted.status(), Status::Running);
        assert_eq!(adopted.location(), Some(&location));
        assert_eq!(adopted.due(), Some(Due::Poll(T0 + pacing.poll_base)));
    }
}
