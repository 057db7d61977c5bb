//! When a change is looked at next, and why: the timing rules of a change's life.
//!
//! A stored change that still needs a visit carries one [`Due`]. Its meanings share one
//! time, because the stores keep one indexed attribute for "due at", but each has its own
//! name so that no rule mistakes a lease for a poll.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::Status;

/// How often Graph may decline a change (throttled past the retries, unreachable) before
/// graphgate stops sending it again: a scheduled change, or a fleet's device.
pub const MAX_NOT_TAKEN: u32 = 5;

/// Why, and from when, a change waits for the sweeper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "for", content = "at", rename_all = "camelCase")]
pub enum Due {
    /// `submitting`: its submitter holds it until then. Past it the submitter is presumed
    /// dead, and the sweeper finds out what Graph did.
    Lease(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// A sweeper holds it until then; past it, another sweeper may take it over.
    Claim(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// Its Graph operation is polled then (or, still `submitting`, looked for again).
    Poll(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// It has finished, and its callback is attempted then.
    Callback(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// `scheduled`: its window opens then, and it is sent to Graph.
    Open(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
    /// It succeeded in Graph, and its target is looked at then, to verify it shows.
    Verify(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
}

impl Due {
    /// The time the stores index: the change is due from then on.
    pub fn at(self) -> OffsetDateTime {
        match self {
            Due::Lease(at)
            | Due::Claim(at)
            | Due::Poll(at)
            | Due::Callback(at)
            | Due::Open(at)
            | Due::Verify(at) => at,
        }
    }

    /// What a bare time meant in records written before `Due` had names: the status says.
    pub(super) fn implied(status: Status, at: OffsetDateTime) -> Self {
        match status {
            Status::Scheduled => Due::Open(at),
            Status::Submitting => Due::Lease(at),
            s if s.is_terminal() => Due::Callback(at),
            _ => Due::Poll(at),
        }
    }
}

/// How a change's visits are spaced: the backoff between polls, the operation timeout and
/// the callback retries. Pure rules over `now`; the sweeper and the intake apply them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pacing {
    /// How long after Graph accepts an action its operation is first polled.
    pub first_poll: Duration,
    /// The first wait between polls of an operation; it doubles per poll up to `poll_max`.
    pub poll_base: Duration,
    pub poll_max: Duration,
    /// An operation with no final status this long after the change was made is `timedOut`.
    pub operation_timeout: Duration,
    /// How long after a change succeeds its target may take to show it, before the
    /// verification is a mismatch.
    pub verify_timeout: Duration,
    /// Callback attempts before giving up, and the first wait between them (it doubles).
    pub callback_attempts: u32,
    pub callback_retry_base: Duration,
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            first_poll: Duration::from_secs(15),
            poll_base: Duration::from_secs(15),
            poll_max: Duration::from_secs(300),
            operation_timeout: Duration::from_secs(4 * 3600),
            verify_timeout: Duration::from_secs(2 * 3600),
            callback_attempts: 8,
            callback_retry_base: Duration::from_secs(30),
        }
    }
}

/// The shortest wait Graph's `Retry-After` is taken at, so a `0` cannot make a busy loop.
const MIN_RETRY_AFTER: Duration = Duration::from_secs(1);

impl Pacing {
    /// The longest `operation_timeout` may be, so the longest a change can run.
    pub const MAX_OPERATION_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

    /// The wait after the `polls`-th look at a change that is not final yet: as long as
    /// Graph's `Retry-After` asks, or else the doubling backoff.
    pub fn poll_wait(&self, polls: u32, retry_after: Option<Duration>) -> Duration {
        match retry_after {
            Some(wait) => wait.max(MIN_RETRY_AFTER),
            None => self
                .poll_base
                .saturating_mul(2u32.saturating_pow(polls.max(1) - 1))
                .min(self.poll_max),
        }
    }

    /// The wait after the `attempts`-th failed callback attempt, or `None` when that was
    /// the last one allowed.
    pub fn callback_wait(&self, attempts: u32) -> Option<Duration> {
        (attempts < self.callback_attempts).then(|| {
            self.callback_retry_base
                .saturating_mul(2u32.saturating_pow(attempts.max(1) - 1))
        })
    }

    /// Whether a change sent to Graph at `submitted_at` has had longer than its operation
    /// may take.
    pub fn overdue(&self, submitted_at: OffsetDateTime, now: OffsetDateTime) -> bool {
        now - submitted_at > self.operation_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn polls_back_off_doubling_up_to_the_cap() {
        let pacing = Pacing::default();
        let waits: Vec<u64> = (1..=7)
            .map(|polls| pacing.poll_wait(polls, None).as_secs())
            .collect();
        assert_eq!(waits, [15, 30, 60, 120, 240, 300, 300]);
        assert_eq!(
            pacing.poll_wait(0, None),
            S(15),
            "a first look waits the base"
        );
        assert_eq!(pacing.poll_wait(u32::MAX, None), S(300), "no overflow");
    }

    #[test]
    fn retry_after_replaces_the_backoff_but_never_below_a_second() {
        let pacing = Pacing::default();
        assert_eq!(
            pacing.poll_wait(1, Some(Duration::from_millis(7500))),
            Duration::from_millis(7500)
        );
        assert_eq!(
            pacing.poll_wait(5, Some(S(2))),
            S(2),
            "shorter than the backoff too"
        );
        assert_eq!(pacing.poll_wait(1, Some(Duration::ZERO)), S(1));
    }

    #[test]
    fn callbacks_retry_doubling_until_the_last_attempt() {
        let pacing = Pacing {
            callback_attempts: 4,
            ..Pacing::default()
        };
        let waits: Vec<Option<u64>> = (1..=4)
            .map(|attempts| pacing.callback_wait(attempts).map(|w| w.as_secs()))
            .collect();
        assert_eq!(waits, [Some(30), Some(60), Some(120), None]);
    }

    #[test]
    fn an_operation_is_overdue_only_past_the_timeout() {
        let pacing = Pacing::default();
        let made = OffsetDateTime::UNIX_EPOCH;
        assert!(!pacing.overdue(made, made + S(4 * 3600)));
        assert!(pacing.overdue(made, made + S(4 * 3600) + Duration::from_millis(1)));
    }

    #[test]
    fn a_bare_time_means_what_the_status_says() {
        let at = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(Due::implied(Status::Submitting, at), Due::Lease(at));
        assert_eq!(Due::implied(Status::Running, at), Due::Poll(at));
        assert_eq!(Due::implied(Status::Failed, at), Due::Callback(at));
    }
}
