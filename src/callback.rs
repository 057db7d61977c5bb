//! Telling a caller how its change ended: a JSON POST to its `callbackUrl`, signed as
//! Standard Webhooks specifies (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…`)
//! with the caller's own `signingSecret`.
//!
//! Where a callback may go is the deployment's to say (`crate::outbound`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq;
use time::format_description::well_known::Rfc3339;

use crate::change::{ChangeView, ChatTool, WrittenUrl};
use crate::outbound::{NoPublicAddress, Outbound, REQUEST_TIMEOUT, TargetError};

/// A caller's Standard Webhooks secret, `whsec_` and base64. It never prints.
#[derive(Clone)]
pub struct SigningSecret(Vec<u8>);

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

impl SigningSecret {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let encoded = raw
            .strip_prefix("whsec_")
            .ok_or("signingSecret must start with whsec_")?;
        let key = BASE64
            .decode(encoded)
            .map_err(|_| "signingSecret must be whsec_ followed by base64")?;
        if key.len() < 24 {
            return Err("signingSecret must hold at least 24 bytes");
        }
        Ok(Self(key))
    }

    /// Whether `other` is the same key, compared in constant time.
    pub fn same_key(&self, other: &SigningSecret) -> bool {
        bool::from(self.0.ct_eq(&other.0))
    }

    /// `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
    }
}

/// The `Authorization` a caller's receiver demands of its callbacks (`Bearer <token>` or
/// `Basic <base64>`), sent besides the signature. It never prints, and no error repeats it.
#[derive(Clone)]
pub struct CallbackAuthorization(reqwest::header::HeaderValue);

impl fmt::Debug for CallbackAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackAuthorization([REDACTED])")
    }
}

impl CallbackAuthorization {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        const FORM: &str = "callbackAuthorization must be \"Bearer <token>\" or \"Basic <base64>\"";
        let (scheme, credential) = raw.split_once(' ').ok_or(FORM)?;
        if credential.is_empty() {
            return Err("callbackAuthorization has an empty credential");
        }
        // A header value is visible ASCII; a space or a control character inside the
        // credential would be read as something else by the receiver.
        if !credential.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(
                "callbackAuthorization's credential must be printable ASCII without spaces",
            );
        }
        if scheme.eq_ignore_ascii_case("Basic") {
            BASE64
                .decode(credential)
                .map_err(|_| "callbackAuthorization's Basic credential must be base64")?;
        } else if !scheme.eq_ignore_ascii_case("Bearer") {
            return Err(FORM);
        }
        let mut value = reqwest::header::HeaderValue::from_str(raw).map_err(|_| FORM)?;
        value.set_sensitive(true);
        Ok(Self(value))
    }
}

/// Sends callbacks, through the process's [`Outbound`] client and under its rules.
pub struct CallbackSender {
    outbound: Arc<Outbound>,
}

/// How long one delivery attempt may take.
pub const ATTEMPT_TIMEOUT: Duration = REQUEST_TIMEOUT;

impl CallbackSender {
    pub fn new(outbound: Arc<Outbound>) -> Self {
        Self { outbound }
    }

    fn http(&self) -> &reqwest::Client {
        self.outbound.http()
    }

    /// The checks that need no DNS, by the deployment's policy.
    pub fn check_target(&self, url: &WrittenUrl) -> Result<(), TargetError> {
        self.outbound.check(url)
    }

    /// Reports a finished change to `url`: one signed attempt, stamped `now`, carrying the
    /// caller's `authorization` when it has one. `Ok` holds the receiver's HTTP status,
    /// whatever it is.
    pub async fn send_finished(
        &self,
        url: &WrittenUrl,
        secret: &SigningSecret,
        authorization: Option<&CallbackAuthorization>,
        change: ChangeView,
        now: time::OffsetDateTime,
        timeout: Duration,
    ) -> Result<u16, CallbackError> {
        self.check_target(url)?;
        let message_id = format!("msg_{}", change.change_id());
        let body = serde_json::to_vec(&json!({
            "type": "change.finished",
            "timestamp": now.format(&Rfc3339).unwrap_or_default(),
            "data": change,
        }))
        .expect("a change view serializes");
        let signature = secret.sign(&message_id, now.unix_timestamp(), &body);
        let mut request = self
            .http()
            .post(url.url().clone())
            .timeout(timeout.min(ATTEMPT_TIMEOUT))
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", now.unix_timestamp().to_string())
            .header("webhook-signature", signature);
        if let Some(authorization) = authorization {
            request = request.header(reqwest::header::AUTHORIZATION, authorization.0.clone());
        }
        let response = request
            .body(body)
            .send()
            .await
            // The URL may carry the receiver's own key in its query: keep it out of the log.
            .map_err(|e| CallbackError::from(e.without_url()))?;
        Ok(response.status().as_u16())
    }
}

impl CallbackSender {
    /// Posts `text` to a chat: a Slack `response_url` or incoming webhook, or a Teams
    /// Workflows webhook (an Adaptive Card). Unsigned: these URLs are their own secret.
    pub async fn send_chat(
        &self,
        url: &WrittenUrl,
        tool: ChatTool,
        text: &str,
        timeout: Duration,
    ) -> Result<u16, CallbackError> {
        self.check_target(url)?;
        let body = match tool {
            ChatTool::Slack => json!({
                "response_type": "ephemeral",
                "replace_original": false,
                "text": text,
            }),
            ChatTool::Teams => json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "type": "AdaptiveCard",
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "version": "1.4",
                        "body": [{"type": "TextBlock", "text": text, "wrap": true}],
                    },
                }],
            }),
        };
        let response = self
            .http()
            .post(url.url().clone())
            .timeout(timeout.min(ATTEMPT_TIMEOUT))
            .json(&body)
            .send()
            .await
            .map_err(|e| CallbackError::from(e.without_url()))?;
        Ok(response.status().as_u16())
    }
}

/// Why a callback attempt reached no receiver. The text is what the change records and its
/// caller reads, so it is graphgate's own; the HTTP client's error is kept as the source,
/// for the log.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error("the caller has no signingSecret registered any more")]
    NoSecret,
    #[error(
        "Slack's response_url has expired (30 minutes) and the caller has no chat.resultWebhookUrl"
    )]
    ChatReplyExpired,
    #[error("the callback host resolves to no public address")]
    NoPublicAddress(#[source] reqwest::Error),
    #[error("the receiver did not answer in time")]
    Timeout(#[source] reqwest::Error),
    #[error("could not connect to the receiver")]
    Connect(#[source] reqwest::Error),
    #[error("the callback could not be sent")]
    Send(#[source] reqwest::Error),
}

impl From<reqwest::Error> for CallbackError {
    fn from(e: reqwest::Error) -> Self {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(c) = cause {
            if c.is::<NoPublicAddress>() {
                return CallbackError::NoPublicAddress(e);
            }
            cause = c.source();
        }
        if e.is_timeout() {
            CallbackError::Timeout(e)
        } else if e.is_connect() {
            CallbackError::Connect(e)
        } else {
            CallbackError::Send(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The example from the Standard Webhooks specification.
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_are_checked_and_never_print() {
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_!!!").is_err());
        assert!(SigningSecret::parse("whsec_c2hvcnQ=").is_err());
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{secret:?}"), "SigningSecret([REDACTED])");
    }

    #[test]
    fn callback_authorizations_are_bearer_or_basic_and_never_print() {
        for good in [
            "Bearer s3cr3t-t0ken",
            "Basic dXNlcjpwYXNz",
            "bearer abc.def~",
        ] {
            let parsed = CallbackAuthorization::parse(good).unwrap();
            assert_eq!(format!("{parsed:?}"), "CallbackAuthorization([REDACTED])");
        }
        for bad in [
            "",
            "s3cr3t",
            "Bearer ",
            "Bearer  s3cr3t",
            "Bearer s3cr3t\n",
            "Bearer s3c\u{7f}r3t",
            "Bearer sécret",
            "Basic not base64!",
            "Digest s3cr3t",
            "Token s3cr3t",
        ] {
            let error = CallbackAuthorization::parse(bad).unwrap_err();
            assert!(!error.contains("s3cr3t"), "{bad:?}: {error}");
        }
    }
}
