//! Time, as graphgate's decisions see it. Every rule about a change's life (leases, polls,
//! timeouts, callback retries) takes `now` from a [`Clock`], so a test can stand in a clock of
//! its own and move time on instead of sleeping through it. Deadlines for I/O (how long a Graph call may take) stay on
//! tokio's monotonic clock: they measure real waiting, not the change's calendar.

use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

/// Where `now` comes from.
pub trait Clock: Send + Sync {
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

/// The time from now to a Lambda invocation's `deadline`, less `margin` kept back to answer.
/// Real time: the deadline is the Lambda service's, not a rule of graphgate's.
pub fn time_left(deadline: SystemTime, margin: Duration) -> Duration {
    deadline
        .duration_since(SystemTime::now())
        .unwrap_or_default()
        .saturating_sub(margin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_keeps_the_margin_back() {
        let deadline = SystemTime::now() + Duration::from_secs(60);
        let left = time_left(deadline, Duration::from_secs(5));
        assert!(left <= Duration::from_secs(55) && left > Duration::from_secs(50));
        assert_eq!(
            time_left(SystemTime::now(), Duration::from_secs(5)),
            Duration::ZERO
        );
    }
}
