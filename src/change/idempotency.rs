//! Deliveries that may come twice: a sender retries a webhook, a chat tool resends a command.
//! A caller's key (its `Idempotency-Key`, or the sender's own delivery id) names one delivery;
//! graphgate keeps, per caller and key, what the body was and what it answered, so that a
//! second delivery gets the first one's answer and never a second Graph call.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::ids::ChangeId;

/// A caller's name for one delivery: 1 to 255 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err("must be 1 to 255 characters");
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("must be printable ASCII without spaces");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What graphgate answered a delivery, kept to answer its repeats the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptAnswer {
    pub status: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub body: String,
}

/// One caller's delivery under its key: its body's digest, the change it made, and, once
/// answered, the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyedDelivery {
    pub caller: String,
    pub key: IdempotencyKey,
    /// Hex SHA-256 of the body's bytes.
    pub fingerprint: String,
    /// The change it makes. Absent only in deliveries kept by earlier versions, which did not
    /// know a chat command's change beforehand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_id: Option<ChangeId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<KeptAnswer>,
    /// After this the key is free again.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl KeyedDelivery {
    pub fn new(
        caller: &str,
        key: IdempotencyKey,
        body: &[u8],
        change_id: Option<ChangeId>,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Self {
        Self {
            caller: caller.to_owned(),
            key,
            fingerprint: hex::encode(Sha256::digest(body)),
            change_id,
            answer: None,
            expires_at: now + window,
        }
    }

    /// Where both stores keep it: one value per caller and key, whatever characters either
    /// holds.
    pub fn slot(&self) -> String {
        slot(&self.caller, &self.key)
    }

    /// Whether `other` is the same delivery again: the same body under the same key.
    pub fn same_body(&self, other: &KeyedDelivery) -> bool {
        self.fingerprint == other.fingerprint
    }

    pub fn answered(&self, answer: KeptAnswer) -> Self {
        Self {
            answer: Some(answer),
            ..self.clone()
        }
    }
}

/// The store key of `key` for `caller`.
pub fn slot(caller: &str, key: &IdempotencyKey) -> String {
    let mut digest = Sha256::new();
    digest.update(caller.as_bytes());
    digest.update([0]);
    digest.update(key.as_str().as_bytes());
    hex::encode(digest.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_printable_and_bounded() {
        assert!(IdempotencyKey::parse("msg_2mFbQ6hXkRzq").is_ok());
        assert!(
            IdempotencyKey::parse("398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
                .is_ok()
        );
        assert!(IdempotencyKey::parse("").is_err());
        assert!(IdempotencyKey::parse("a b").is_err());
        assert!(IdempotencyKey::parse("caf\u{e9}").is_err());
        assert!(IdempotencyKey::parse(&"k".repeat(256)).is_err());
    }

    #[test]
    fn slots_keep_callers_apart_whatever_their_names_hold() {
        let k = |s: &str| IdempotencyKey::parse(s).unwrap();
        assert_ne!(slot("a#b", &k("c")), slot("a", &k("b#c")));
        assert_eq!(slot("itsm", &k("1")), slot("itsm", &k("1")));
    }
}
