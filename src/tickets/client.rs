//! Calling ticket systems: through the process's outbound client (no redirects, no proxy,
//! only the addresses the deployment allows), with a cache of OAuth tokens; and what their
//! answers mean.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use super::TicketError;
use super::connection::BaseUrl;
use crate::outbound::Outbound;

/// Calls ticket systems; one per process.
pub struct TicketClient {
    outbound: Arc<Outbound>,
    /// By instance and client ID, the OAuth token graphgate holds and when it stops
    /// being used.
    tokens: Mutex<HashMap<(String, String), (SecretString, Instant)>>,
}

/// How long before its end a token is fetched again, so none expires in flight.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

impl TicketClient {
    /// A client sending through `outbound`, under its rules for where requests may go.
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self {
            outbound,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client, once `base` is known to be one the deployment may call.
    pub(super) fn http(&self, base: &BaseUrl) -> Result<&reqwest::Client, TicketError> {
        self.outbound
            .check(base.written())
            .map_err(|e| TicketError::NotAllowed(e.to_string()))?;
        Ok(self.outbound.http())
    }

    /// The token held for `client_id` at `base`, or a new one from `fetch`.
    pub(super) async fn token<F, Fut>(
        &self,
        base: &BaseUrl,
        client_id: &str,
        fetch: F,
    ) -> Result<SecretString, TicketError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(SecretString, Duration), TicketError>>,
    {
        let slot = (base.url().to_string(), client_id.to_owned());
        if let Some((token, until)) = self.held().get(&slot)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let (token, lifetime) = fetch().await?;
        let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
        self.held().insert(slot, (token.clone(), until));
        Ok(token)
    }

    /// Forgets the token held for `client_id` at `base`: the instance refused it.
    pub(super) fn forget_token(&self, base: &BaseUrl, client_id: &str) {
        self.held()
            .remove(&(base.url().to_string(), client_id.to_owned()));
    }

    fn held(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<(String, String), (SecretString, Instant)>> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends `request`; a 2xx answer, or what the status says went wrong.
pub(super) async fn answer(request: RequestBuilder) -> Result<Response, TicketError> {
    let response = request.send().await.map_err(|e| {
        tracing::warn!(error = %crate::telemetry::error_chain(&e), "a ticket system did not answer");
        TicketError::Unavailable { retry_after: None }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    Err(match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TicketError::SignIn(status),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::REQUEST_TIMEOUT => TicketError::Unavailable {
            retry_after: retry_after(&response),
        },
        s if s.is_server_error() => TicketError::Unavailable {
            retry_after: retry_after(&response),
        },
        s => {
            tracing::warn!(status = s.as_u16(), "a ticket system refused a request");
            TicketError::Status(s)
        }
    })
}

/// The body of a 2xx answer, as the system documents it.
pub(super) async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, TicketError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|_| TicketError::Unavailable { retry_after: None })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        // Where it went wrong, not serde's words: they may quote a value, and a token
        // answer holds a token.
        tracing::warn!(
            line = e.line(),
            column = e.column(),
            "a ticket system's answer is not what its API documents"
        );
        TicketError::Unreadable
    })
}

/// A `Retry-After` in seconds, within reason.
fn retry_after(response: &Response) -> Option<Duration> {
    let seconds: u64 = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds.clamp(1, 300)))
}
