//! Access tokens by the client-credentials grant, cached and refreshed before they expire.
//! When Entra refuses the credential as invalid or expired, the credential source is asked
//! for a newer one (a rotated secret) and the request is made once more. When a token is due
//! goes by the process's clock; how long a request may take, by real time.

use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use super::credential::{Credential, CredentialSource};
use super::error::GraphError;
use super::http::LazyHttp;
use super::retry::{self, RetryPolicy};
use crate::clock::Clock;

/// graphgate's app registration, as the token endpoint knows it.
#[derive(Debug, Clone)]
pub struct ClientCredentials {
    pub token_url: Url,
    pub client_id: String,
    pub credential: Arc<dyn CredentialSource>,
    /// `{graph origin}/.default`.
    pub scope: String,
}

/// A bearer token. Cloning shares it; it never prints.
#[derive(Clone)]
pub struct AccessToken(Arc<SecretString>);

impl AccessToken {
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    fn same_as(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

struct Cached {
    token: AccessToken,
    refresh_at: OffsetDateTime,
    expires_at: OffsetDateTime,
}

/// A failed fetch, remembered briefly so requests queued behind it fail at once instead of
/// each asking the token endpoint again.
struct RecentFailure {
    at: OffsetDateTime,
    refusal: Option<(u16, String)>,
}

/// How long a failed token fetch is answered from memory.
const FAILURE_MEMORY: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Cache {
    token: Option<Cached>,
    failure: Option<RecentFailure>,
}

/// Hands out tokens, asking the token endpoint only when the cached one is due for refresh.
/// The lock is held across the fetch, so a burst of requests on a cold cache makes one call.
pub struct TokenSource {
    http: LazyHttp,
    credentials: ClientCredentials,
    retry: RetryPolicy,
    cache: Mutex<Cache>,
    clock: Arc<dyn Clock>,
}

impl TokenSource {
    pub fn new(
        http: LazyHttp,
        credentials: ClientCredentials,
        retry: RetryPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            http,
            credentials,
            retry,
            cache: Mutex::new(Cache::default()),
            clock,
        }
    }

    pub async fn token(&self, deadline: Instant) -> Result<AccessToken, GraphError> {
        let mut cache = self.cache.lock().await;
        let now = self.clock.now();
        if let Some(cached) = cache.token.as_ref().filter(|c| now < c.refresh_at) {
            return Ok(cached.token.clone());
        }
        let usable = cache
            .token
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| c.token.clone());
        if let Some(failure) = cache
            .failure
            .as_ref()
            .filter(|f| now < f.at + FAILURE_MEMORY)
        {
            return match usable {
                Some(token) => Ok(token),
                None => Err(failure.error()),
            };
        }
        match self.fetch(deadline).await {
            Ok(fresh) => {
                let token = fresh.token.clone();
                *cache = Cache {
                    token: Some(fresh),
                    failure: None,
                };
                Ok(token)
            }
            Err(e) => {
                cache.failure = Some(RecentFailure {
                    at: self.clock.now(),
                    refusal: match &e {
                        GraphError::TokenRefused { http_status, error } => {
                            Some((*http_status, error.clone()))
                        }
                        _ => None,
                    },
                });
                // A token that is due for refresh but not yet expired still works.
                match usable {
                    Some(token) => {
                        tracing::warn!(error = %e, "token refresh failed; using the cached token until it expires");
                        Ok(token)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// Forgets `stale` after Graph refused it, unless another request already replaced it.
    pub async fn invalidate(&self, stale: &AccessToken) {
        let mut cache = self.cache.lock().await;
        if cache.token.as_ref().is_some_and(|c| c.token.same_as(stale)) {
            cache.token = None;
        }
    }

    async fn fetch(&self, deadline: Instant) -> Result<Cached, GraphError> {
        let source = &self.credentials.credential;
        let credential = source.current().await;
        match self.request(&credential, deadline).await? {
            Ok(granted) => Ok(granted),
            Err(refusal) if refusal.credential_rejected() && source.refused(&credential).await => {
                tracing::info!(
                    "the credential was refused and a newer one was found; asking again"
                );
                let fresh = source.current().await;
                self.request(&fresh, deadline)
                    .await?
                    .map_err(TokenRefusal::into_error)
            }
            Err(refusal) => Err(refusal.into_error()),
        }
    }

    /// One token request: a grant, Entra's refusal, or a failure to get either.
    async fn request(
        &self,
        credential: &Credential,
        deadline: Instant,
    ) -> Result<Result<Cached, TokenRefusal>, GraphError> {
        let c = &self.credentials;
        let presented = credential
            .form_fields(&c.token_url, &c.client_id)
            .map_err(|e| GraphError::Credential(e.to_string()))?;
        // Each retry presents the credential afresh: an assertion's `jti` is single-use, and
        // Entra may refuse a retry that repeats it. Signing that worked once works again; if
        // it ever did not, the first presentation goes, and Entra's answer tells.
        let mut first = Some(presented.clone());
        let mut form = || {
            let mut form = vec![
                ("client_id", c.client_id.clone()),
                ("scope", c.scope.clone()),
                ("grant_type", "client_credentials".to_owned()),
            ];
            form.extend(first.take().unwrap_or_else(|| {
                credential
                    .form_fields(&c.token_url, &c.client_id)
                    .unwrap_or_else(|e| {
                        tracing::error!(error = %e, "could not present the credential again");
                        presented.clone()
                    })
            }));
            form
        };
        let started = self.clock.now();
        let response = retry::send(&self.retry, deadline, None, || {
            self.http.post(c.token_url.clone()).form(&form())
        })
        .await?
        .response;
        let status = response.status();
        let body = response.bytes().await.map_err(GraphError::Transport)?;
        if !status.is_success() {
            let mut refusal = serde_json::from_slice::<TokenRefusal>(&body).unwrap_or_default();
            refusal.http_status = status.as_u16();
            tracing::warn!(
                status = status.as_u16(),
                error = refusal.error.as_deref().unwrap_or("-"),
                description = refusal.error_description.as_deref().unwrap_or("-"),
                "token endpoint refused the request"
            );
            return Ok(Err(refusal));
        }
        let granted: TokenGrant =
            serde_json::from_slice(&body).map_err(|source| GraphError::Unexpected {
                what: "the token endpoint",
                source,
            })?;
        let lifetime = Duration::from_secs_f64(granted.expires_in.seconds());
        // Refresh five minutes early, or halfway through a short-lived token.
        let margin = Duration::from_secs(300).min(lifetime / 2);
        tracing::info!(
            expires_in_secs = lifetime.as_secs(),
            "fetched a Graph token"
        );
        Ok(Ok(Cached {
            token: AccessToken(Arc::new(SecretString::from(granted.access_token))),
            refresh_at: started + lifetime - margin,
            expires_at: started + lifetime,
        }))
    }
}

impl RecentFailure {
    fn error(&self) -> GraphError {
        match &self.refusal {
            Some((http_status, error)) => GraphError::TokenRefused {
                http_status: *http_status,
                error: error.clone(),
            },
            None => GraphError::Unavailable {
                reason: "the token endpoint failed a moment ago".into(),
                retry_after: Some(FAILURE_MEMORY),
                outcome_unknown: false,
            },
        }
    }
}

#[derive(Deserialize)]
struct TokenGrant {
    access_token: String,
    expires_in: Seconds,
}

/// `expires_in` arrives as a number from Entra ID and as a string from some older endpoints.
#[derive(Deserialize)]
#[serde(untagged)]
enum Seconds {
    Number(f64),
    Text(String),
}

impl Seconds {
    fn seconds(&self) -> f64 {
        let raw = match self {
            Seconds::Number(n) => *n,
            Seconds::Text(s) => s.trim().parse().unwrap_or(0.0),
        };
        if raw.is_finite() {
            raw.clamp(0.0, 86_400.0)
        } else {
            0.0
        }
    }
}

#[derive(Deserialize, Default)]
struct TokenRefusal {
    #[serde(skip)]
    http_status: u16,
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenRefusal {
    /// Whether Entra refused the credential itself (a wrong, expired or rotated-away secret or
    /// certificate), rather than the request: `invalid_client`, which carries AADSTS7000215
    /// (invalid secret) and AADSTS7000222 (expired secret), among others.
    fn credential_rejected(&self) -> bool {
        self.error.as_deref() == Some("invalid_client")
            || self.error_description.as_deref().is_some_and(|d| {
                ["AADSTS7000215", "AADSTS7000222"]
                    .iter()
                    .any(|code| d.contains(code))
            })
    }

    fn into_error(self) -> GraphError {
        GraphError::TokenRefused {
            http_status: self.http_status,
            error: self.error.unwrap_or_else(|| "unknown".into()),
        }
    }
}
