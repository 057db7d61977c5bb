//! Where Graph and its token endpoint live, and how URLs on them are built and checked.

use std::net::IpAddr;

use url::{Host, Url};

use crate::change::{Action, AppScope, DeviceId, OperationId};

/// The national clouds Graph runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    Dod,
    China,
}

impl Cloud {
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "global" => Some(Cloud::Global),
            "usgov" => Some(Cloud::UsGov),
            "dod" => Some(Cloud::Dod),
            "china" => Some(Cloud::China),
            _ => None,
        }
    }

    pub fn graph_base(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com/beta",
            Cloud::UsGov => "https://graph.microsoft.us/beta",
            Cloud::Dod => "https://dod-graph.microsoft.us/beta",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn/beta",
        }
    }

    pub fn authority(self) -> &'static str {
        match self {
            Cloud::Global => "https://login.microsoftonline.com",
            Cloud::UsGov | Cloud::Dod => "https://login.microsoftonline.us",
            Cloud::China => "https://login.chinacloudapi.cn",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointError {
    #[error("{0} is not a valid absolute URL")]
    Invalid(String),
    #[error("must use https (plain http is allowed only for loopback hosts)")]
    NotHttps,
    #[error("must not carry credentials, a query or a fragment")]
    Extras,
}

/// Checks that a URL graphgate will send a secret to is https, or plain http on loopback.
pub fn check_endpoint(raw: &str) -> Result<Url, EndpointError> {
    let url = Url::parse(raw).map_err(|_| EndpointError::Invalid(raw.to_owned()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        _ => return Err(EndpointError::NotHttps),
    }
    if url.host().is_none() {
        return Err(EndpointError::Invalid(raw.to_owned()));
    }
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(EndpointError::Extras);
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    #[error("Graph sent no Location header")]
    Missing,
    #[error("Graph sent a Location that is not a URL")]
    Invalid,
    #[error("Graph sent a Location outside the configured Graph base ({0})")]
    Foreign(String),
}

/// The Graph base URL (`GRAPH_BASE_URL`), e.g. `https://graph.microsoft.com/beta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphBase(Url);

impl GraphBase {
    pub fn parse(raw: &str) -> Result<Self, EndpointError> {
        let mut url = check_endpoint(raw)?;
        // Keep the path without a trailing slash so segments can be appended uniformly.
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The OAuth scope for the client-credentials grant: `{origin}/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.0.origin().ascii_serialization())
    }

    /// The URL of an action, built segment by segment so no ID can change its shape.
    pub fn action_url(&self, action: &Action) -> Url {
        match action {
            Action::UpdateSoftware { device_id, .. } => {
                self.join(&["teamwork", "devices", device_id.as_ref(), "updateSoftware"])
            }
            Action::RestartDevice { device_id } => {
                self.join(&["teamwork", "devices", device_id.as_ref(), "restart"])
            }
            Action::RunDiagnostics { device_id } => {
                self.join(&["teamwork", "devices", device_id.as_ref(), "runDiagnostics"])
            }
            Action::UpgradeApp {
                scope,
                installation_id,
                ..
            } => {
                let id = installation_id.as_ref();
                match scope {
                    AppScope::Team(t) => {
                        self.join(&["teams", t.as_ref(), "installedApps", id, "upgrade"])
                    }
                    AppScope::Chat(c) => {
                        self.join(&["chats", c.as_ref(), "installedApps", id, "upgrade"])
                    }
                    AppScope::User(u) => self.join(&[
                        "users",
                        u.as_ref(),
                        "teamwork",
                        "installedApps",
                        id,
                        "upgrade",
                    ]),
                }
            }
        }
    }

    /// `…/teamwork/devices/{device}/operations`.
    pub fn operations_url(&self, device: &DeviceId) -> Url {
        self.join(&["teamwork", "devices", device.as_ref(), "operations"])
    }

    /// `…/teamwork/devices/{device}/operations/{operation}`.
    pub fn operation_url(&self, device: &DeviceId, operation: &OperationId) -> Url {
        self.join(&[
            "teamwork",
            "devices",
            device.as_ref(),
            "operations",
            operation.as_ref(),
        ])
    }

    fn join(&self, segments: &[&str]) -> Url {
        let mut url = self.0.clone();
        url.path_segments_mut()
            .expect("a checked http(s) URL has a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Resolves an operation `Location` from Graph. Graph documents it as relative and without
    /// the version segment (`/teamwork/devices/{id}/operations/{opId}`), so the base path is
    /// kept. An absolute URL is taken only on the base's own scheme, host and port, since the
    /// bearer token will be sent there.
    pub fn resolve_location(&self, raw: &str) -> Result<Url, LocationError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(LocationError::Missing);
        }
        let resolved = match Url::parse(raw) {
            Ok(absolute) => absolute,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                if raw.starts_with("//") || raw.starts_with('\\') {
                    return Err(LocationError::Foreign(raw.to_owned()));
                }
                let base_path = self.0.path().trim_end_matches('/');
                let path = if !base_path.is_empty() && raw.starts_with(&format!("{base_path}/")) {
                    raw.to_owned()
                } else {
                    format!("{base_path}/{}", raw.trim_start_matches('/'))
                };
                let resolved = self.0.join(&path).map_err(|_| LocationError::Invalid)?;
                // Dot segments could climb out of the version segment; refuse rather than guess.
                if !resolved.path().starts_with(&format!("{base_path}/")) {
                    return Err(LocationError::Foreign(raw.to_owned()));
                }
                resolved
            }
            Err(_) => return Err(LocationError::Invalid),
        };
        let same_origin = resolved.scheme() == self.0.scheme()
            && resolved.host() == self.0.host()
            && resolved.port_or_known_default() == self.0.port_or_known_default()
            && resolved.username().is_empty()
            && resolved.password().is_none();
        if same_origin {
            Ok(resolved)
        } else {
            Err(LocationError::Foreign(
                resolved.origin().ascii_serialization(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{ChatId, InstallationId, TeamId, UserId};
    use proptest::prelude::*;

    fn base() -> GraphBase {
        GraphBase::parse("https://graph.microsoft.com/beta").unwrap()
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(GraphBase::parse("https://graph.microsoft.us/beta").is_ok());
        for ok in [
            "http://127.0.0.1:8081/beta",
            "http://localhost:1/beta",
            "http://[::1]:2/beta",
        ] {
            assert!(GraphBase::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            GraphBase::parse("http://graph.microsoft.com/beta"),
            Err(EndpointError::NotHttps)
        );
        assert_eq!(
            GraphBase::parse("http://10.0.0.1/beta"),
            Err(EndpointError::NotHttps)
        );
        assert_eq!(
            GraphBase::parse("https://graph.microsoft.com/beta?x=1"),
            Err(EndpointError::Extras)
        );
        assert!(GraphBase::parse("graph.microsoft.com").is_err());
    }

    #[test]
    fn scope_is_the_graph_origin() {
        assert_eq!(base().scope(), "https://graph.microsoft.com/.default");
        assert_eq!(
            GraphBase::parse("http://127.0.0.1:9/beta").unwrap().scope(),
            "http://127.0.0.1:9/.default"
        );
    }

    #[test]
    fn relative_locations_keep_the_version_segment() {
        let got = base()
            .resolve_location("/teamwork/devices/d1/operations/op1")
            .unwrap();
        assert_eq!(
            got.as_str(),
            "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op1"
        );
        let got = base()
            .resolve_location("/beta/teamwork/devices/d1/operations/op1")
            .unwrap();
        assert_eq!(
            got.as_str(),
            "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op1"
        );
    }

    #[test]
    fn absolute_locations_only_on_the_graph_origin() {
        let ok = "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op1";
        assert_eq!(base().resolve_location(ok).unwrap().as_str(), ok);
        for foreign in [
            "https://evil.example.com/beta/teamwork/devices/d1/operations/op1",
            "http://graph.microsoft.com/beta/teamwork/devices/d1/operations/op1",
            "https://graph.microsoft.com:8443/beta/x",
            "https://user@graph.microsoft.com/beta/x",
            "//evil.example.com/x",
            "/../../v1.0/me",
        ] {
            assert!(
                matches!(
                    base().resolve_location(foreign),
                    Err(LocationError::Foreign(_))
                ),
                "{foreign}"
            );
        }
        assert_eq!(base().resolve_location(""), Err(LocationError::Missing));
        assert_eq!(base().resolve_location("  "), Err(LocationError::Missing));
        assert_eq!(
            base().resolve_location("http://[::"),
            Err(LocationError::Invalid)
        );
    }

    #[test]
    fn action_urls() {
        let action = Action::UpgradeApp {
            scope: AppScope::Team(TeamId::parse("t1").unwrap()),
            installation_id: InstallationId::parse("aW5z+dA==").unwrap(),
            consented_permission_set: None,
        };
        assert_eq!(
            base().action_url(&action).as_str(),
            "https://graph.microsoft.com/beta/teams/t1/installedApps/aW5z+dA==/upgrade"
        );
    }

    proptest! {
        /// No accepted ID changes the host, the path's shape, the query or the fragment.
        #[test]
        fn accepted_ids_cannot_reshape_the_url(raw in "[a-zA-Z0-9._~:@+=/\\\\?#% \\t$&;'()\\[\\]-]{0,24}|\\PC{0,12}") {
            if let Ok(device_id) = DeviceId::parse(raw.clone()) {
                let url = base().action_url(&Action::RestartDevice { device_id });
                prop_assert_eq!(url.host_str(), Some("graph.microsoft.com"));
                prop_assert_eq!(url.query(), None);
                prop_assert_eq!(url.fragment(), None);
                let segments: Vec<_> = url.path_segments().unwrap().collect();
                prop_assert_eq!(segments, vec!["beta", "teamwork", "devices", raw.as_str(), "restart"]);
            }
        }

        /// The same for every action, with every kind of ID in its place.
        #[test]
        fn no_action_url_can_be_reshaped(
            kind in 0usize..6,
            first in "[a-zA-Z0-9._~:@+=/?#% -]{1,16}|\\PC{1,8}",
            second in "[a-zA-Z0-9._~:@+=/?#% -]{1,16}|\\PC{1,8}",
        ) {
            let installation = InstallationId::parse(second.clone());
            let (action, expected) = match kind {
                0 => (DeviceId::parse(first.clone()).ok().map(|device_id| Action::UpdateSoftware {
                    device_id,
                    software_type: crate::change::SoftwareType::Firmware,
                    software_version: crate::change::SoftwareVersion::parse("1").unwrap(),
                }), vec!["beta", "teamwork", "devices", &first, "updateSoftware"]),
                1 => (DeviceId::parse(first.clone()).ok().map(|device_id| Action::RunDiagnostics { device_id }),
                    vec!["beta", "teamwork", "devices", &first, "runDiagnostics"]),
                2 => (TeamId::parse(first.clone()).ok().zip(installation.ok()).map(|(t, installation_id)| Action::UpgradeApp {
                    scope: AppScope::Team(t), installation_id, consented_permission_set: None,
                }), vec!["beta", "teams", &first, "installedApps", &second, "upgrade"]),
                3 => (ChatId::parse(first.clone()).ok().zip(installation.ok()).map(|(c, installation_id)| Action::UpgradeApp {
                    scope: AppScope::Chat(c), installation_id, consented_permission_set: None,
                }), vec!["beta", "chats", &first, "installedApps", &second, "upgrade"]),
                4 => (UserId::parse(first.clone()).ok().zip(installation.ok()).map(|(u, installation_id)| Action::UpgradeApp {
                    scope: AppScope::User(u), installation_id, consented_permission_set: None,
                }), vec!["beta", "users", &first, "teamwork", "installedApps", &second, "upgrade"]),
                _ => (DeviceId::parse(first.clone()).ok().map(|device_id| Action::RestartDevice { device_id }),
                    vec!["beta", "teamwork", "devices", &first, "restart"]),
            };
            if let Some(action) = action {
                let url = base().action_url(&action);
                prop_assert_eq!(url.host_str(), Some("graph.microsoft.com"));
                prop_assert_eq!(url.query(), None);
                prop_assert_eq!(url.fragment(), None);
                let segments: Vec<_> = url.path_segments().unwrap().collect();
                prop_assert_eq!(segments, expected);
            }
        }

        #[test]
        fn ids_of_safe_characters_are_accepted(raw in "[a-zA-Z0-9._~:@+=-]{1,64}") {
            prop_assume!(raw != "." && raw != "..");
            prop_assert!(DeviceId::parse(raw).is_ok());
        }
    }
}
