//! Secrets named by ARN that graphgate reads again while it runs, so that rotating one in
//! Secrets Manager needs no redeploy: after a time to live, and at once when the service that
//! checks the secret refuses the value graphgate holds. The time to live goes by the
//! process's clock, so a test moves it on instead of waiting it out.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::callers::{CallerRegistry, CallerSource};
use crate::clock::Clock;
use crate::graph::{Credential, CredentialSource};

/// How soon a read that failed, or found an unusable value, is tried again, when the time to
/// live is longer.
const RETRY_FAILED_READ: Duration = Duration::from_secs(60);

/// How often a refusal may make graphgate read the secret out of turn: a credential that is
/// simply wrong must not turn every sign-in into a Secrets Manager call.
const FORCED_READ_SPACING: Duration = Duration::from_secs(5);

/// The longest a read may take before the value held is kept: real time, as it measures
/// waiting on Secrets Manager.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Makes a value of a secret's text, or says why it cannot.
pub type Parse<T> = fn(&str) -> Result<T, String>;

/// A value parsed from a secret, kept for a time to live and then read again. Requests never
/// wait for a read that the time to live started: the first to find it due reads, and the
/// others go on with the value held.
pub struct RotatingSecret<T> {
    /// The `*_ARN` variable that names the secret, for the log.
    variable: &'static str,
    arn: String,
    ttl: Duration,
    parse: Parse<T>,
    state: Mutex<State<T>>,
    /// Held for the length of a read: one read at a time.
    reading: tokio::sync::Mutex<()>,
    /// What the time to live and the spacing of forced reads go by.
    clock: Arc<dyn Clock>,
}

struct State<T> {
    value: Arc<T>,
    /// SHA-256 of the text `value` was parsed from: a read that finds the same text keeps
    /// the same value, without parsing or keeping the secret's text.
    digest: [u8; 32],
    next_read: OffsetDateTime,
    last_forced: Option<OffsetDateTime>,
}

impl<T> fmt::Debug for RotatingSecret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotatingSecret")
            .field("variable", &self.variable)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl<T: Send + Sync> RotatingSecret<T> {
    /// Starts from `text`, already read from the secret at start-up.
    pub fn new(
        variable: &'static str,
        arn: String,
        ttl: Duration,
        parse: Parse<T>,
        text: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        Ok(Self {
            variable,
            arn,
            ttl,
            state: Mutex::new(State {
                value: Arc::new(parse(text)?),
                digest: Sha256::digest(text).into(),
                next_read: clock.now() + ttl,
                last_forced: None,
            }),
            reading: tokio::sync::Mutex::new(()),
            parse,
            clock,
        })
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn current(&self) -> Arc<T> {
        let held = {
            let state = self.state();
            if self.clock.now() < state.next_read {
                return state.value.clone();
            }
            state.value.clone()
        };
        let Ok(_reading) = self.reading.try_lock() else {
            return held;
        };
        // Another request may have finished a read between the two looks.
        if self.clock.now() >= self.state().next_read {
            self.read().await;
        }
        self.state().value.clone()
    }

    /// `refused` was turned down. Reads the secret at once, unless a newer value is already
    /// held or a forced read happened moments ago; returns whether a newer value is held.
    pub async fn refused(&self, refused: &Arc<T>) -> bool {
        {
            let mut state = self.state();
            if !Arc::ptr_eq(&state.value, refused) {
                return true;
            }
            let now = self.clock.now();
            if state
                .last_forced
                .is_some_and(|at| now < at + FORCED_READ_SPACING)
            {
                return false;
            }
            state.last_forced = Some(now);
        }
        let _reading = self.reading.lock().await;
        if Arc::ptr_eq(&self.state().value, refused) {
            self.read().await;
        }
        !Arc::ptr_eq(&self.state().value, refused)
    }

    /// Reads the secret; the caller holds `reading`. On any failure the value held stays in
    /// use; the log names the variable, never the secret's text.
    async fn read(&self) {
        let variable = self.variable;
        let retry_soon = self.clock.now() + self.ttl.min(RETRY_FAILED_READ);
        let text = match tokio::time::timeout(READ_TIMEOUT, crate::secrets::read(&self.arn)).await {
            Ok(Ok(text)) => text,
            Ok(Err(e)) => {
                tracing::warn!(variable, error = %e, "could not read the secret again; keeping the value held");
                self.state().next_read = retry_soon;
                return;
            }
            Err(_) => {
                tracing::warn!(
                    variable,
                    "reading the secret again timed out; keeping the value held"
                );
                self.state().next_read = retry_soon;
                return;
            }
        };
        let digest: [u8; 32] = Sha256::digest(&text).into();
        if digest == self.state().digest {
            self.state().next_read = self.clock.now() + self.ttl;
            return;
        }
        match (self.parse)(&text) {
            Ok(value) => {
                tracing::info!(variable, "the secret has a new value; using it from now on");
                let mut state = self.state();
                state.value = Arc::new(value);
                state.digest = digest;
                state.next_read = self.clock.now() + self.ttl;
            }
            Err(detail) => {
                tracing::error!(
                    variable,
                    detail,
                    "the secret's new value is unusable; keeping the value held"
                );
                self.state().next_read = retry_soon;
            }
        }
    }
}

#[async_trait]
impl CredentialSource for RotatingSecret<Credential> {
    async fn current(&self) -> Arc<Credential> {
        RotatingSecret::current(self).await
    }

    async fn refused(&self, refused: &Arc<Credential>) -> bool {
        RotatingSecret::refused(self, refused).await
    }
}

#[async_trait]
impl CallerSource for RotatingSecret<CallerRegistry> {
    async fn current(&self) -> Arc<CallerRegistry> {
        RotatingSecret::current(self).await
    }

    async fn unknown_token(&self, registry: &Arc<CallerRegistry>) -> bool {
        RotatingSecret::refused(self, registry).await
    }
}
