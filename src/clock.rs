//! Time, as graphgate's decisions see it. Every rule about a change's life (leases, polls,
//! timeouts, callback retries) takes `now` from a [`Clock`], so a test can stand in a clock of
//! its own and move time on instead of sleeping through it. Deadlines for I/O (how long a Graph call may take) stay on
//! tokio's monotonic clock: they measure real waiting, not the change's calendar.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

/// Where `now` comes from.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> OffsetDateTime;
}

/// The system's wall clock: what every graphgate process runs on.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The longest a Lambda invocation runs.
const MAX_INVOCATION: Duration = Duration::from_secs(900);

/// The time from now to a Lambda invocation's `deadline`, less `margin` kept back to answer;
/// `None` when the deadline cannot be the Lambda service's: already past as the invocation
/// arrives, or further off than any invocation runs. `cargo lambda watch` sends a duration
/// (600000) where Lambda sends an epoch time, which reads as a moment in 1970; the caller then
/// goes by its own configured time. Real time: the deadline is the Lambda service's, not a
/// rule of graphgate's.
pub fn invocation_time_left(deadline: SystemTime, margin: Duration) -> Option<Duration> {
    let left = deadline
        .duration_since(SystemTime::now())
        .ok()
        .filter(|left| !left.is_zero() && *left <= MAX_INVOCATION + Duration::from_secs(60));
    if left.is_none() {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| {
            tracing::warn!(
                ?deadline,
                "the invocation's deadline is implausible (cargo lambda sends a duration); using the configured timeouts"
            );
        });
    }
    left.map(|left| left.saturating_sub(margin))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_keeps_the_margin_back_and_refuses_what_lambda_never_sends() {
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let left = invocation_time_left(deadline, Duration::from_secs(5)).unwrap();
        assert!(left <= Duration::from_secs(55) && left > Duration::from_secs(50));
        let nearly_over = SystemTime::now() + Duration::from_secs(2);
        assert_eq!(
            invocation_time_left(nearly_over, Duration::from_secs(5)),
            Some(Duration::ZERO)
        );
        // cargo lambda's Lambda-Runtime-Deadline-Ms: 600000, read as an epoch time.
        let cargo_lambda = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(invocation_time_left(cargo_lambda, Duration::ZERO), None);
        assert_eq!(
            invocation_time_left(SystemTime::now(), Duration::ZERO),
            None
        );
        let next_week = SystemTime::now() + Duration::from_secs(7 * 86_400);
        assert_eq!(invocation_time_left(next_week, Duration::ZERO), None);
    }
}
