//! One sweep pass: take the changes that are due, find out where each stands in Graph, and
//! record it. The `serve` loop, `graphgate sweep --once` and the `sweeper` Lambda only decide
//! when to call [`Sweeper::sweep_once`].
//!
//! A record is claimed before anything else: a conditional write (on the version read) that
//! moves its `next_poll_at` one lease ahead. Of two sweepers that read the same due record,
//! only one claim succeeds, so each due record is polled once per due time. A sweeper that
//! dies holding a claim only delays the record until the lease ends; no Graph call is
//! started that could outlive the lease. Work that fails is rescheduled, never dropped.
//!
//! Callbacks run in a stream of their own beside the polls, so a slow receiver never takes a
//! poll's place. A change that finishes is stored still claimed, and handed to that stream.

use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::app::AppState;
use crate::callback::{ATTEMPT_TIMEOUT, CallbackError};
use crate::change::{
    CallbackAttempt, ChangeRecord, ChangeView, DeliveryStatus, GraphFailure, OperationId, Status,
};
use crate::graph::{DeviceOperation, GraphError, OperationStatus, operation_type};
use crate::store::StoreError;
use crate::submission::took;
use crate::telemetry::error_chain;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Records that were due when the pass began.
    pub due: usize,
    /// Operations polled.
    pub polled: usize,
    /// Changes that reached a final status.
    pub finished: usize,
    /// Changes stuck in `submitting` that were reconciled with Graph.
    pub recovered: usize,
    /// Callback attempts made for changes that had finished before this pass.
    pub notified: usize,
    /// Records another sweeper (or the intake) claimed first.
    pub skipped: usize,
    /// Records left for the next pass because the deadline came.
    pub deferred: usize,
    /// Records whose visit failed; they stay due.
    pub errors: usize,
}

/// A finished change whose callback is to be attempted.
enum Notify {
    /// Just stored by this pass, still claimed.
    Held(ChangeRecord),
    /// Came due; must be claimed first.
    Due(ChangeRecord),
}

/// The least time left in a pass for a callback attempt to be worth starting.
const MIN_ATTEMPT_TIME: Duration = Duration::from_secs(1);

enum Visit {
    Polled { finished: bool },
    Recovered { finished: bool },
    Notified,
    Skipped,
    Deferred,
    Failed,
}

/// Runs sweep passes over a process's clients and store.
#[derive(Clone)]
pub struct Sweeper {
    app: AppState,
}

/// How far a change's own creation may precede, by Graph's clock, the operation it started.
const CLOCK_SKEW: time::Duration = time::Duration::seconds(30);

impl Sweeper {
    pub fn new(app: AppState) -> Self {
        Self { app }
    }

    /// Runs one pass. No record is visited after `deadline`; those stay due for the next pass.
    pub async fn sweep_once(&self, deadline: Instant) -> Result<SweepReport, StoreError> {
        let due = self
            .app
            .store
            .due(OffsetDateTime::now_utc(), self.app.sweep.batch_size)
            .await?;
        let mut report = SweepReport {
            due: due.len(),
            ..SweepReport::default()
        };
        let (to_notify, to_follow): (Vec<_>, Vec<_>) =
            due.into_iter().partition(|r| r.status.is_terminal());
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        let follow = async move {
            let finished = finished_tx;
            futures::stream::iter(to_follow)
                .map(|record| self.follow(record, deadline, &finished))
                .buffer_unordered(self.app.sweep.concurrency)
                .collect::<Vec<Visit>>()
                .await
        };
        // The polls' sender closes when they end, and with it this stream.
        let handed = futures::stream::unfold(finished_rx, |mut rx| async move {
            rx.recv().await.map(|record| (Notify::Held(record), rx))
        });
        let notify = futures::stream::iter(to_notify.into_iter().map(Notify::Due))
            .chain(handed)
            .map(|notify| self.notify(notify, deadline))
            .buffer_unordered(self.app.sweep.concurrency)
            .collect::<Vec<Visit>>();
        let (followed, notified) = tokio::join!(follow, notify);
        for visit in followed.into_iter().chain(notified) {
            match visit {
                Visit::Polled { finished } => {
                    report.polled += 1;
                    report.finished += usize::from(finished);
                }
                Visit::Recovered { finished } => {
                    report.recovered += 1;
                    report.finished += usize::from(finished);
                }
                Visit::Notified => report.notified += 1,
                Visit::Skipped => report.skipped += 1,
                Visit::Deferred => report.deferred += 1,
                Visit::Failed => report.errors += 1,
            }
        }
        tracing::info!(?report, "sweep pass done");
        Ok(report)
    }

    /// Claims a change that is not final yet, finds out where it stands, and stores that.
    async fn follow(
        &self,
        record: ChangeRecord,
        deadline: Instant,
        finished: &mpsc::UnboundedSender<ChangeRecord>,
    ) -> Visit {
        if Instant::now() >= deadline {
            return Visit::Deferred;
        }
        let id = record.id.clone();
        let claim_started = Instant::now();
        let claimed = match self.claim(record).await {
            Ok(claimed) => claimed,
            Err(e) => return self.lost(&id, e, "could not claim a due change"),
        };
        // Graph calls end before the claim does, so no one else can act on the record meanwhile.
        let call_deadline = deadline.min(claim_started + self.app.sweep.claim_lease.mul_f32(0.8));
        let (mut next, visit) = match claimed.status {
            Status::Queued | Status::Running => {
                let next = self.poll(&claimed, call_deadline).await;
                let finished = next.status.is_terminal();
                (next, Visit::Polled { finished })
            }
            _ => match self.recover(claimed.clone(), call_deadline).await {
                Ok(next) if next.status == Status::Submitting => (next, Visit::Failed),
                Ok(next) => {
                    let finished = next.status.is_terminal();
                    (next, Visit::Recovered { finished })
                }
                Err(e) => return self.lost(&id, e, "could not mark a change resubmitted"),
            },
        };
        let needs_callback = next.status.is_terminal()
            && next
                .callback
                .as_ref()
                .is_some_and(|c| c.status == DeliveryStatus::Pending);
        if needs_callback {
            // Stored still claimed, so only this sweeper sends the callback.
            next.next_poll_at = Some(OffsetDateTime::now_utc() + self.app.sweep.claim_lease);
        }
        match self.app.store.update(&next).await {
            Ok(stored) => {
                if stored.status != claimed.status {
                    tracing::info!(change_id = %id, from = claimed.status.as_str(), to = stored.status.as_str(), "change moved");
                }
                if needs_callback {
                    let _ = finished.send(stored);
                }
                visit
            }
            Err(e) => self.lost(&id, e, "could not store a sweep result"),
        }
    }

    /// Makes a callback attempt for a finished change: one this pass just stored (`Held`, still
    /// claimed), or one that came due (`Due`, claimed here first).
    async fn notify(&self, notify: Notify, deadline: Instant) -> Visit {
        // An attempt starts only with time to finish; otherwise it waits for the next pass.
        if deadline.saturating_duration_since(Instant::now()) < MIN_ATTEMPT_TIME {
            return Visit::Deferred;
        }
        let (record, claimed) = match notify {
            Notify::Held(record) => {
                // A held record may have waited for a free slot: renew a claim that could
                // run out during the attempt.
                let left = record.next_poll_at.map_or(time::Duration::ZERO, |until| {
                    until - OffsetDateTime::now_utc()
                });
                let fresh =
                    left > time::Duration::try_from(ATTEMPT_TIMEOUT).unwrap_or(time::Duration::MAX);
                (record, fresh)
            }
            Notify::Due(record) => (record, false),
        };
        let record = if claimed {
            record
        } else {
            let id = record.id.clone();
            match self.claim(record).await {
                Ok(claimed) => claimed,
                Err(e) => return self.lost(&id, e, "could not claim a callback"),
            }
        };
        let next = self.deliver(&record, deadline).await;
        match self.app.store.update(&next).await {
            Ok(_) => Visit::Notified,
            Err(e) => self.lost(&record.id, e, "could not record a callback attempt"),
        }
    }

    /// What a failed store write means for the visit: another writer won, or the store failed.
    fn lost(&self, id: &crate::change::ChangeId, e: StoreError, what: &str) -> Visit {
        match e {
            StoreError::Conflict { .. } => Visit::Skipped,
            e => {
                tracing::error!(change_id = %id, error = %error_chain(&e), "{what}");
                Visit::Failed
            }
        }
    }

    async fn claim(&self, record: ChangeRecord) -> Result<ChangeRecord, StoreError> {
        let mut claim = record;
        claim.next_poll_at = Some(OffsetDateTime::now_utc() + self.app.sweep.claim_lease);
        self.app.store.update(&claim).await
    }

    /// When to look at a change again after `polls` polls without a final status.
    fn next_poll(&self, polls: u32, retry_after: Option<Duration>) -> OffsetDateTime {
        let backoff = self
            .app
            .sweep
            .poll_base
            .saturating_mul(2u32.saturating_pow(polls.saturating_sub(1)))
            .min(self.app.sweep.poll_max);
        OffsetDateTime::now_utc()
            + retry_after.map_or(backoff, |wait| wait.max(Duration::from_secs(1)))
    }

    fn finish(
        &self,
        record: &ChangeRecord,
        status: Status,
        failure: Option<GraphFailure>,
    ) -> ChangeRecord {
        let mut next = record
            .moved_to(status, OffsetDateTime::now_utc())
            .unwrap_or_else(|e| {
                tracing::warn!(change_id = %record.id, error = %e, "ignoring an impossible transition");
                record.clone()
            });
        if failure.is_some() {
            next.failure = failure;
        }
        next
    }

    async fn poll(&self, record: &ChangeRecord, deadline: Instant) -> ChangeRecord {
        let now = OffsetDateTime::now_utc();
        if now - record.created_at > self.app.sweep.operation_timeout {
            let hours = self.app.sweep.operation_timeout.as_secs_f64() / 3600.0;
            return self.finish(
                record,
                Status::TimedOut,
                Some(GraphFailure {
                    http_status: None,
                    code: "timedOut".into(),
                    message: format!("the operation had no final status after {hours:.1} h"),
                    request_id: None,
                }),
            );
        }
        let Some(location) = &record.location else {
            return self.finish(
                record,
                Status::Failed,
                Some(internal(
                    "lostLocation",
                    "a queued change has no operation to follow",
                )),
            );
        };
        let mut next = record.clone();
        next.polls += 1;
        match self.app.graph.get_operation(location, deadline).await {
            Ok(operation) => {
                let next = self.apply(next, &operation);
                self.reschedule(next, None)
            }
            Err(GraphError::Refused(failure)) if failure.http_status == Some(404) => {
                self.finish(&next, Status::Failed, Some(failure))
            }
            Err(e) => {
                tracing::warn!(change_id = %record.id, error = %error_chain(&e), "poll failed; will poll again");
                let retry_after = match &e {
                    GraphError::Unavailable { retry_after, .. } => *retry_after,
                    _ => None,
                };
                self.reschedule(next, retry_after)
            }
        }
    }

    /// The record after reading `operation`.
    fn apply(&self, mut record: ChangeRecord, operation: &DeviceOperation) -> ChangeRecord {
        record.operation_status = Some(operation.raw_status.clone());
        let status = match operation.status {
            OperationStatus::Queued => Status::Queued,
            OperationStatus::Running => Status::Running,
            OperationStatus::Succeeded => Status::Succeeded,
            OperationStatus::Failed => Status::Failed,
            OperationStatus::Cancelled => Status::Cancelled,
            OperationStatus::Unknown => record.status,
        };
        let failure = (status == Status::Failed).then(|| GraphFailure {
            http_status: None,
            code: operation
                .error_code
                .clone()
                .unwrap_or_else(|| "operationFailed".into()),
            message: operation.error_message.clone().unwrap_or_default(),
            request_id: None,
        });
        self.finish(&record, status, failure)
    }

    fn reschedule(&self, mut record: ChangeRecord, retry_after: Option<Duration>) -> ChangeRecord {
        if !record.status.is_terminal() {
            record.next_poll_at = Some(self.next_poll(record.polls.max(1), retry_after));
        }
        record
    }

    /// A change left in `submitting` past its lease: its submitter died during the Graph call,
    /// or could not store the answer. Look for the operation first; resubmit at most once.
    async fn recover(
        &self,
        record: ChangeRecord,
        deadline: Instant,
    ) -> Result<ChangeRecord, StoreError> {
        tracing::warn!(change_id = %record.id, resubmitted = record.resubmitted, "recovering a change stuck in submitting");
        if OffsetDateTime::now_utc() - record.created_at > self.app.sweep.operation_timeout {
            return Ok(self.finish(
                &record,
                Status::TimedOut,
                Some(internal(
                    "unconfirmed",
                    "graphgate could not confirm with Graph whether the change was carried out",
                )),
            ));
        }
        let created_after = |op: &DeviceOperation| {
            op.created.is_some_and(|created| {
                created
                    .checked_add(CLOCK_SKEW)
                    .is_none_or(|c| c >= record.created_at)
            })
        };
        match self.find_operation(&record, deadline, created_after).await {
            Ok(Some(adopted)) => return Ok(adopted),
            Ok(None) => {}
            Err(e) => return Ok(self.after_list_error(record, e, None)),
        }
        if record.resubmitted {
            return Ok(self.finish(
                &record,
                Status::Failed,
                Some(internal(
                    "lostSubmission",
                    "the change was resubmitted after its submitter stopped, and Graph shows no operation for it",
                )),
            ));
        }
        // Stored before the call: a sweeper that dies after Graph answers must not resubmit.
        let mut marked = record;
        marked.resubmitted = true;
        let marked = self.app.store.update(&marked).await?;
        Ok(
            match self.app.graph.execute(&marked.action, deadline).await {
                Ok(taken) => took(
                    &marked,
                    &taken,
                    OffsetDateTime::now_utc(),
                    self.app.sweep.poll_base,
                ),
                // Graph has an operation queued for the device: the one the dead submitter started.
                Err(GraphError::Conflict(failure)) => {
                    match self
                        .find_operation(&marked, deadline, |op| !op.status.is_terminal())
                        .await
                    {
                        Ok(Some(adopted)) => adopted,
                        Ok(None) => self.finish(&marked, Status::Failed, Some(failure)),
                        Err(e) => self.after_list_error(marked, e, Some(failure)),
                    }
                }
                Err(e) if e.outcome_unknown() => self.retry_recovery(marked),
                Err(e @ GraphError::Refused(_)) => {
                    self.finish(&marked, Status::Rejected, Some(e.failure()))
                }
                Err(e @ (GraphError::Permission(_) | GraphError::Server(_))) => {
                    self.finish(&marked, Status::Failed, Some(e.failure()))
                }
                // Graph did not take it (throttled, unreachable, no token): it may be sent again.
                Err(e) => {
                    tracing::warn!(change_id = %marked.id, error = %error_chain(&e), "resubmission not taken; will try again");
                    let mut again = marked;
                    again.resubmitted = false;
                    self.retry_recovery(again)
                }
            },
        )
    }

    /// A failed operation list: Graph's refusal ends recovery, anything else is tried again
    /// (the operation timeout bounds how long).
    fn after_list_error(
        &self,
        record: ChangeRecord,
        error: GraphError,
        conflict: Option<GraphFailure>,
    ) -> ChangeRecord {
        match error {
            GraphError::Permission(f) | GraphError::Refused(f) => {
                self.finish(&record, Status::Failed, Some(conflict.unwrap_or(f)))
            }
            e => {
                tracing::warn!(change_id = %record.id, error = %error_chain(&e), "could not list the device's operations; will try again");
                self.retry_recovery(record)
            }
        }
    }

    /// Makes one callback attempt for a finished change and records it. A failed attempt is
    /// retried with a doubling wait, up to the configured number of attempts.
    async fn deliver(&self, record: &ChangeRecord, deadline: Instant) -> ChangeRecord {
        let mut next = record.clone();
        let (Some(url), Some(delivery)) = (&record.callback_url, next.callback.as_mut()) else {
            next.next_poll_at = None;
            return next;
        };
        if delivery.status != DeliveryStatus::Pending {
            next.next_poll_at = None;
            return next;
        }
        let now = OffsetDateTime::now_utc();
        let secret = self
            .app
            .callers
            .get(&record.caller)
            .and_then(|c| c.signing_secret());
        let outcome = match secret {
            None => Err(CallbackError::NoSecret),
            Some(secret) => {
                let timeout = deadline.saturating_duration_since(Instant::now());
                self.app
                    .callbacks
                    .send_finished(url.url(), secret, ChangeView::from(record.clone()), timeout)
                    .await
            }
        };
        let delivered = matches!(outcome, Ok(status) if (200..300).contains(&status));
        delivery.attempts.push(CallbackAttempt {
            at: now,
            outcome: match &outcome {
                Ok(status) => status.to_string(),
                Err(reason) => reason.to_string(),
            },
        });
        let attempts = delivery.attempts.len() as u32;
        if delivered {
            delivery.status = DeliveryStatus::Delivered;
            next.next_poll_at = None;
        } else if attempts >= self.app.sweep.callback_attempts {
            tracing::warn!(change_id = %record.id, attempts, "giving up on the callback");
            delivery.status = DeliveryStatus::Failed;
            next.next_poll_at = None;
        } else {
            tracing::info!(change_id = %record.id, attempts, outcome = ?outcome, "callback not delivered; will retry");
            let wait = self
                .app
                .sweep
                .callback_retry_base
                .saturating_mul(2u32.saturating_pow(attempts - 1));
            next.next_poll_at = Some(now + wait);
        }
        next
    }

    fn retry_recovery(&self, mut record: ChangeRecord) -> ChangeRecord {
        record.polls += 1;
        record.next_poll_at = Some(self.next_poll(record.polls, None));
        record
    }

    /// Adopts the earliest operation of the change's type on its device that `fits`.
    async fn find_operation(
        &self,
        record: &ChangeRecord,
        deadline: Instant,
        fits: impl Fn(&DeviceOperation) -> bool,
    ) -> Result<Option<ChangeRecord>, GraphError> {
        let (Some(device), Some(kind)) =
            (record.action.device_id(), operation_type(&record.action))
        else {
            return Ok(None);
        };
        let mut candidates: Vec<DeviceOperation> = self
            .app
            .graph
            .list_operations(device, deadline)
            .await?
            .into_iter()
            .filter(|op| {
                op.operation_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(kind))
            })
            .filter(|op| fits(op))
            .collect();
        candidates.sort_by_key(|op| op.created);
        let Some((operation, id)) = candidates.into_iter().find_map(|op| {
            op.id
                .clone()
                .and_then(|id| OperationId::parse(id).ok())
                .map(|id| (op, id))
        }) else {
            return Ok(None);
        };
        let mut adopted = self.finish(record, Status::Queued, None);
        adopted.location = Some(self.app.graph.base().operation_url(device, &id));
        let adopted = self.apply(adopted, &operation);
        tracing::info!(change_id = %record.id, operation = %id, "adopted the operation Graph lists for the change");
        Ok(Some(self.reschedule(adopted, None)))
    }
}

/// What invoked the `sweeper` Lambda function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// An EventBridge rule: its `Scheduled Event` envelope.
    Rule { time: Option<String> },
    /// EventBridge Scheduler, which sends the payload the schedule names (any JSON).
    Scheduler,
}

impl Trigger {
    pub fn of(payload: &serde_json::Value) -> Self {
        let field = |name: &str| payload.get(name).and_then(serde_json::Value::as_str);
        if field("source") == Some("aws.events") && field("detail-type").is_some() {
            Trigger::Rule {
                time: field("time").map(str::to_owned),
            }
        } else {
            Trigger::Scheduler
        }
    }
}

/// One invocation of the `sweeper` Lambda function: a pass that stops `margin` before the
/// invocation's deadline.
pub async fn on_schedule(
    sweeper: &Sweeper,
    payload: &serde_json::Value,
    invocation_deadline: std::time::SystemTime,
    margin: Duration,
) -> Result<SweepReport, StoreError> {
    let trigger = Trigger::of(payload);
    let left = crate::lambda::time_left(invocation_deadline, margin);
    tracing::info!(?trigger, seconds_left = left.as_secs_f64(), "sweep invoked");
    sweeper.sweep_once(Instant::now() + left).await
}

/// Runs a pass every `interval` until the process ends; for `graphgate serve`. Each pass is
/// its own task, so a pass that fails, or panics, costs that pass and not the loop.
pub async fn run_forever(sweeper: Sweeper, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // A pass ends well within the claims it takes.
        let deadline = Instant::now() + sweeper.app.sweep.pass_budget();
        let pass = sweeper.clone();
        match tokio::spawn(async move { pass.sweep_once(deadline).await }).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!(error = %error_chain(&e), "sweep pass failed; trying again next interval")
            }
            Err(e) => {
                tracing::error!(error = %e, "sweep pass panicked; trying again next interval")
            }
        }
    }
}

fn internal(code: &str, message: &str) -> GraphFailure {
    GraphFailure {
        http_status: None,
        code: code.into(),
        message: message.into(),
        request_id: None,
    }
}
