//! Secrets named by ARN that graphgate reads again while it runs, so that rotating one in
//! Secrets Manager needs no redeploy: after a time to live, and at once when the service that
//! checks the secret refuses the value graphgate holds.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::callers::{CallerRegistry, CallerSource};
use crate::graph::{Credential, CredentialSource};

/// How soon a read that failed is tried again, when the time to live is longer.
const RETRY_FAILED_READ: Duration = Duration::from_secs(60);

/// How often a refusal may make graphgate read the secret out of turn: a credential that is
/// simply wrong must not turn every sign-in into a Secrets Manager call.
const FORCED_READ_SPACING: Duration = Duration::from_secs(5);

/// Makes a value of a secret's text, or says why it cannot.
pub type Parse<T> = fn(&str) -> Result<T, String>;

/// A value parsed from a secret, kept for a time to live and then read again.
pub struct RotatingSecret<T> {
    /// The `*_ARN` variable that names the secret, for the log.
    variable: &'static str,
    arn: String,
    ttl: Duration,
    parse: Parse<T>,
    state: Mutex<State<T>>,
}

struct State<T> {
    value: Arc<T>,
    /// SHA-256 of the text `value` was parsed from: a read that finds the same text keeps
    /// the same value, without parsing or keeping the secret's text.
    digest: [u8; 32],
    next_read: Instant,
    last_forced: Option<Instant>,
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
    ) -> Result<Self, String> {
        Ok(Self {
            variable,
            arn,
            ttl,
            state: Mutex::new(State {
                value: Arc::new(parse(text)?),
                digest: Sha256::digest(text).into(),
                next_read: Instant::now() + ttl,
                last_forced: None,
            }),
            parse,
        })
    }

    pub async fn current(&self) -> Arc<T> {
        let mut state = self.state.lock().await;
        if Instant::now() >= state.next_read {
            self.read(&mut state).await;
        }
        state.value.clone()
    }

    /// `refused` was turned down. Reads the secret at once, unless a newer value is already
    /// held or a forced read happened moments ago; returns whether a newer value is held.
    pub async fn refused(&self, refused: &Arc<T>) -> bool {
        let mut state = self.state.lock().await;
        if !Arc::ptr_eq(&state.value, refused) {
            return true;
        }
        let now = Instant::now();
        if state
            .last_forced
            .is_some_and(|at| now < at + FORCED_READ_SPACING)
        {
            return false;
        }
        state.last_forced = Some(now);
        self.read(&mut state).await;
        !Arc::ptr_eq(&state.value, refused)
    }

    /// Reads the secret. On any failure the value held stays in use; the log names the
    /// variable, never the secret's text.
    async fn read(&self, state: &mut State<T>) {
        let variable = self.variable;
        let text = match crate::secrets::read(&self.arn).await {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(variable, error = %e, "could not read the secret again; keeping the value held");
                state.next_read = Instant::now() + self.ttl.min(RETRY_FAILED_READ);
                return;
            }
        };
        state.next_read = Instant::now() + self.ttl;
        let digest: [u8; 32] = Sha256::digest(&text).into();
        if digest == state.digest {
            return;
        }
        match (self.parse)(&text) {
            Ok(value) => {
                tracing::info!(variable, "the secret has a new value; using it from now on");
                state.value = Arc::new(value);
                state.digest = digest;
            }
            Err(detail) => {
                tracing::error!(
                    variable,
                    detail,
                    "the secret's new value is unusable; keeping the value held"
                );
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
