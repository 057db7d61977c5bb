//! Reporting finished changes to their callers: one signed attempt per visit, recorded on
//! the change, retried on the domain's schedule.

use std::time::Duration;

use tokio::time::Instant;

use super::{Sweeper, Visit, VisitError};
use crate::callback::{ATTEMPT_TIMEOUT, CallbackError};
use crate::change::{AttemptOutcome, ChangeRecord, ChangeView, DeliveryStatus, Due};
use crate::metrics::{self, Metric};
use crate::telemetry::error_chain;

/// A finished change whose callback is to be attempted.
pub(super) enum Notify {
    /// Just stored by this pass, still claimed.
    Held(ChangeRecord),
    /// Came due; must be claimed first.
    Due(ChangeRecord),
}

/// The least time left in a pass for a callback attempt to be worth starting.
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(1);

impl Sweeper {
    /// Makes a callback attempt for a finished change, and records it.
    pub(super) async fn notify(&self, notify: Notify, deadline: Instant) -> Visit {
        // An attempt starts only with time to finish; otherwise it waits for the next pass.
        if deadline.saturating_duration_since(Instant::now()) < MIN_ATTEMPT_TIME {
            return Visit::Deferred;
        }
        let (record, held) = match notify {
            // A held record may have waited for a free slot: renew a claim that could run
            // out during the attempt.
            Notify::Held(record) => {
                let held = match record.due() {
                    Some(Due::Claim(until)) => until - self.clock.now() > ATTEMPT_TIMEOUT,
                    _ => false,
                };
                (record, held)
            }
            Notify::Due(record) => (record, false),
        };
        let id = record.id().clone();
        let record = if held {
            record
        } else {
            match self.claim(&record).await {
                Ok(claimed) => claimed,
                Err(e) => return self.lost(&id, e, "could not claim a callback"),
            }
        };
        let next = match self.deliver(&record, deadline).await {
            Ok(next) => next,
            Err(e) => return self.lost(&id, e, "could not record a callback attempt"),
        };
        match self.store.update(&next).await {
            Ok(_) => Visit::Notified,
            Err(e) => self.lost(&id, e.into(), "could not record a callback attempt"),
        }
    }

    /// One attempt to report the change, signed to its `callbackUrl` or as a message to the
    /// chat it came from, and the record after it.
    async fn deliver(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, VisitError> {
        let Some(url) = record.pending_callback() else {
            return Ok(record.settled()?);
        };
        let now = self.clock.now();
        let timeout = deadline.saturating_duration_since(Instant::now());
        let sent = match record.chat_reply() {
            // A chat command's result goes back to the chat, as a message.
            Some(reply) => match reply.target(url, now) {
                Some(target) => {
                    self.callbacks
                        .send_chat(
                            target.url(),
                            reply.tool,
                            &ChangeView::summary(record),
                            timeout,
                        )
                        .await
                }
                None => Err(CallbackError::ChatReplyExpired),
            },
            None => {
                let registry = self.callers.current().await;
                let caller = registry.get(record.caller());
                match caller.and_then(|c| c.signing_secret().map(|s| (c, s))) {
                    None => Err(CallbackError::NoSecret),
                    // The receiver's own credential, when it demands one, goes with the
                    // signature; both are read from the registry as it is now.
                    Some((caller, secret)) => {
                        let view = ChangeView::from(record.clone());
                        self.callbacks
                            .send_finished(
                                url.url(),
                                secret,
                                caller.callback_authorization(),
                                view,
                                now,
                                timeout,
                            )
                            .await
                    }
                }
            }
        };
        let outcome = match &sent {
            Ok(status) => AttemptOutcome::Answered(*status),
            Err(e @ CallbackError::ChatReplyExpired) => {
                AttemptOutcome::Undeliverable(e.to_string())
            }
            Err(e) => AttemptOutcome::NoAnswer(e.to_string()),
        };
        let next = record.callback_attempted(&outcome, now, &self.pacing)?;
        let attempts = next.callback().map_or(0, |c| c.attempts.len());
        match next.callback().map(|c| c.status) {
            Some(DeliveryStatus::Failed) => {
                metrics::count(Metric::CallbacksFailed, None);
                tracing::warn!(change_id = %record.id(), attempts, "giving up on the callback")
            }
            Some(DeliveryStatus::Pending) => {
                metrics::count(Metric::CallbacksFailed, None);
                let error = sent.as_ref().err().map(|e| error_chain(e));
                tracing::info!(change_id = %record.id(), attempts, ?outcome, error, "callback not delivered; will retry")
            }
            _ => {}
        }
        Ok(next)
    }
}
