//! The devices a caller may act on: device ID globs, device types, or both. A caller the
//! registry limits to its devices may change no other, and a fleet filter takes only its
//! devices.

use super::ids::DeviceId;
use super::inventory::{device_type, same_device_type};

/// The devices a caller is limited to. A device is the caller's when its ID matches one of
/// the patterns (if any are given) and its type is one of the types (if any are given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceScope {
    id_patterns: Vec<IdPattern>,
    device_types: Vec<&'static str>,
}

/// Why a caller's `devices` cannot be used. No error repeats a pattern: it says which one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceScopeError {
    #[error("devices must list at least one of idPatterns or deviceTypes")]
    Empty,
    #[error("devices.idPatterns #{number} is empty")]
    EmptyPattern { number: usize },
    #[error(
        "devices.idPatterns #{number} may hold only the characters of a device ID (letters, digits, -._~:@+=) and *"
    )]
    PatternCharacters { number: usize },
    #[error("devices.deviceTypes #{number}: {why}")]
    DeviceType { number: usize, why: String },
}

impl DeviceScope {
    /// Reads a scope from the registry's `idPatterns` and `deviceTypes`, either of which may
    /// be absent or empty, but not both.
    pub fn parse(
        id_patterns: &[String],
        device_types: &[String],
    ) -> Result<Self, DeviceScopeError> {
        if id_patterns.is_empty() && device_types.is_empty() {
            return Err(DeviceScopeError::Empty);
        }
        let id_patterns = id_patterns
            .iter()
            .enumerate()
            .map(|(i, raw)| IdPattern::parse(raw, i + 1))
            .collect::<Result<_, _>>()?;
        let device_types = device_types
            .iter()
            .enumerate()
            .map(|(i, raw)| {
                device_type(raw).map_err(|why| DeviceScopeError::DeviceType { number: i + 1, why })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            id_patterns,
            device_types,
        })
    }

    /// Whether the scope limits devices by type: then a device's type must be known to
    /// judge it.
    pub fn limits_types(&self) -> bool {
        !self.device_types.is_empty()
    }

    /// Whether the ID alone leaves the device out, whatever its type.
    pub fn takes_id(&self, id: &DeviceId) -> bool {
        self.id_patterns.is_empty() || self.id_patterns.iter().any(|p| p.matches(id.as_ref()))
    }

    /// Whether the device `id`, of Graph's type `device_type`, is one of the caller's.
    pub fn matches(&self, id: &DeviceId, device_type: &str) -> bool {
        self.takes_id(id)
            && (self.device_types.is_empty()
                || self
                    .device_types
                    .iter()
                    .any(|wanted| same_device_type(wanted, device_type)))
    }
}

/// A device ID glob: `*` matches any run of characters, nothing else is special, and case
/// counts, as it does in Graph's IDs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IdPattern(String);

impl IdPattern {
    fn parse(raw: &str, number: usize) -> Result<Self, DeviceScopeError> {
        if raw.is_empty() {
            return Err(DeviceScopeError::EmptyPattern { number });
        }
        // Each `*` stands for characters of an ID: what is left must be an ID's own.
        if DeviceId::parse(raw.replace('*', "x")).is_err() {
            return Err(DeviceScopeError::PatternCharacters { number });
        }
        Ok(Self(raw.to_owned()))
    }

    fn matches(&self, id: &str) -> bool {
        let mut parts = self.0.split('*');
        let first = parts.next().unwrap_or_default();
        let Some(rest) = id.strip_prefix(first) else {
            return false;
        };
        let mut parts: Vec<&str> = parts.collect();
        // Without a `*` the pattern is the ID itself.
        let Some(last) = parts.pop() else {
            return rest.is_empty();
        };
        let Some(mut middle) = rest.strip_suffix(last) else {
            return false;
        };
        // Each piece between stars, leftmost first: taking the earliest place for each
        // leaves the most room for the next.
        for part in parts {
            match middle.find(part) {
                Some(at) => middle = &middle[at + part.len()..],
                None => return false,
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn scope(patterns: &[&str], types: &[&str]) -> DeviceScope {
        let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        DeviceScope::parse(&own(patterns), &own(types)).unwrap()
    }

    fn id(raw: &str) -> DeviceId {
        DeviceId::parse(raw).unwrap()
    }

    #[test]
    fn a_device_is_the_callers_when_its_id_and_its_type_both_are() {
        let lisbon_rooms = scope(&["lisbon-*"], &["teamsRoom"]);
        assert!(lisbon_rooms.matches(&id("lisbon-room-1"), "teamsRoom"));
        assert!(lisbon_rooms.matches(&id("lisbon-room-1"), "TeamsRoom"));
        assert!(!lisbon_rooms.matches(&id("lisbon-room-1"), "ipPhone"));
        assert!(!lisbon_rooms.matches(&id("porto-room-1"), "teamsRoom"));
        assert!(
            !lisbon_rooms.matches(&id("Lisbon-room-1"), "teamsRoom"),
            "case counts"
        );

        let lisbon = scope(&["lisbon-*", "*-hq"], &[]);
        assert!(lisbon.matches(&id("lisbon-phone"), "ipPhone"));
        assert!(lisbon.matches(&id("porto-hq"), "anythingNew"));
        assert!(!lisbon.limits_types());

        let rooms = scope(&[], &["teamsRoom", "surfaceHub"]);
        assert!(rooms.takes_id(&id("anything")));
        assert!(rooms.matches(&id("anything"), "surfaceHub"));
        assert!(!rooms.matches(&id("anything"), "unknown"));
        assert!(rooms.limits_types());
    }

    #[test]
    fn globs_match_runs_of_any_length() {
        let cases = [
            ("d1", "d1", true),
            ("d1", "d10", false),
            ("*", "d1", true),
            ("d*", "d", true),
            ("*1", "d1", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "acb", false),
            ("a*a", "a", false),
            ("a*a", "aa", true),
            ("*ab*ab*", "abab", true),
            ("*ab*ab*", "aba", false),
            ("lisbon-*-room", "lisbon--room", true),
        ];
        for (pattern, device, expected) in cases {
            assert_eq!(
                scope(&[pattern], &[]).takes_id(&id(device)),
                expected,
                "{pattern} {device}"
            );
        }
    }

    #[test]
    fn bad_scopes_are_refused_by_place() {
        let parse = |patterns: &[&str], types: &[&str]| {
            let own = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
            DeviceScope::parse(&own(patterns), &own(types)).unwrap_err()
        };
        assert_eq!(parse(&[], &[]), DeviceScopeError::Empty);
        assert_eq!(
            parse(&["a*", ""], &[]),
            DeviceScopeError::EmptyPattern { number: 2 }
        );
        for bad in ["lisbon-?", "lisbon-[12]", "a/b", "lisbon room"] {
            assert_eq!(
                parse(&[bad], &[]),
                DeviceScopeError::PatternCharacters { number: 1 },
                "{bad}"
            );
        }
        let error = parse(&["x"], &["toaster"]).to_string();
        assert!(
            error.contains("deviceTypes #1") && error.contains("teamsRoom"),
            "{error}"
        );
    }

    /// A reference glob: `*` takes each possible run in turn.
    fn naive(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|skip| naive(rest, &text[skip..])),
            Some((c, rest)) => text.first() == Some(c) && naive(rest, &text[1..]),
        }
    }

    proptest! {
        #[test]
        fn globs_match_as_the_reference_does(pattern in "[ab*]{1,8}", device in "[ab]{1,10}") {
            let glob = IdPattern::parse(&pattern, 1).unwrap();
            prop_assert_eq!(glob.matches(&device), naive(pattern.as_bytes(), device.as_bytes()));
        }

        #[test]
        fn a_pattern_without_stars_is_the_id_itself(device in "[a-zA-Z0-9-]{1,20}", other in "[a-zA-Z0-9-]{1,20}") {
            let glob = IdPattern::parse(&device, 1).unwrap();
            prop_assert!(glob.matches(&device));
            prop_assert_eq!(glob.matches(&other), other == device);
        }
    }
}
