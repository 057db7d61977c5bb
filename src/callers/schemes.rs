//! How a caller proves a delivery is its own: a bearer token, or a signature over the raw
//! body in one of the forms webhook senders use. HMAC is the `hmac` crate's, every comparison
//! `subtle`'s constant-time one; this module only assembles what each scheme signs.

use std::fmt;

use axum::http::{HeaderMap, HeaderName};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::callback::SigningSecret;

/// How far a signed timestamp may be from graphgate's clock, either way.
pub const TOLERANCE: time::Duration = time::Duration::minutes(5);

/// Shortest shared secret accepted for the HMAC schemes, in bytes.
const MIN_SECRET_BYTES: usize = 16;

/// Why a secret or a header cannot make a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SchemeError {
    #[error("header must be an HTTP header name")]
    Header,
    #[error("secret must hold at least {} bytes", MIN_SECRET_BYTES)]
    ShortSecret,
    #[error("secret must be the security token Teams shows (base64)")]
    NotTeamsToken,
}

/// A request as it arrived: what every scheme is checked against.
pub struct Delivery<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub now: OffsetDateTime,
}

/// Which callers a route takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/changes`.
    Api,
    /// The read routes (`GET /v1/changes/{id}`, `/v1/check`): no body to sign, so only a
    /// proof that cannot be replayed forever, a bearer token or a timestamped signature.
    Read,
    /// `/v1/slack/commands`.
    Slack,
    /// `/v1/teams/messages`.
    Teams,
}

pub enum Scheme {
    /// SHA-256 of the token.
    Bearer([u8; 32]),
    StandardWebhooks(SigningSecret),
    HmacSha256 {
        key: Vec<u8>,
        header: HeaderName,
    },
    Slack {
        key: Vec<u8>,
    },
    TeamsOutgoingWebhook {
        key: Vec<u8>,
    },
}

impl fmt::Debug for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Scheme {
    pub fn name(&self) -> &'static str {
        match self {
            Scheme::Bearer(_) => "bearer",
            Scheme::StandardWebhooks(_) => "standard-webhooks",
            Scheme::HmacSha256 { .. } => "hmac-sha256",
            Scheme::Slack { .. } => "slack",
            Scheme::TeamsOutgoingWebhook { .. } => "teams-outgoing-webhook",
        }
    }

    pub fn serves(&self, route: Route) -> bool {
        match self {
            Scheme::Bearer(_) | Scheme::StandardWebhooks(_) => {
                matches!(route, Route::Api | Route::Read)
            }
            // Its signature has no timestamp: over an empty body it would be a fixed value,
            // good forever to whoever saw it once.
            Scheme::HmacSha256 { .. } => route == Route::Api,
            Scheme::Slack { .. } => route == Route::Slack,
            Scheme::TeamsOutgoingWebhook { .. } => route == Route::Teams,
        }
    }

    /// Whether two schemes hold the same credential: then no request could tell their
    /// callers apart.
    pub fn same_credential(&self, other: &Scheme) -> bool {
        match (self, other) {
            (Scheme::Bearer(a), Scheme::Bearer(b)) => bool::from(a.ct_eq(b)),
            (Scheme::StandardWebhooks(a), Scheme::StandardWebhooks(b)) => a.same_key(b),
            (Scheme::HmacSha256 { key: a, .. }, Scheme::HmacSha256 { key: b, .. })
            | (Scheme::Slack { key: a }, Scheme::Slack { key: b })
            | (Scheme::TeamsOutgoingWebhook { key: a }, Scheme::TeamsOutgoingWebhook { key: b }) => {
                bool::from(a.ct_eq(b))
            }
            _ => false,
        }
    }

    pub fn hmac_sha256(secret: &str, header: Option<&str>) -> Result<Self, SchemeError> {
        let header = HeaderName::try_from(header.unwrap_or("x-hub-signature-256"))
            .map_err(|_| SchemeError::Header)?;
        Ok(Scheme::HmacSha256 {
            key: key_of(secret.as_bytes())?,
            header,
        })
    }

    /// Slack's signing secret, as Slack shows it (the key is its text).
    pub fn slack(secret: &str) -> Result<Self, SchemeError> {
        Ok(Scheme::Slack {
            key: key_of(secret.as_bytes())?,
        })
    }

    /// A Teams outgoing webhook's security token, as Teams shows it: base64 of the key.
    pub fn teams(secret: &str) -> Result<Self, SchemeError> {
        let key = BASE64
            .decode(secret.trim())
            .map_err(|_| SchemeError::NotTeamsToken)?;
        Ok(Scheme::TeamsOutgoingWebhook { key: key_of(&key)? })
    }

    /// Whether `delivery` carries this scheme's proof. A missing or malformed header, a
    /// timestamp outside [`TOLERANCE`] and a wrong signature are all simply `false`.
    pub fn verify(&self, delivery: &Delivery<'_>) -> bool {
        let header = |name: &str| {
            delivery
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        match self {
            Scheme::Bearer(digest) => header("authorization")
                .and_then(|v| {
                    let (scheme, token) = v.split_once(' ')?;
                    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
                })
                .is_some_and(|token| {
                    let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
                    bool::from(presented.ct_eq(digest))
                }),
            Scheme::StandardWebhooks(secret) => {
                let (Some(id), Some(timestamp), Some(signatures)) = (
                    header("webhook-id"),
                    header("webhook-timestamp"),
                    header("webhook-signature"),
                ) else {
                    return false;
                };
                let Some(timestamp) = fresh(timestamp, delivery.now) else {
                    return false;
                };
                let expected = secret.sign(id, timestamp, delivery.body);
                // A space-separated list, so that a sender can sign with an old and a new
                // key while it rotates.
                signatures
                    .split(' ')
                    .fold(false, |found, s| found | ct_eq_str(s, &expected))
            }
            Scheme::HmacSha256 { key, header: name } => header(name.as_str())
                .and_then(|v| v.strip_prefix("sha256="))
                .is_some_and(|hex_sig| {
                    ct_eq_str(
                        &hex_sig.to_ascii_lowercase(),
                        &hex::encode(mac(key, &[delivery.body])),
                    )
                }),
            Scheme::Slack { key } => {
                let (Some(timestamp), Some(signature)) = (
                    header("x-slack-request-timestamp"),
                    header("x-slack-signature"),
                ) else {
                    return false;
                };
                if fresh(timestamp, delivery.now).is_none() {
                    return false;
                }
                let expected = format!(
                    "v0={}",
                    hex::encode(mac(
                        key,
                        &[b"v0:", timestamp.as_bytes(), b":", delivery.body]
                    ))
                );
                ct_eq_str(signature, &expected)
            }
            Scheme::TeamsOutgoingWebhook { key } => header("authorization")
                .and_then(|v| v.strip_prefix("HMAC "))
                .is_some_and(|signature| {
                    ct_eq_str(signature.trim(), &BASE64.encode(mac(key, &[delivery.body])))
                }),
        }
    }
}

fn key_of(secret: &[u8]) -> Result<Vec<u8>, SchemeError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(SchemeError::ShortSecret);
    }
    Ok(secret.to_vec())
}

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Equal texts, compared in constant time (lengths may differ, which is no secret).
fn ct_eq_str(a: &str, b: &str) -> bool {
    bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The Unix timestamp `raw`, if it is within [`TOLERANCE`] of `now`.
fn fresh(raw: &str, now: OffsetDateTime) -> Option<i64> {
    let at: i64 = raw.parse().ok()?;
    let skew = now.unix_timestamp().checked_sub(at)?.checked_abs()?;
    (skew <= TOLERANCE.whole_seconds()).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(
                HeaderName::try_from(*k).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn at(unix: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(unix).unwrap()
    }

    /// The Standard Webhooks specification's example.
    #[test]
    fn standard_webhooks_reference_vector() {
        let scheme = Scheme::StandardWebhooks(
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        );
        let body = br#"{"test": 2432232314}"#;
        let signed = |signature: &str, now: i64| {
            let h = headers(&[
                ("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"),
                ("webhook-timestamp", "1614265330"),
                ("webhook-signature", signature),
            ]);
            scheme.verify(&Delivery {
                headers: &h,
                body,
                now: at(now),
            })
        };
        let good = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(signed(good, 1614265330));
        assert!(
            signed(&format!("v1,bm9wZQ== {good}"), 1614265330),
            "a list, for rotation"
        );
        assert!(signed(good, 1614265330 + 300));
        assert!(!signed(good, 1614265330 + 301), "expired");
        assert!(!signed(good, 1614265330 - 301), "from the future");
        assert!(!signed(
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=",
            1614265330
        ));
        assert!(!signed("", 1614265330));
    }

    /// GitHub's documented example for `X-Hub-Signature-256`.
    #[test]
    fn hmac_sha256_reference_vector() {
        let scheme = Scheme::hmac_sha256("It's a Secret to Everybody", None).unwrap();
        let check = |name: &str, value: &str| {
            let h = headers(&[(name, value)]);
            scheme.verify(&Delivery {
                headers: &h,
                body: b"Hello, World!",
                now: at(0),
            })
        };
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(check("X-Hub-Signature-256", good));
        assert!(check(
            "x-hub-signature-256",
            &good.to_uppercase().replace("SHA256=", "sha256=")
        ));
        assert!(!check("X-Hub-Signature", good), "another header");
        assert!(!check("X-Hub-Signature-256", &good.replace("757", "758")));
        let jira =
            Scheme::hmac_sha256("It's a Secret to Everybody", Some("X-Hub-Signature")).unwrap();
        let h = headers(&[("X-Hub-Signature", good)]);
        assert!(jira.verify(&Delivery {
            headers: &h,
            body: b"Hello, World!",
            now: at(0)
        }));
    }

    /// Slack's documented example from "Verifying requests from Slack".
    #[test]
    fn slack_reference_vector() {
        let scheme = Scheme::slack("8f742231b10e8888abcd99yyyzzz85a5").unwrap();
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let check = |now: i64| {
            let h = headers(&[
                ("X-Slack-Request-Timestamp", "1531420618"),
                (
                    "X-Slack-Signature",
                    "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
                ),
            ]);
            scheme.verify(&Delivery {
                headers: &h,
                body,
                now: at(now),
            })
        };
        assert!(check(1531420618));
        assert!(!check(1531420618 + 301), "replayed after the tolerance");
    }

    #[test]
    fn teams_signs_the_body_with_the_decoded_token() {
        let token = BASE64.encode(b"a security token of 32 bytes....");
        let scheme = Scheme::teams(&token).unwrap();
        let body = br#"{"type":"message","text":"<at>graphgate</at> restart d1"}"#;
        let signature = BASE64.encode(mac(b"a security token of 32 bytes....", &[body]));
        let h = headers(&[("Authorization", &format!("HMAC {signature}"))]);
        assert!(scheme.verify(&Delivery {
            headers: &h,
            body,
            now: at(0)
        }));
        let h = headers(&[("Authorization", &format!("HMAC {signature}x"))]);
        assert!(!scheme.verify(&Delivery {
            headers: &h,
            body,
            now: at(0)
        }));
        assert!(Scheme::teams("not base64!").is_err());
        assert!(Scheme::slack("short").is_err());
    }

    #[test]
    fn each_route_takes_its_schemes() {
        let bearer = Scheme::Bearer([0; 32]);
        let slack = Scheme::slack("8f742231b10e8888abcd99yyyzzz85a5").unwrap();
        assert!(bearer.serves(Route::Api) && !bearer.serves(Route::Slack));
        assert!(
            slack.serves(Route::Slack) && !slack.serves(Route::Api) && !slack.serves(Route::Teams)
        );
    }
}
