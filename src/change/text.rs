//! Free text that reaches tickets and chat: a reference, a requester, a software version.

/// Control characters, and the bidirectional formatting characters that can make text read
/// differently from what it holds (a "Trojan Source" reordering) where it is shown.
pub(super) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        )
}

/// Why `s` may not be kept as text, if it may not.
pub(super) const UNSAFE: &str = "must not contain control or bidirectional formatting characters";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_controls_and_control_characters_are_unsafe() {
        for c in [
            '\u{202E}', '\u{2066}', '\u{2069}', '\u{200F}', '\u{061C}', '\n', '\u{7}', '\u{85}',
        ] {
            assert!(is_unsafe(c), "{:?}", c);
        }
        for c in ['a', 'é', '中', ' ', '\u{2065}', '\u{202F}'] {
            assert!(!is_unsafe(c), "{:?}", c);
        }
    }
}
