//! Signatures as each sender makes them, computed here from each scheme's documentation
//! rather than by graphgate's own code.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::WEBHOOK_SECRET;

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Standard Webhooks: `webhook-signature` for `body` sent as `id` at `timestamp`, with the
/// `servicenow` caller's secret.
pub fn standard_webhooks_signature(id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = BASE64
        .decode(WEBHOOK_SECRET.trim_start_matches("whsec_"))
        .unwrap();
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1,{}", BASE64.encode(hmac_sha256(&key, &signed)))
}

/// GitHub- or Jira-style `hmac-sha256`: the signature header's value for `body` with
/// `secret`.
pub fn hmac_sha256_signature(secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(secret.as_bytes(), body))
    )
}

/// Slack: `x-slack-signature` for `body` sent at `timestamp`, with signing secret `secret`.
pub fn slack_signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut base = format!("v0:{timestamp}:").into_bytes();
    base.extend_from_slice(body);
    format!("v0={}", hex::encode(hmac_sha256(secret, &base)))
}

/// A Teams outgoing webhook: the `Authorization` header for `body`, with the security token
/// Teams shows (base64 of the key).
pub fn teams_authorization(token: &str, body: &[u8]) -> String {
    let key = BASE64.decode(token).unwrap();
    format!("HMAC {}", BASE64.encode(hmac_sha256(&key, body)))
}
