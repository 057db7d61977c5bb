//! The chat grammar: any text parses or gets a sentence, never a panic.
#![no_main]

use graphgate::change::Command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Err(why) = Command::parse(text, "fuzz") {
        assert!(!why.to_string().is_empty());
    }
});
