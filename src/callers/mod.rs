//! Who may call graphgate, how they prove it, what each may ask for and on which devices, and
//! the secret its callbacks are signed with (and the credential they carry).

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::callback::{CallbackAuthorization, SigningSecret};
use crate::change::{ActionKind, CallbackUrl, DeviceScope};
use crate::tickets::{Connection, TicketEntry};

mod errors;
mod schemes;

pub use errors::{CallerError, EntryError, RegistryError};
pub use schemes::{Delivery, Route, Scheme, SchemeError};
/// Shortest plain bearer token accepted: 128 bits of hex, so a guessable token cannot slip in.
const MIN_TOKEN_LEN: usize = 32;

/// A registered caller, after authentication.
pub struct Caller {
    name: String,
    scheme: Scheme,
    allow: Allow,
    signing_secret: Option<SigningSecret>,
    callback_authorization: Option<CallbackAuthorization>,
    devices: Option<DeviceScope>,
    chat_users: Option<HashSet<String>>,
    chat_teams: Option<HashSet<String>>,
    chat_results: Option<CallbackUrl>,
    ticket: Option<Connection>,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("name", &self.name)
            .field("scheme", &self.scheme)
            .field("allow", &self.allow)
            .field("devices", &self.devices)
            .finish_non_exhaustive()
    }
}

impl Caller {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn scheme(&self) -> &Scheme {
        &self.scheme
    }

    /// The secret callbacks to this caller are signed with; without one it gets none.
    pub fn signing_secret(&self) -> Option<&SigningSecret> {
        self.signing_secret.as_ref()
    }

    /// The `Authorization` its callbacks carry, for a receiver that demands one.
    pub fn callback_authorization(&self) -> Option<&CallbackAuthorization> {
        self.callback_authorization.as_ref()
    }

    /// The devices the caller is limited to; any device, when `None`. App installations are
    /// not devices: a limit does not reach them.
    pub fn devices(&self) -> Option<&DeviceScope> {
        self.devices.as_ref()
    }

    /// Where a chat command's final result goes when the chat's own reply URL cannot take it.
    pub fn chat_results(&self) -> Option<&CallbackUrl> {
        self.chat_results.as_ref()
    }

    /// Where the caller's tickets are, if graphgate gates its changes on them or writes
    /// their results back.
    pub fn ticket(&self) -> Option<&Connection> {
        self.ticket.as_ref()
    }

    /// The caller's ticket connection, if its changes go ahead only on an approved ticket.
    pub fn gate(&self) -> Option<&Connection> {
        self.ticket.as_ref().filter(|connection| connection.gate)
    }

    /// Whether a chat user, of a workspace or tenant, may use this caller.
    pub fn admits_chat_user(&self, user: &str, team: &str) -> bool {
        self.chat_users.as_ref().is_none_or(|u| u.contains(user))
            && self.chat_teams.as_ref().is_none_or(|t| t.contains(team))
    }

    pub fn may(&self, action: ActionKind) -> bool {
        match &self.allow {
            Allow::All => true,
            Allow::Only(kinds) => kinds.contains(&action),
        }
    }

    /// Whether the caller may read the device inventory: it may act on devices.
    pub fn may_read_devices(&self) -> bool {
        ActionKind::ALL
            .into_iter()
            .any(|kind| kind.on_device() && self.may(kind))
    }
}

#[derive(Debug)]
enum Allow {
    All,
    Only(HashSet<ActionKind>),
}

/// The registered callers. Only SHA-256 digests of tokens are kept.
#[derive(Debug)]
pub struct CallerRegistry {
    callers: Vec<Arc<Caller>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
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

impl CallerRegistry {
    /// Parses the caller list: a JSON array of callers. No error repeats a token.
    pub fn parse(json: &str) -> Result<Self, RegistryError> {
        let entries: Vec<Entry> = serde_json::from_str(json).map_err(|e| {
            // serde quotes a mistyped value, which may be a token; say only where it is.
            let message = e.to_string();
            let what =
                if message.starts_with("invalid type") || message.starts_with("invalid value") {
                    format!(
                        "a value has the wrong type or form at line {} column {}",
                        e.line(),
                        e.column()
                    )
                } else {
                    message
                };
            RegistryError::NotAList(what)
        })?;
        if entries.is_empty() {
            return Err(RegistryError::Empty);
        }
        let mut callers: Vec<Arc<Caller>> = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let caller = Self::caller(entry).map_err(|error| RegistryError::Caller {
                number: i + 1,
                error,
            })?;
            if callers.iter().any(|c| c.name == caller.name) {
                return Err(RegistryError::NameUsedTwice(caller.name.clone()));
            }
            if callers
                .iter()
                .any(|c| c.scheme.same_credential(&caller.scheme))
            {
                return Err(RegistryError::SharedCredential(caller.name.clone()));
            }
            callers.push(Arc::new(caller));
        }
        Ok(Self { callers })
    }

    fn caller(entry: Entry) -> Result<Caller, CallerError> {
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

    /// Every caller, in the registry's order.
    pub fn callers(&self) -> impl Iterator<Item = &Caller> {
        self.callers.iter().map(AsRef::as_ref)
    }

    pub fn get(&self, name: &str) -> Option<&Caller> {
        self.callers
            .iter()
            .map(AsRef::as_ref)
            .find(|c| c.name == name)
    }

    /// The caller whose proof `delivery` carries, among those `route` takes. Every such
    /// caller is checked, so the time taken does not say which one matched.
    pub fn authenticate(&self, route: Route, delivery: &Delivery<'_>) -> Option<Arc<Caller>> {
        let mut found = None;
        for caller in self.callers.iter().filter(|c| c.scheme.serves(route)) {
            if caller.scheme.verify(delivery) {
                found = Some(caller);
            }
        }
        found.cloned()
    }
}

/// Where the registry comes from. One given in the environment never changes; one read from
/// Secrets Manager by ARN is read again after a time to live (see `config`), so that adding a
/// caller or rotating a token needs no redeploy.
#[async_trait]
pub trait CallerSource: Send + Sync + fmt::Debug {
    async fn current(&self) -> Arc<CallerRegistry>;

    /// No caller in `registry` has a presented token. A source that can be read again does so
    /// at once (at most every few seconds); returns whether a newer registry is now current.
    async fn unknown_token(&self, registry: &Arc<CallerRegistry>) -> bool;
}

/// The registry given in the environment.
#[derive(Debug)]
pub struct FixedCallers(Arc<CallerRegistry>);

impl FixedCallers {
    pub fn new(registry: CallerRegistry) -> Self {
        Self(Arc::new(registry))
    }
}

#[async_trait]
impl CallerSource for FixedCallers {
    async fn current(&self) -> Arc<CallerRegistry> {
        self.0.clone()
    }

    async fn unknown_token(&self, _: &Arc<CallerRegistry>) -> bool {
        false
    }
}

/// The caller whose proof `delivery` carries, asking `source` for a newer registry once if
/// the one it holds has no such caller.
pub async fn authenticate(
    source: &dyn CallerSource,
    route: Route,
    delivery: &Delivery<'_>,
) -> Option<Arc<Caller>> {
    let registry = source.current().await;
    if let Some(caller) = registry.authenticate(route, delivery) {
        return Some(caller);
    }
    if source.unknown_token(&registry).await {
        return source.current().await.authenticate(route, delivery);
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    fn registry(json: &str) -> Result<CallerRegistry, String> {
        CallerRegistry::parse(json).map_err(|e| e.to_string())
    }

    /// The caller a request carrying `Authorization: Bearer {token}` proves to be.
    pub(crate) fn by_token(r: &CallerRegistry, token: &str) -> Option<Arc<Caller>> {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            axum::http::header::AUTHORIZATION,
            axum::http::HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        r.authenticate(
            Route::Api,
            &Delivery {
                headers: &headers,
                body: b"",
                now: time::OffsetDateTime::UNIX_EPOCH,
            },
        )
    }

    #[test]
    fn plain_and_hashed_tokens_authenticate() {
        let digest = hex::encode(Sha256::digest(b"fedcba9876543210fedcba9876543210"));
        let r = registry(&format!(
            r#"[{{"name":"itsm","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["updateSoftware"]}},
                {{"name":"bot","auth":{{"scheme":"bearer","tokenSha256":"{digest}"}},"allow":["*"]}}]"#
        ))
        .unwrap();
        let itsm = by_token(&r, TOKEN).unwrap();
        assert_eq!(itsm.name(), "itsm");
        assert!(itsm.may(ActionKind::UpdateSoftware));
        assert!(!itsm.may(ActionKind::RestartDevice));
        let bot = by_token(&r, "fedcba9876543210fedcba9876543210").unwrap();
        assert!(bot.may(ActionKind::UpgradeApp));
        assert!(by_token(&r, "nope").is_none());
        assert!(by_token(&r, "").is_none());
    }

    #[test]
    fn bad_registries_are_refused_with_a_reason() {
        let cases = [
            ("[]", "empty"),
            ("{", "not a valid caller list"),
            (
                r#"[{"name":"a","auth":{"scheme":"hmac","secret":"x"},"allow":["*"]}]"#,
                "unknown variant",
            ),
            (
                r#"[{"name":"a","auth":{"scheme":"bearer","token":"short"},"allow":["*"]}]"#,
                "at least 32",
            ),
            (
                r#"[{"name":"a","auth":{"scheme":"bearer","tokenSha256":"xyz"},"allow":["*"]}]"#,
                "64 hex",
            ),
            (
                r#"[{"name":"a","auth":{"scheme":"bearer"},"allow":["*"]}]"#,
                "exactly one",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":[]}}]"#
                ),
                "allow lists no action",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["reboot"]}}]"#
                ),
                "not an action",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],"extra":1}}]"#
                ),
                "unknown field",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"]}},
                          {{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}x"}},"allow":["*"]}}]"#
                ),
                "used twice",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"]}},
                          {{"name":"b","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"]}}]"#
                ),
                "shares its token",
            ),
            (
                r#"[{"name":"a","auth":{"scheme":"slack","secret":"8f742231b10e8888abcd99b1f2e4c5a7"},"allow":["*"]},
                    {"name":"b","auth":{"scheme":"slack","secret":"8f742231b10e8888abcd99b1f2e4c5a7"},"allow":["restartDevice"]}]"#,
                "shares its token",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],
                        "ticket":{{"system":"jira","url":"https://x","user":"u","apiToken":"{TOKEN}"}}}}]"#
                ),
                "gate changes, write back",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],
                        "ticket":{{"system":"jira","url":"https://x","user":"u","apiToken":"{TOKEN}","writeBack":true}}}}]"#
                ),
                "not available in this version",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"x{TOKEN}"}},"allow":["*"],
                        "signingSecret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","callbackAuthorization":"Token {TOKEN}"}}]"#
                ),
                "\"Bearer <token>\" or \"Basic <base64>\"",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"x{TOKEN}"}},"allow":["*"],
                        "signingSecret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","callbackAuthorization":"Basic {TOKEN}\u0007"}}]"#
                ),
                "printable ASCII",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"x{TOKEN}"}},"allow":["*"],
                        "callbackAuthorization":"Bearer {TOKEN}"}}]"#
                ),
                "need a signingSecret",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],"devices":{{}}}}]"#
                ),
                "at least one of idPatterns or deviceTypes",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],"devices":{{"idPatterns":["lisbon-?"]}}}}]"#
                ),
                "idPatterns #1",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],"devices":{{"deviceTypes":["toaster"]}}}}]"#
                ),
                "unknown device type",
            ),
            (
                &format!(
                    r#"[{{"name":"a","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"],"devices":{{"ids":["x"]}}}}]"#
                ),
                "unknown field",
            ),
        ];
        for (json, expected) in cases {
            let err = registry(json).unwrap_err();
            assert!(err.contains(expected), "{json}: {err}");
            assert!(
                !err.contains(TOKEN),
                "the error must not echo a token: {err}"
            );
        }
    }

    #[test]
    fn callback_authorization_and_devices_are_read() {
        let r = registry(&format!(
            r#"[{{"name":"snow","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["restartDevice"],
                 "signingSecret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                 "callbackAuthorization":"Basic c25vdzpwYXNzd29yZA==",
                 "devices":{{"idPatterns":["lisbon-*"],"deviceTypes":["teamsRoom"]}}}}]"#
        ))
        .unwrap();
        let snow = by_token(&r, TOKEN).unwrap();
        assert!(snow.callback_authorization().is_some());
        let scope = snow.devices().unwrap();
        let id = |raw: &str| crate::change::DeviceId::parse(raw).unwrap();
        assert!(scope.matches(&id("lisbon-1"), "teamsRoom"));
        assert!(!scope.matches(&id("porto-1"), "teamsRoom"));
        let printed = format!("{r:?}");
        assert!(!printed.contains("c25vdzpwYXNzd29yZA"), "{printed}");
    }

    #[test]
    fn debug_output_holds_no_digest() {
        let r = registry(&format!(
            r#"[{{"name":"itsm","auth":{{"scheme":"bearer","token":"{TOKEN}"}},"allow":["*"]}}]"#
        ))
        .unwrap();
        let printed = format!("{r:?}");
        let digest = hex::encode(Sha256::digest(TOKEN.as_bytes()));
        assert!(
            !printed.contains(&digest) && !printed.contains(TOKEN),
            "{printed}"
        );
    }
}
