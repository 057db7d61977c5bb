//! Reporting: a change that ended tells its caller (a signed callback, or a chat message),
//! a change that succeeded is verified on its target, and a change with nothing left to do
//! settles.

use time::OffsetDateTime;

use super::{ChangeRecord, InvalidTransition};
use crate::change::action::Action;
use crate::change::delivery::{AttemptOutcome, DeliveryStatus};
use crate::change::schedule::{Due, Pacing};
use crate::change::status::Status;
use crate::change::verification::{Reading, Verification};

/// Transitions once the change has ended.
impl ChangeRecord {
    /// The change's target was looked at: verified, a mismatch once the verification timeout
    /// has passed, or looked at again later. A verification with its answer lets the report
    /// go.
    pub fn verified(
        &self,
        reading: &Reading,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        let Some(verification) = self.verification.as_ref().filter(|v| v.is_pending()) else {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "verified with no verification pending",
            });
        };
        let read = verification.read(&self.action, self.installed_before.as_ref(), reading, now);
        let mut next = self.clone();
        next.updated_at = now;
        next.due = if read.is_pending() {
            let wait = pacing.poll_wait(read.checks(), None);
            Some(Due::Verify((now + wait).min(read.until)))
        } else if self
            .callback
            .as_ref()
            .is_some_and(|c| c.status == DeliveryStatus::Pending)
        {
            Some(Due::Callback(now))
        } else {
            None
        };
        next.verification = Some(read);
        Ok(next)
    }

    /// A change that just succeeded starts its verification, if its target can show it: a
    /// device reports its software's version, and an installation whose definition before the
    /// upgrade is known shows whether it moved on.
    pub(super) fn start_verification(mut self, now: OffsetDateTime, pacing: &Pacing) -> Self {
        let verifiable = match &self.action {
            Action::UpdateSoftware { .. } => true,
            Action::UpgradeApp { .. } => self.installed_before.is_some(),
            Action::RestartDevice { .. } | Action::RunDiagnostics { .. } => false,
        };
        if self.status != Status::Succeeded || !verifiable || self.verification.is_some() {
            return self;
        }
        self.verification = Some(Verification::pending(now + pacing.verify_timeout));
        self.due = Some(Due::Verify(now + pacing.poll_base));
        self
    }

    /// One callback attempt was made. Delivered, or out of attempts, the change leaves the
    /// due set; otherwise it is due again after the retry wait.
    pub fn callback_attempted(
        &self,
        outcome: &AttemptOutcome,
        now: OffsetDateTime,
        pacing: &Pacing,
    ) -> Result<Self, InvalidTransition> {
        if self.pending_callback().is_none() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "reported with no report owed",
            });
        }
        let mut next = self.clone();
        let delivery = next.callback.as_mut().expect("a pending callback");
        let attempts = delivery.record(outcome, now);
        next.due = if outcome.delivered() {
            delivery.status = DeliveryStatus::Delivered;
            None
        } else if matches!(outcome, AttemptOutcome::Undeliverable(_)) {
            delivery.status = DeliveryStatus::Failed;
            None
        } else {
            match pacing.callback_wait(attempts) {
                Some(wait) => Some(Due::Callback(now + wait)),
                None => {
                    delivery.status = DeliveryStatus::Failed;
                    None
                }
            }
        };
        // A chat's reply goes before the verification ends: the verification goes on.
        if next.verifying() && next.due.is_none() {
            next.due = Some(Due::Verify(now));
        }
        Ok(next)
    }

    /// A finished change with no report owed leaves the due set.
    pub fn settled(&self) -> Result<Self, InvalidTransition> {
        if !self.status.is_terminal() || self.pending_callback().is_some() || self.verifying() {
            return Err(InvalidTransition::NotFrom {
                status: self.status,
                event: "settled with work left",
            });
        }
        Ok(ChangeRecord {
            due: None,
            ..self.clone()
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::fixtures::*;
    use super::*;
    use crate::change::callback_url::CallbackUrl;
    use crate::change::delivery::ChatReply;
    use crate::change::outcome::ActionOutcome;

    #[test]
    fn callbacks_are_retried_on_schedule_then_given_up() {
        let pacing = Pacing {
            callback_attempts: 3,
            ..Pacing::default()
        };
        let mut record = submitting(true)
            .rejected(refusal("Conflict", "busy"), T0)
            .unwrap();
        let mut now = T0;
        let failing = AttemptOutcome::Answered(500);
        record = record.callback_attempted(&failing, now, &pacing).unwrap();
        assert_eq!(record.due(), Some(Due::Callback(now + SECS(30))));
        now += SECS(30);
        record = record
            .callback_attempted(
                &AttemptOutcome::NoAnswer("connection refused".into()),
                now,
                &pacing,
            )
            .unwrap();
        assert_eq!(record.due(), Some(Due::Callback(now + SECS(60))));
        record = record.callback_attempted(&failing, now, &pacing).unwrap();
        let delivery = record.callback().unwrap();
        assert_eq!(delivery.status, DeliveryStatus::Failed);
        let outcomes: Vec<_> = delivery
            .attempts
            .iter()
            .map(|a| a.outcome.as_str())
            .collect();
        assert_eq!(outcomes, ["500", "connection refused", "500"]);
        assert_eq!(record.due(), None);
        assert!(record.callback_attempted(&failing, now, &pacing).is_err());
    }

    #[test]
    fn a_delivered_callback_ends_the_changes_work() {
        let pacing = Pacing::default();
        let done = submitting(true)
            .submitted(&ActionOutcome::Completed { request_id: None }, T0, &pacing)
            .unwrap()
            .callback_attempted(&AttemptOutcome::Answered(204), T0, &pacing)
            .unwrap();
        assert_eq!(done.callback().unwrap().status, DeliveryStatus::Delivered);
        assert_eq!(done.due(), None);
        assert!(done.settled().is_ok());
    }

    #[test]
    fn a_chat_reply_does_not_wait_for_the_verification() {
        let pacing = Pacing::default();
        let update = json!({"action": "updateSoftware", "deviceId": "d1",
            "softwareType": "teamsClient", "softwareVersion": "1.0.96.22",
            "callbackUrl": "https://itsm.example.com/hook"});
        let made = ChangeRecord::submitting(request(update), "itsm", T0, T0 + SECS(55));
        let done = |record: ChangeRecord| {
            record
                .submitted(&accepted(), T0, &pacing)
                .unwrap()
                .observed(&operation("succeeded"), T0, &pacing)
                .unwrap()
        };
        let webhook = done(made.clone());
        assert!(webhook.verifying());
        assert!(webhook.pending_callback().is_none(), "the report waits");
        let chat = done(made.with_chat_reply(
            Some(CallbackUrl::parse("https://hooks.slack.com/commands/T1/1/x").unwrap()),
            ChatReply {
                tool: crate::change::delivery::ChatTool::Slack,
                valid_until: Some(T0 + SECS(1800)),
                fallback: None,
            },
        ));
        assert!(chat.verifying());
        assert!(chat.pending_callback().is_some(), "the chat hears at once");
        let told = chat
            .callback_attempted(&AttemptOutcome::Answered(200), T0, &pacing)
            .unwrap();
        assert_eq!(
            told.due(),
            Some(Due::Verify(T0)),
            "the verification goes on"
        );
    }
}
