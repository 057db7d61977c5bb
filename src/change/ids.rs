//! Identifiers that are safe to place, as they are, in one segment of a URL path.
//!
//! Graph identifiers are GUIDs (devices, teams, users), `19:…@thread.v2` (chats), UPNs (users)
//! and base64 (app installations). Rather than list what is dangerous, an ID may hold only
//! characters that no URL parser treats specially inside a path segment: ASCII letters and
//! digits and `- . _ ~ : @ + =`. So `/`, `\`, `?`, `%`, whitespace, control and non-ASCII
//! characters are refused, as are `.` and `..`, which would climb the path.
//!
//! A user's UPN may also hold `#` and `'`: a guest's UPN is `alice_contoso.com#EXT#@…`, and
//! names such as O'Brien keep their apostrophe. The URL builder percent-encodes `#` (and
//! anything else that needs it) within the one segment, so no accepted ID changes a URL's shape.

use std::fmt;

/// Longest ID accepted; Graph's longest (base64 installation IDs) are about 120 characters.
pub const MAX_ID_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_ID_LEN} characters")]
    TooLong,
    #[error("must not be `.` or `..`")]
    DotSegment,
    #[error("must not contain {0:?}; allowed are ASCII letters, digits and - . _ ~ : @ + =")]
    Forbidden(char),
    #[error("must not contain {0:?}; allowed are ASCII letters, digits and - . _ ~ : @ + = # '")]
    ForbiddenInUpn(char),
}

/// Characters a UPN may hold beyond those every ID may.
const UPN_EXTRA: &str = "#'";

fn check_segment(value: &str, extra: &str) -> Result<(), IdError> {
    if value.is_empty() {
        return Err(IdError::Empty);
    }
    if value.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if value == "." || value == ".." {
        return Err(IdError::DotSegment);
    }
    match value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~:@+=".contains(*c) || extra.contains(*c)))
    {
        Some(c) if extra.is_empty() => Err(IdError::Forbidden(c)),
        Some(c) => Err(IdError::ForbiddenInUpn(c)),
        None => Ok(()),
    }
}

macro_rules! path_id {
    ($(#[$doc:meta])* $name:ident) => {
        path_id!($(#[$doc])* $name, "");
    };
    ($(#[$doc:meta])* $name:ident, $extra:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                check_segment(&value, $extra)?;
                Ok(Self(value))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

path_id!(
    /// A Teams device (`teamworkDevice`).
    DeviceId
);
path_id!(
    /// A team (`team`).
    TeamId
);
path_id!(
    /// A chat (`chat`).
    ChatId
);
path_id!(
    /// A user, by object ID or UPN (a guest's too).
    UserId,
    UPN_EXTRA
);
path_id!(
    /// An app installation (`teamsAppInstallation`).
    InstallationId
);
path_id!(
    /// A Graph operation on a device (`teamworkDeviceOperation`).
    OperationId
);
path_id!(
    /// An Entra ID tenant, by GUID or domain name.
    TenantId
);
path_id!(
    /// graphgate's own identifier of a change; new ones are random UUIDs.
    ChangeId
);

impl ChangeId {
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }
}

impl Default for ChangeId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_shapes_graph_uses() {
        for ok in [
            "0f3ce432-e432-0f3c-32e4-3c0f32e43c0f",
            "19:561082c0f3f847a58069deb8eb300807@thread.v2",
            "alice@contoso.com",
            "MjdkNmQ5MTItMjEyYS00ZTg2LTgxZDUtN2U2ODc2NzU2NWY0IyMxMmI+ZTBkYjItN2EyYS00MzQ3LWE2ZDgtNmM2YWY1NzFhMzA5",
            "NGQ4MDU5NTItZWU4NC00ZDExLWE3ZWUtZjkxZTU2OGJhZjNh==",
            "a.b",
            "...",
        ] {
            assert!(DeviceId::parse(ok).is_ok(), "{ok} should be accepted");
        }
    }

    #[test]
    fn refuses_what_could_change_the_url() {
        let cases: &[(&str, IdError)] = &[
            ("", IdError::Empty),
            (".", IdError::DotSegment),
            ("..", IdError::DotSegment),
            ("a/b", IdError::Forbidden('/')),
            ("a\\b", IdError::Forbidden('\\')),
            ("a?b", IdError::Forbidden('?')),
            ("a#b", IdError::Forbidden('#')),
            ("a%2Fb", IdError::Forbidden('%')),
            ("a b", IdError::Forbidden(' ')),
            ("a\tb", IdError::Forbidden('\t')),
            ("a\u{0}b", IdError::Forbidden('\u{0}')),
            ("a\u{7f}b", IdError::Forbidden('\u{7f}')),
            ("dévice", IdError::Forbidden('é')),
            ("$count", IdError::Forbidden('$')),
        ];
        for (input, expected) in cases {
            assert_eq!(DeviceId::parse(*input).unwrap_err(), *expected, "{input:?}");
        }
        assert_eq!(
            DeviceId::parse("x".repeat(MAX_ID_LEN + 1)).unwrap_err(),
            IdError::TooLong
        );
        assert!(DeviceId::parse("x".repeat(MAX_ID_LEN)).is_ok());
    }

    #[test]
    fn a_upn_may_hold_a_guests_marker_and_an_apostrophe() {
        for ok in [
            "alice_contoso.com#EXT#@fabrikam.onmicrosoft.com",
            "o'brien@contoso.com",
            "pat.o'neil_contoso.com#EXT#@fabrikam.onmicrosoft.com",
        ] {
            assert_eq!(UserId::parse(ok).unwrap().as_ref(), ok);
            assert!(DeviceId::parse(ok).is_err(), "only a UPN may hold {ok:?}");
        }
        for (bad, c) in [
            ("a/b#EXT#", '/'),
            ("a b", ' '),
            ("a%23b", '%'),
            ("a?b", '?'),
        ] {
            assert_eq!(UserId::parse(bad).unwrap_err(), IdError::ForbiddenInUpn(c));
        }
    }

    #[test]
    fn deserializing_goes_through_parse() {
        assert!(serde_json::from_str::<DeviceId>("\"a/b\"").is_err());
        assert_eq!(
            serde_json::from_str::<DeviceId>("\"abc\"")
                .unwrap()
                .as_ref(),
            "abc"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_accepts_only_safe_text(s in "\\PC{0,300}") {
            if let Ok(id) = DeviceId::parse(s.clone()) {
                prop_assert!(!id.as_ref().is_empty());
                prop_assert!(id.as_ref().len() <= MAX_ID_LEN);
                prop_assert!(!id.as_ref().contains(['/', '\\', '?', '#', '%']));
                prop_assert!(!id.as_ref().chars().any(|c| c.is_whitespace() || c.is_control()));
            }
        }
    }
}
