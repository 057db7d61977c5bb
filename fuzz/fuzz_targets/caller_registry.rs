//! The caller registry: any text either parses or is refused with a message that never
//! repeats a token or secret from it.
#![no_main]

use graphgate::callers::CallerRegistry;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Every string held under a key that names a credential, at any depth.
fn secrets(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if let (true, Value::String(s)) = (
                    matches!(
                        key.as_str(),
                        "token" | "tokenSha256" | "secret" | "signingSecret"
                    ),
                    v,
                ) {
                    found.push(s.clone());
                }
                secrets(v, found);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| secrets(v, found)),
        _ => {}
    }
}

fuzz_target!(|data: &str| {
    let Err(error) = CallerRegistry::parse(data) else {
        return;
    };
    let message = error.to_string();
    let mut found = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(data) {
        secrets(&value, &mut found);
    }
    for secret in found.iter().filter(|s| s.trim().len() >= 8) {
        assert!(
            !message.contains(secret.as_str()),
            "the message repeats {secret:?}: {message}"
        );
    }
});
