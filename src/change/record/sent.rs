//! Sent and followed: Graph's answer to the action call, the operation's status as it is
//! polled, the sweeper's claim, and the operation timeout.

use time::OffsetDateTime;

use super::{ChangeRecord, InvalidTransition};
use crate::change::failure_reason::FailureReason;
use crate::change::outcome::{
    ActionOutcome, DeviceOperation, GraphFailure, OperationReport, OperationStatus,
};
use crate::change::schedule::{Due, Pacing};
use crate::change::status::Status;

/// Transitions while the change is with Graph.
impl ChangeRecord {
    /// A sweeper takes the change until `until`; a second sweeper's claim on the same version
    /// loses in the store.
    pub fn claim(&self, until: OffsetDateTime) -> Result<Self, InvalidTransition> {
        if self.due.is_none() {
            return Err(InvalidTransition::NothingDue);
        }
        Ok(ChangeRecord {
            due: Some(Due::Claim(until)),
            ..self.clone()
        })
    }

    /// Graph took the action: a device action is queued, to be polled `pacing.first_poll`
    /// later; an app upgrade is done.
    pub fn submitted(
        &self,
        outcome: &ActionOutcome,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "submitted")?;
        Ok(match outcome {
            ActionOutcome::Accepted {
                location,
                request_id,
            } => {
                let mut next = self.moved_to(Status::Queued, now)?;
                next.graph_request_id = request_id.clone();
                next.location = Some(location.clone());
                next.due = Some(Due::Poll(now + pacing.first_poll));
                next
            }
            ActionOutcome::Completed { request_id } => {
                let mut next = self.moved_to(Status::Succeeded, now)?;
                next.graph_request_id = request_id.clone();
                next.start_verification(now, pacing)
            }
        })
    }

    /// Graph refused the change as asked (a 4xx, or an operation already queued) when it was
    /// submitted, or resubmitted. The refusal's `request-id` is kept as the action call's.
    pub fn rejected(
        &self,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "rejected")?;
        self.answered(Status::Rejected, failure, now)
    }

    /// Submitting (or resubmitting) the change did not carry it out: Graph failed, or could
    /// not be asked. An answer's `request-id` is kept as the action call's.
    pub fn submission_failed(
        &self,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Submitting], "failed at submission")?;
        self.answered(Status::Failed, failure, now)
    }

    /// The change cannot be carried out, for the reason `failure` gives.
    pub fn failed(
        &self,
        failure: GraphFailure,
        now: OffsetDateTime,
    ) -> Result<Self, InvalidTransition> {
        self.ended(Status::Failed, failure, now)
    }

    /// The operation was read: the change takes its status, and is polled again later
    /// unless that status is final.
    pub fn observed(
        &self,
        operation: &DeviceOperation,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(&[Status::Queued, Status::Running], "observed")?;
        let mut next = self.clone();
        next.polls += 1;
        next.apply(operation, now, pacing)
    }

    /// Graph could not be asked, or did not say (throttled, unreachable): look again later,
    /// when Graph's `Retry-After` says or after the backoff.
    pub fn retry_later(
        &self,
        retry_after: Option<std::time::Duration>,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.only_from(
            &[Status::Submitting, Status::Queued, Status::Running],
            "retried",
        )?;
        let mut next = self.clone();
        next.polls += 1;
        next.due = Some(Due::Poll(now + pacing.poll_wait(next.polls, retry_after)));
        Ok(next)
    }

    /// The change has run past the operation timeout without a final status.
    pub fn timed_out(
        &self,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        // A fleet parent ends with its children, each of which times out on its own.
        if self.status.is_terminal() || self.status == Status::Scheduled || self.fleet.is_some() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "timed out",
            });
        }
        if !pacing.overdue(self.submitted_at(), now) {
            return Err(InvalidTransition::NotOverdue);
        }
        let failure = if self.status == Status::Submitting {
            GraphFailure::graphgate(
                FailureReason::Unconfirmed,
                "graphgate could not confirm with Graph whether the change was carried out",
            )
        } else {
            let hours = pacing.operation_timeout.as_secs_f64() / 3600.0;
            GraphFailure::graphgate(
                FailureReason::TimedOut,
                format!("the operation had no final status after {hours:.1} h"),
            )
        };
        self.ended(Status::TimedOut, failure, now)
    }

    /// Takes the status `operation` reports; a status graphgate does not know changes nothing.
    pub(super) fn apply(
        mut self,
        operation: &DeviceOperation,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        self.operation_status = Some(operation.raw_status.clone());
        self.operation = Some(OperationReport {
            id: operation.id.clone(),
            times: operation.times.clone(),
        });
        let status = match operation.status {
            OperationStatus::Queued => Status::Queued,
            OperationStatus::Running => Status::Running,
            OperationStatus::Succeeded => Status::Succeeded,
            OperationStatus::Failed => Status::Failed,
            OperationStatus::Cancelled => Status::Cancelled,
            OperationStatus::Unknown => self.status,
        };
        let mut next = self.moved_to(status, now)?;
        if status == Status::Failed {
            next.failure = Some(GraphFailure {
                http_status: None,
                code: operation
                    .error_code
                    .clone()
                    .unwrap_or_else(|| FailureReason::OperationFailed.as_str().into()),
                message: operation.error_message.clone().unwrap_or_default(),
                request_id: None,
            });
        }
        if !status.is_terminal() {
            next.due = Some(Due::Poll(now + pacing.poll_wait(next.polls, None)));
        }
        Ok(next.start_verification(now, pacing))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::fixtures::*;
    use super::*;

    #[test]
    fn an_accepted_action_is_first_polled_after_the_first_poll_wait() {
        let pacing = Pacing::default();
        let record = queued(&pacing);
        assert_eq!(record.status(), Status::Queued);
        assert_eq!(record.due(), Some(Due::Poll(T0 + pacing.first_poll)));
        assert_eq!(record.graph_request_id(), Some("req-1"));
        assert!(record.location().is_some());
    }

    #[test]
    fn a_completed_upgrade_is_done_and_owes_its_report_at_once() {
        let record = submitting(true)
            .submitted(
                &ActionOutcome::Completed { request_id: None },
                T0 + SECS(1),
                &Pacing::default(),
            )
            .unwrap();
        assert_eq!(record.status(), Status::Succeeded);
        assert_eq!(record.due(), Some(Due::Callback(T0 + SECS(1))));
        assert!(record.pending_callback().is_some());
    }

    #[test]
    fn polls_space_out_and_a_final_status_ends_them() {
        let pacing = Pacing::default();
        let mut record = queued(&pacing);
        let mut now = T0;
        let mut waits = Vec::new();
        for status in ["queued", "InProgress", "InProgress", "unknownFutureValue"] {
            now += SECS(1000);
            record = record.observed(&operation(status), now, &pacing).unwrap();
            waits.push((record.due().unwrap().at() - now).whole_seconds());
        }
        assert_eq!(waits, [15, 30, 60, 120]);
        assert_eq!(
            record.status(),
            Status::Running,
            "an unknown status is not final"
        );
        assert_eq!(record.operation_status(), Some("unknownFutureValue"));
        let done = record
            .observed(&operation("Successful"), now, &pacing)
            .unwrap();
        assert_eq!(done.status(), Status::Succeeded);
        assert_eq!(done.due(), None);
        assert_eq!(done.updated_at(), now);
    }

    #[test]
    fn a_failed_operation_keeps_graphs_error() {
        let pacing = Pacing::default();
        let mut op = operation("failed");
        op.error_code = Some("DeviceOffline".into());
        op.error_message = Some("The device did not respond.".into());
        let failed = queued(&pacing).observed(&op, T0, &pacing).unwrap();
        assert_eq!(failed.status(), Status::Failed);
        let failure = failed.failure().unwrap();
        assert_eq!(
            (failure.code.as_str(), failure.message.as_str()),
            ("DeviceOffline", "The device did not respond.")
        );
    }

    #[test]
    fn retry_after_sets_the_next_poll() {
        let pacing = Pacing::default();
        let later = queued(&pacing)
            .retry_later(Some(Duration::from_millis(7500)), T0, &pacing)
            .unwrap();
        assert_eq!(
            later.due(),
            Some(Due::Poll(T0 + Duration::from_millis(7500)))
        );
        assert_eq!(later.status(), Status::Queued);
    }

    #[test]
    fn a_claim_holds_the_change_until_it_ends() {
        let pacing = Pacing::default();
        let claimed = queued(&pacing).claim(T0 + SECS(60)).unwrap();
        assert_eq!(claimed.due(), Some(Due::Claim(T0 + SECS(60))));
        let done = claimed
            .observed(&operation("succeeded"), T0, &pacing)
            .unwrap();
        assert_eq!(done.claim(T0), Err(InvalidTransition::NothingDue));
    }

    #[test]
    fn the_operation_timeout_applies_only_once_it_has_passed() {
        let pacing = Pacing {
            operation_timeout: SECS(3600),
            ..Pacing::default()
        };
        let record = queued(&pacing);
        assert_eq!(
            record.timed_out(T0 + SECS(3600), &pacing),
            Err(InvalidTransition::NotOverdue)
        );
        let late = record.timed_out(T0 + SECS(3601), &pacing).unwrap();
        assert_eq!(late.status(), Status::TimedOut);
        assert_eq!(late.failure().unwrap().code, "timedOut");
        assert_eq!(
            late.failure().unwrap().message,
            "the operation had no final status after 1.0 h"
        );
        let stuck = submitting(false)
            .timed_out(T0 + SECS(3601), &pacing)
            .unwrap();
        assert_eq!(stuck.failure().unwrap().code, "unconfirmed");
    }

    #[test]
    fn only_answers_to_an_action_call_give_the_change_its_request_id() {
        let pacing = Pacing::default();
        let answer = GraphFailure {
            request_id: Some("req-409".into()),
            ..refusal("Conflict", "busy")
        };
        let rejected = submitting(false).rejected(answer.clone(), T0).unwrap();
        assert_eq!(rejected.graph_request_id(), Some("req-409"));
        let failed = submitting(false)
            .submission_failed(answer.clone(), T0)
            .unwrap();
        assert_eq!(failed.graph_request_id(), Some("req-409"));
        let poll_404 = queued(&pacing).failed(answer, T0).unwrap();
        assert_eq!(
            poll_404.graph_request_id(),
            Some("req-1"),
            "still the action call's"
        );
    }

    #[test]
    fn terminal_states_are_final() {
        let pacing = Pacing::default();
        let done = queued(&pacing)
            .observed(&operation("succeeded"), T0, &pacing)
            .unwrap();
        assert!(done.observed(&operation("failed"), T0, &pacing).is_err());
        assert!(done.failed(refusal("x", "y"), T0).is_err());
        assert!(done.timed_out(T0 + SECS(86_400), &pacing).is_err());
        assert!(done.retry_later(None, T0, &pacing).is_err());
        assert!(queued(&pacing).rejected(refusal("x", "y"), T0).is_err());
        assert!(queued(&pacing).submitted(&accepted(), T0, &pacing).is_err());
    }
}
