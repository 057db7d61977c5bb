//! A caller's entry in the registry, as written, and the caller it registers: each field
//! parsed into its type, with errors that never repeat a token or a secret.

use std::collections::HashSet;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::errors::{CallerError, EntryError};
use super::schemes::Scheme;
use super::{Allow, Caller};
use crate::callback::{CallbackAuthorization, SigningSecret};
use crate::change::{ActionKind, CallbackUrl, DeviceScope};
use crate::tickets::{Connection, TicketEntry};

/// Shortest plain bearer token accepted: 128 bits of hex, so a guessable token cannot slip in.
const MIN_TOKEN_LEN: usize = 32;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Entry {
    name: String,
    auth: AuthEntry,
    allow: Vec<String>,
    #[serde(rename = "signingSecret")]
    signing_secret: Option<String>,
    /// Sent as `Authorization` with its callbacks, for a receiver that takes no anonymous call.
    #[serde(rename = "callbackAuthorization")]
    callback_authorization: Option<String>,
    /// The only devices it may act on.
    devices: Option<DevicesEntry>,
    /// For a chat caller: who in the chat tool may use it.
    chat: Option<ChatEntry>,
    /// The ticket system its changes are gated on, or written back to.
    ticket: Option<TicketEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatEntry {
    /// Chat user IDs (Slack `U…`, Teams AAD object IDs) allowed; any, when absent.
    users: Option<Vec<String>>,
    /// Slack workspace (`T…`) or Teams tenant IDs allowed; any, when absent.
    teams: Option<Vec<String>>,
    /// Where final results go when the chat gives no reply URL of its own, or it expired: a
    /// Slack incoming webhook, or a Teams Workflows webhook.
    #[serde(rename = "resultWebhookUrl")]
    result_webhook_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevicesEntry {
    #[serde(rename = "idPatterns", default)]
    id_patterns: Vec<String>,
    #[serde(rename = "deviceTypes", default)]
    device_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
enum AuthEntry {
    Bearer {
        token: Option<String>,
        #[serde(rename = "tokenSha256")]
        token_sha256: Option<String>,
    },
    StandardWebhooks {
        secret: String,
    },
    HmacSha256 {
        secret: String,
        header: Option<String>,
    },
    Slack {
        secret: String,
    },
    TeamsOutgoingWebhook {
        secret: String,
    },
}

impl Entry {
    /// The caller this entry registers; no error repeats a token or a secret.
    pub(super) fn into_caller(self) -> Result<Caller, CallerError> {
        let entry = self;
        let name = entry.name.trim().to_owned();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(CallerError::Name);
        }
        let fail = |problem: EntryError| CallerError::Entry {
            name: name.clone(),
            problem,
        };
        let scheme = match entry.auth {
            AuthEntry::Bearer {
                token: Some(token),
                token_sha256: None,
            } => {
                if token.len() < MIN_TOKEN_LEN {
                    return Err(fail(EntryError::ShortToken { min: MIN_TOKEN_LEN }));
                }
                Scheme::Bearer(Sha256::digest(token.as_bytes()).into())
            }
            AuthEntry::Bearer {
                token: None,
                token_sha256: Some(hex_digest),
            } => {
                let mut digest = [0u8; 32];
                hex::decode_to_slice(hex_digest.trim(), &mut digest)
                    .map_err(|_| fail(EntryError::TokenDigest))?;
                Scheme::Bearer(digest)
            }
            AuthEntry::Bearer { .. } => {
                return Err(fail(EntryError::BearerForm));
            }
            AuthEntry::StandardWebhooks { secret } => SigningSecret::parse(&secret)
                .map(Scheme::StandardWebhooks)
                .map_err(|e| fail(EntryError::WebhookSecret(e)))?,
            AuthEntry::HmacSha256 { secret, header } => {
                Scheme::hmac_sha256(&secret, header.as_deref()).map_err(|e| fail(e.into()))?
            }
            AuthEntry::Slack { secret } => Scheme::slack(&secret).map_err(|e| fail(e.into()))?,
            AuthEntry::TeamsOutgoingWebhook { secret } => {
                Scheme::teams(&secret).map_err(|e| fail(e.into()))?
            }
        };
        if entry.allow.is_empty() {
            return Err(fail(EntryError::NoAction));
        }
        let allow = if entry.allow.iter().any(|a| a == "*") {
            Allow::All
        } else {
            let mut kinds = HashSet::new();
            for (i, a) in entry.allow.iter().enumerate() {
                let kind = ActionKind::parse(a)
                    .ok_or_else(|| fail(EntryError::UnknownAction { number: i + 1 }))?;
                kinds.insert(kind);
            }
            Allow::Only(kinds)
        };
        let signing_secret = entry
            .signing_secret
            .map(|raw| SigningSecret::parse(&raw).map_err(|e| fail(EntryError::SigningSecret(e))))
            .transpose()?;
        let callback_authorization = entry
            .callback_authorization
            .map(|raw| {
                CallbackAuthorization::parse(&raw)
                    .map_err(|e| fail(EntryError::CallbackAuthorization(e)))
            })
            .transpose()?;
        // It travels with callbacks, and only a caller with a signingSecret gets any.
        if callback_authorization.is_some() && signing_secret.is_none() {
            return Err(fail(EntryError::AuthorizationWithoutSecret));
        }
        let devices = entry
            .devices
            .map(|d| DeviceScope::parse(&d.id_patterns, &d.device_types))
            .transpose()
            .map_err(|e| fail(e.into()))?;
        let (chat_users, chat_teams, chat_results) = match entry.chat {
            None => (None, None, None),
            Some(_)
                if !matches!(
                    scheme,
                    Scheme::Slack { .. } | Scheme::TeamsOutgoingWebhook { .. }
                ) =>
            {
                return Err(fail(EntryError::ChatNotForScheme));
            }
            Some(chat) => (
                chat.users.map(|u| u.into_iter().collect()),
                chat.teams.map(|t| t.into_iter().collect()),
                chat.result_webhook_url
                    .map(|raw| {
                        CallbackUrl::parse(&raw).map_err(|e| fail(EntryError::ResultWebhookUrl(e)))
                    })
                    .transpose()?,
            ),
        };
        let ticket = entry
            .ticket
            .map(Connection::try_from)
            .transpose()
            .map_err(|e| fail(e.into()))?;
        if ticket.as_ref().is_some_and(|t| t.write_back) {
            return Err(fail(EntryError::WriteBackNotYet));
        }
        Ok(Caller {
            name,
            scheme,
            allow,
            signing_secret,
            callback_authorization,
            devices,
            chat_users,
            chat_teams,
            chat_results,
            ticket,
        })
    }
}
