//! The test app's clock, which moves only when a test moves it.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;

/// A clock that stands still until a test moves it on, so timing rules are tested without
/// sleeping.
#[derive(Debug)]
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn starting_at(now: OffsetDateTime) -> Self {
        Self(Mutex::new(now))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl graphgate::clock::Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}
