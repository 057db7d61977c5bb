//! Graph's API versions, and the families of calls that each take their own.

/// A Graph API version, as its path segment spells it: `beta`, `v1.0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion(String);

impl ApiVersion {
    pub fn parse(raw: &str) -> Option<Self> {
        let numbered = raw
            .strip_prefix('v')
            .and_then(|n| n.split_once('.'))
            .is_some_and(|(major, minor)| {
                [major, minor]
                    .iter()
                    .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
            });
        (raw == "beta" || numbered).then(|| Self(raw.to_owned()))
    }

    pub fn beta() -> Self {
        Self("beta".into())
    }

    pub fn v1() -> Self {
        Self("v1.0".into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The families of Graph API graphgate calls. Each has its own version: the device actions
/// exist only in beta, while app upgrades are in v1.0, where Microsoft supports production use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiFamily {
    /// `teamworkDevice` actions and their operations.
    Device,
    /// `teamsAppInstallation` upgrades.
    App,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_beta_or_numbered() {
        for ok in ["beta", "v1.0", "v2.10"] {
            assert_eq!(ApiVersion::parse(ok).unwrap().as_str(), ok);
        }
        for bad in [
            "", "v1", "V1.0", "1.0", "v1.", "v.0", "beta/", "v1.0a", "Beta",
        ] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
    }
}
