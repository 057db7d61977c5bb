//! The caller registry: any text either parses or is refused with a message that never
//! repeats a token or secret from it.
#![no_main]

use graphgate::callers::CallerRegistry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Err(message) = CallerRegistry::parse(data) {
        for token in data.split('"').filter(|s| s.len() >= 32) {
            assert!(!message.contains(token), "the message repeats {token:?}");
        }
    }
});
