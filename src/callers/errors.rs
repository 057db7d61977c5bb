//! Why a caller list cannot be used, entry by entry. No error holds a token or a secret.

use super::schemes::SchemeError;
use crate::change::{ActionKind, BadCallbackUrl, DeviceScopeError};
use crate::tickets::ConnectionError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// serde's own words, unless they could quote a mistyped value (which may be a token).
    #[error("not a valid caller list: {0}")]
    NotAList(String),
    #[error("the caller list is empty")]
    Empty,
    #[error("caller #{number}: {error}")]
    Caller { number: usize, error: CallerError },
    #[error("caller name {0:?} is used twice")]
    NameUsedTwice(String),
    #[error("caller {0:?} shares its token or secret with another caller")]
    SharedCredential(String),
}

#[derive(Debug, thiserror::Error)]
pub enum CallerError {
    #[error("name must be 1 to 64 printable characters")]
    Name,
    #[error("{name:?}: {problem}")]
    Entry { name: String, problem: EntryError },
}

/// What is wrong with the entry of a caller that has a name.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    #[error("the token must be at least {min} characters")]
    ShortToken { min: usize },
    #[error("tokenSha256 must be 64 hex digits")]
    TokenDigest,
    #[error("bearer auth takes exactly one of token or tokenSha256")]
    BearerForm,
    /// A standard-webhooks caller's `secret`, which is read as a `signingSecret` is.
    #[error("{}", .0.replace("signingSecret", "secret"))]
    WebhookSecret(&'static str),
    #[error(transparent)]
    Scheme(#[from] SchemeError),
    #[error("allow lists no action (use [\"*\"] for all)")]
    NoAction,
    #[error(
        "allow entry #{number} is not an action; known are {} or \"*\"",
        ActionKind::ALL.map(ActionKind::as_str).join(", ")
    )]
    UnknownAction { number: usize },
    #[error("{0}")]
    SigningSecret(&'static str),
    #[error("{0}")]
    CallbackAuthorization(&'static str),
    #[error("callbackAuthorization goes with callbacks, which need a signingSecret")]
    AuthorizationWithoutSecret,
    #[error(transparent)]
    Devices(#[from] DeviceScopeError),
    #[error("chat applies only to slack and teams-outgoing-webhook callers")]
    ChatNotForScheme,
    #[error("chat.resultWebhookUrl {0}")]
    ResultWebhookUrl(BadCallbackUrl),
    #[error(transparent)]
    Ticket(#[from] ConnectionError),
    #[error("ticket.writeBack is not available in this version of graphgate yet; use gate alone")]
    WriteBackNotYet,
}
