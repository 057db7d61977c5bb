//! One sweep pass: take the changes that are due, find out where each stands in Graph, and
//! record it. The `serve` loop, `graphgate sweep --once` and the `sweeper` Lambda only decide
//! when to call [`Sweeper::sweep_once`].
//!
//! A record is claimed before anything else: a conditional write (on the version read) that
//! holds it for one lease. Of two sweepers that read the same due record, only one claim
//! succeeds, so each due record is visited once per due time. A sweeper that dies holding a
//! claim only delays the record until the lease ends; no Graph call is started that could
//! outlive the lease. Work that fails is rescheduled, never dropped.
//!
//! What to do with a change is the domain's business (`crate::change`); this module does the
//! I/O around it: `open.rs` sends scheduled changes when their window opens (once
//! `ticket.rs` finds their ticket still lets them), `poll.rs`
//! follows operations, `recover.rs` reconciles changes whose submitter died, `notify.rs`
//! sends callbacks. Callbacks run in a stream of their own beside
//! the polls, so a slow receiver never takes a poll's place; a change that finishes is stored
//! still claimed, and handed to that stream.

mod fleet;
mod notify;
mod open;
mod poll;
mod recover;
mod ticket;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::callback::CallbackSender;
use crate::callers::CallerSource;
use crate::change::{ChangeId, ChangeRecord, InvalidTransition, Pacing, Status};
use crate::clock::Clock;
use crate::graph::GraphClient;
use crate::metrics::{self, Metric};
use crate::store::{Store, StoreError};
use crate::submission::{Submission, count_end};
use crate::telemetry::error_chain;
use crate::tickets::TicketClient;
use notify::Notify;

/// Runs sweep passes: the clients it calls, and how it paces them.
#[derive(Clone)]
pub struct Sweeper {
    pub store: Arc<dyn Store>,
    pub graph: Arc<GraphClient>,
    pub callbacks: Arc<CallbackSender>,
    /// Whose signing secret each callback is signed with.
    pub callers: Arc<dyn CallerSource>,
    /// Reads gated callers' tickets again before what they allowed is sent.
    pub tickets: Arc<TicketClient>,
    pub settings: SweepSettings,
    pub pacing: Pacing,
    pub clock: Arc<dyn Clock>,
}

/// How a sweeper works through due changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// Operations polled at once in one pass.
    pub concurrency: usize,
    /// Most due records one pass takes on.
    pub batch_size: usize,
    /// How long a sweeper owns a record it claimed. No Graph call outlives it.
    pub claim_lease: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            batch_size: 200,
            claim_lease: Duration::from_secs(60),
        }
    }
}

impl SweepSettings {
    /// The longest a pass run by `serve` or the CLI may take: well within the claims it takes.
    pub fn pass_budget(&self) -> Duration {
        self.claim_lease / 2
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Records that were due when the pass began.
    pub due: usize,
    /// Fleet changes whose children were followed, and the next ones sent.
    pub fleets: usize,
    /// Succeeded changes whose verification got its answer (verified, or a mismatch).
    pub verified: usize,
    /// Scheduled changes sent to Graph because their window opened.
    pub opened: usize,
    /// Operations polled.
    pub polled: usize,
    /// Changes that reached a final status.
    pub finished: usize,
    /// Changes stuck in `submitting` that were reconciled with Graph.
    pub recovered: usize,
    /// Callback attempts made (and finished changes found with no report owed, settled).
    pub notified: usize,
    /// Records another sweeper (or the intake) claimed first.
    pub skipped: usize,
    /// Records left for the next pass because the deadline came.
    pub deferred: usize,
    /// Records whose visit failed; they stay due.
    pub errors: usize,
}

enum Visit {
    Verified { done: bool },
    Fleet { finished: bool },
    Opened { sent: bool, finished: bool },
    Polled { finished: bool },
    Recovered { finished: bool },
    Notified,
    Skipped,
    Deferred,
    Failed,
}

/// Why a visit ended without storing its result.
#[derive(Debug, thiserror::Error)]
enum VisitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the change cannot move on this way")]
    Transition(#[from] InvalidTransition),
}

impl Sweeper {
    /// Runs one pass. No record is visited after `deadline`; those stay due for the next pass.
    pub async fn sweep_once(&self, deadline: Instant) -> Result<SweepReport, StoreError> {
        let started = Instant::now();
        let now = self.clock.now();
        let due = self.store.due(now, self.settings.batch_size).await?;
        let mut report = SweepReport {
            due: due.len(),
            ..SweepReport::default()
        };
        // The stores hand out the longest-due record first.
        let backlog = due
            .first()
            .and_then(ChangeRecord::due)
            .and_then(|oldest| (now - oldest.at()).try_into().ok())
            .unwrap_or(Duration::ZERO);
        let (to_notify, to_follow): (Vec<_>, Vec<_>) = due
            .into_iter()
            .partition(|r| r.status().is_terminal() && !r.verifying());
        let (finished_tx, finished_rx) = mpsc::unbounded_channel();
        let follow = async move {
            let finished = finished_tx;
            futures::stream::iter(to_follow)
                .map(|record| self.follow(record, deadline, &finished))
                .buffer_unordered(self.settings.concurrency)
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
            .buffer_unordered(self.settings.concurrency)
            .collect::<Vec<Visit>>();
        let (followed, notified) = tokio::join!(follow, notify);
        for visit in followed.into_iter().chain(notified) {
            match visit {
                Visit::Verified { done } => {
                    report.verified += usize::from(done);
                }
                Visit::Fleet { finished } => {
                    report.fleets += 1;
                    report.finished += usize::from(finished);
                }
                Visit::Opened { sent, finished } => {
                    report.opened += usize::from(sent);
                    report.finished += usize::from(finished);
                }
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
        metrics::record(
            &[
                (Metric::SweepDue, report.due as f64),
                (
                    Metric::SweepBacklogAge,
                    metrics::duration(Metric::SweepBacklogAge, backlog),
                ),
                (
                    Metric::SweepDuration,
                    metrics::duration(Metric::SweepDuration, started.elapsed()),
                ),
            ],
            None,
        );
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
        let id = record.id().clone();
        let claim_started = Instant::now();
        let claimed = match self.claim(&record).await {
            Ok(claimed) => claimed,
            Err(e) => return self.lost(&id, e, "could not claim a due change"),
        };
        // Graph calls end before the claim does, so no one else can act on the record meanwhile.
        let call_deadline = deadline.min(claim_started + self.settings.claim_lease.mul_f32(0.8));
        let visited = match claimed.status() {
            _ if claimed.verifying() => self.verify(&claimed, call_deadline).await,
            _ if claimed.fleet().is_some() => self.advance_fleet(&claimed, call_deadline).await,
            Status::Queued | Status::Running => self
                .poll(&claimed, call_deadline)
                .await
                .map_err(VisitError::from),
            Status::Scheduled => self.open(&claimed, call_deadline).await,
            _ => self.recover(&claimed, call_deadline).await,
        };
        let next = match visited.and_then(|next| self.hold_for_callback(next)) {
            Ok(next) => next,
            Err(e) => return self.lost(&id, e, "could not visit a due change"),
        };
        let visit = match (claimed.status(), next.status()) {
            _ if claimed.verifying() => Visit::Verified {
                done: !next.verifying(),
            },
            _ if claimed.fleet().is_some() => Visit::Fleet {
                finished: next.status().is_terminal(),
            },
            (Status::Queued | Status::Running, now) => Visit::Polled {
                finished: now.is_terminal(),
            },
            (Status::Scheduled, now) => Visit::Opened {
                sent: !matches!(now, Status::Scheduled | Status::Expired),
                finished: now.is_terminal(),
            },
            // Still not known: the change is tried again later.
            (_, Status::Submitting) => Visit::Failed,
            (_, now) => Visit::Recovered {
                finished: now.is_terminal(),
            },
        };
        match self.store.update(&next).await {
            Ok(stored) => {
                if stored.status() != claimed.status() {
                    tracing::info!(change_id = %id, from = %claimed.status(), to = %stored.status(), "change moved");
                    if claimed.status() == Status::Scheduled {
                        // Sent from here, as the intake sends a change: Graph's refusal
                        // counts too.
                        fleet::count_end(&stored);
                    } else {
                        count_end(&stored);
                    }
                }
                if stored.pending_callback().is_some() {
                    let _ = finished.send(stored);
                }
                visit
            }
            Err(e) => self.lost(&id, e.into(), "could not store a sweep result"),
        }
    }

    /// A change that just finished owing a report is stored still claimed, so only this
    /// sweeper sends the callback.
    fn hold_for_callback(&self, next: ChangeRecord) -> Result<ChangeRecord, VisitError> {
        if next.pending_callback().is_none() {
            return Ok(next);
        }
        Ok(next.claim(self.claim_ends())?)
    }

    async fn claim(&self, record: &ChangeRecord) -> Result<ChangeRecord, VisitError> {
        let claim = record.claim(self.claim_ends())?;
        Ok(self.store.update(&claim).await?)
    }

    /// Sends changes to Graph with this sweeper's clients.
    fn submission(&self) -> Submission<'_> {
        Submission {
            graph: &self.graph,
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            pacing: &self.pacing,
        }
    }

    /// When a claim taken now runs out.
    fn claim_ends(&self) -> OffsetDateTime {
        self.clock.now() + self.settings.claim_lease
    }

    /// What a failed visit means: another writer won, or something is wrong.
    fn lost(&self, id: &ChangeId, e: VisitError, what: &str) -> Visit {
        match e {
            VisitError::Store(StoreError::Conflict { .. }) => Visit::Skipped,
            e => {
                tracing::error!(change_id = %id, error = %error_chain(&e), "{what}");
                Visit::Failed
            }
        }
    }
}
