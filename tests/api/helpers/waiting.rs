//! Waiting for what happens in its own time, by asking until it has happened.

use std::time::Duration;

use tokio::time::Instant;

/// Asks `check` every 20 ms until it answers `Some`, for at most `within`, and panics naming
/// `what` if it never does: for what happens in its own time, in another task, thread or
/// process, so that a test waits exactly as long as that takes rather than a guessed sleep.
pub async fn eventually<T, F>(what: &str, within: Duration, mut check: impl FnMut() -> F) -> T
where
    F: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A pass deadline far enough off that no test meets it by accident.
pub fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}
