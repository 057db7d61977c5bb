//! Who may call graphgate, how they prove it, what each may ask for and on which devices, and
//! the secret its callbacks are signed with (and the credential they carry).
//!
//! A registry entry as written, and its parsing into a [`Caller`], are in `entry.rs`; the
//! ways callers prove themselves in `schemes.rs`.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::callback::{CallbackAuthorization, SigningSecret};
use crate::change::{ActionKind, CallbackUrl, DeviceScope};
use crate::tickets::Connection;

mod entry;
mod errors;
mod schemes;

pub use errors::{CallerError, EntryError, RegistryError};
pub use schemes::{Delivery, Route, Scheme, SchemeError};

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

impl CallerRegistry {
    /// Parses the caller list: a JSON array of callers. No error repeats a token.
    pub fn parse(json: &str) -> Result<Self, RegistryError> {
        let entries: Vec<entry::Entry> = serde_json::from_str(json).map_err(|e| {
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
            let caller = entry.into_caller().map_err(|error| RegistryError::Caller {
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
    use sha2::{Digest, Sha256};

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
