//! Where Graph is, and the URLs of what graphgate calls there, built segment by segment so
//! that no ID can change a URL's shape.

use url::Url;

use super::endpoints::{EndpointError, check_endpoint};
use super::version::{ApiFamily, ApiVersion};
use crate::change::{Action, AppScope, DeviceId, InstallationId, OperationId};

/// Where Graph is: its origin (`GRAPH_BASE_URL`, with any path prefix) and the API version each
/// family of calls uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphBase {
    /// Origin and path prefix, without a version segment or a trailing slash.
    root: Url,
    device: ApiVersion,
    app: ApiVersion,
}

impl GraphBase {
    /// `raw` is the Graph origin. A URL that ends in a version segment, as `GRAPH_BASE_URL` did
    /// before each family had its own version, sets that version for every family whose own
    /// version is not given. Otherwise device actions use beta and app upgrades v1.0.
    pub fn parse(
        raw: &str,
        device: Option<ApiVersion>,
        app: Option<ApiVersion>,
    ) -> Result<Self, EndpointError> {
        let mut root = check_endpoint(raw)?;
        let mut segments: Vec<String> = root
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let implied = segments.last().and_then(|last| ApiVersion::parse(last));
        if implied.is_some() {
            segments.pop();
        }
        root.set_path(&segments.join("/"));
        let path = root.path().trim_end_matches('/').to_owned();
        root.set_path(&path);
        Ok(Self {
            root,
            device: device
                .or_else(|| implied.clone())
                .unwrap_or_else(ApiVersion::beta),
            app: app.or(implied).unwrap_or_else(ApiVersion::v1),
        })
    }

    /// Origin and path prefix, without a version segment or a trailing slash.
    pub(super) fn root(&self) -> &Url {
        &self.root
    }

    /// The Graph origin, such as `https://graph.microsoft.com`.
    pub fn origin(&self) -> String {
        self.root.origin().ascii_serialization()
    }

    pub fn version(&self, family: ApiFamily) -> &ApiVersion {
        match family {
            ApiFamily::Device => &self.device,
            ApiFamily::App => &self.app,
        }
    }

    /// The OAuth scope for the client-credentials grant: `{origin}/.default`.
    pub fn scope(&self) -> String {
        format!("{}/.default", self.origin())
    }

    /// The URL of an action, built segment by segment so no ID can change its shape.
    pub fn action_url(&self, action: &Action) -> Url {
        let family = ApiFamily::Device;
        match action {
            Action::UpdateSoftware { device_id, .. } => self.join(
                family,
                &["teamwork", "devices", device_id.as_ref(), "updateSoftware"],
            ),
            Action::RestartDevice { device_id } => self.join(
                family,
                &["teamwork", "devices", device_id.as_ref(), "restart"],
            ),
            Action::RunDiagnostics { device_id } => self.join(
                family,
                &["teamwork", "devices", device_id.as_ref(), "runDiagnostics"],
            ),
            Action::UpgradeApp {
                scope,
                installation_id,
                ..
            } => {
                let mut url = self.installation_url(scope, installation_id);
                url.path_segments_mut()
                    .expect("an http(s) URL has path segments")
                    .push("upgrade");
                url
            }
        }
    }

    /// The app installation: `…/teams/{id}/installedApps/{installation}`, or under
    /// `chats/{id}` or `users/{id}/teamwork`.
    pub fn installation_url(&self, scope: &AppScope, installation: &InstallationId) -> Url {
        let id = installation.as_ref();
        match scope {
            AppScope::Team(t) => {
                self.join(ApiFamily::App, &["teams", t.as_ref(), "installedApps", id])
            }
            AppScope::Chat(c) => {
                self.join(ApiFamily::App, &["chats", c.as_ref(), "installedApps", id])
            }
            AppScope::User(u) => self.join(
                ApiFamily::App,
                &["users", u.as_ref(), "teamwork", "installedApps", id],
            ),
        }
    }

    /// `…/teamwork/devices`.
    pub fn devices_url(&self) -> Url {
        self.join(ApiFamily::Device, &["teamwork", "devices"])
    }

    /// `…/teamwork/devices/{device}/operations`.
    pub fn operations_url(&self, device: &DeviceId) -> Url {
        self.join(
            ApiFamily::Device,
            &["teamwork", "devices", device.as_ref(), "operations"],
        )
    }

    /// `…/teamwork/devices/{device}/operations/{operation}`.
    pub fn operation_url(&self, device: &DeviceId, operation: &OperationId) -> Url {
        self.join(
            ApiFamily::Device,
            &[
                "teamwork",
                "devices",
                device.as_ref(),
                "operations",
                operation.as_ref(),
            ],
        )
    }

    /// `…/teamwork/devices/{device}`.
    pub fn device_url(&self, device: &DeviceId) -> Url {
        self.join(ApiFamily::Device, &["teamwork", "devices", device.as_ref()])
    }

    /// `…/teamwork/devices/{device}/health`.
    pub fn health_url(&self, device: &DeviceId) -> Url {
        self.join(
            ApiFamily::Device,
            &["teamwork", "devices", device.as_ref(), "health"],
        )
    }

    /// Where a `$batch` of `family`'s calls goes: `…/{version}/$batch`.
    pub fn batch_url(&self, family: ApiFamily) -> Url {
        self.join(family, &["$batch"])
    }

    /// `url`, one of `family`'s, as a request inside a `$batch` names it: relative to the
    /// version, `/`-led, query kept.
    pub fn in_batch(&self, url: &Url, family: ApiFamily) -> Option<String> {
        let root = format!(
            "{}/{}",
            self.root.path().trim_end_matches('/'),
            self.version(family)
        );
        let rest = url.path().strip_prefix(&root)?;
        let mut relative = rest.to_owned();
        if let Some(query) = url.query() {
            relative = format!("{relative}?{query}");
        }
        relative.starts_with('/').then_some(relative)
    }

    fn join(&self, family: ApiFamily, segments: &[&str]) -> Url {
        let mut url = self.root.clone();
        url.path_segments_mut()
            .expect("a checked http(s) URL has a path")
            .pop_if_empty()
            .push(self.version(family).as_str())
            .extend(segments);
        url
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::change::{ChatId, TeamId, UserId};
    use proptest::prelude::*;

    /// The form `GRAPH_BASE_URL` had before each family had a version: beta for everything.
    pub(in crate::graph) fn base() -> GraphBase {
        GraphBase::parse("https://graph.microsoft.com/beta", None, None).unwrap()
    }

    pub(in crate::graph) fn origin_only() -> GraphBase {
        GraphBase::parse("https://graph.microsoft.com", None, None).unwrap()
    }

    fn parse(raw: &str) -> Result<GraphBase, EndpointError> {
        GraphBase::parse(raw, None, None)
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(parse("https://graph.microsoft.us/beta").is_ok());
        for ok in [
            "http://127.0.0.1:8081/beta",
            "http://localhost:1/beta",
            "http://[::1]:2/beta",
        ] {
            assert!(parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            parse("http://graph.microsoft.com/beta"),
            Err(EndpointError::NotHttps)
        );
        assert_eq!(parse("http://10.0.0.1/beta"), Err(EndpointError::NotHttps));
        assert_eq!(
            parse("https://graph.microsoft.com/beta?x=1"),
            Err(EndpointError::Extras)
        );
        assert!(parse("graph.microsoft.com").is_err());
    }

    #[test]
    fn scope_is_the_graph_origin() {
        assert_eq!(base().scope(), "https://graph.microsoft.com/.default");
        assert_eq!(
            parse("http://127.0.0.1:9/beta").unwrap().scope(),
            "http://127.0.0.1:9/.default"
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

    #[test]
    fn each_family_has_its_version() {
        let restart = Action::RestartDevice {
            device_id: DeviceId::parse("d1").unwrap(),
        };
        let upgrade = Action::UpgradeApp {
            scope: AppScope::Chat(ChatId::parse("19:c@thread.v2").unwrap()),
            installation_id: InstallationId::parse("i1").unwrap(),
            consented_permission_set: None,
        };
        // The origin alone: device actions in beta, app upgrades in v1.0.
        let base = origin_only();
        assert_eq!(
            base.action_url(&restart).as_str(),
            "https://graph.microsoft.com/beta/teamwork/devices/d1/restart"
        );
        assert_eq!(
            base.action_url(&upgrade).as_str(),
            "https://graph.microsoft.com/v1.0/chats/19:c@thread.v2/installedApps/i1/upgrade"
        );
        // A version at the end of the URL applies to every family not set on its own.
        let old_form = GraphBase::parse("https://graph.microsoft.com/beta/", None, None).unwrap();
        assert_eq!(old_form.version(ApiFamily::App).as_str(), "beta");
        assert_eq!(old_form.origin(), "https://graph.microsoft.com");
        let mixed = GraphBase::parse(
            "https://graph.microsoft.com/beta",
            None,
            Some(ApiVersion::v1()),
        )
        .unwrap();
        assert_eq!(mixed.version(ApiFamily::Device).as_str(), "beta");
        assert_eq!(mixed.version(ApiFamily::App).as_str(), "v1.0");
        // A path prefix before the version is kept (a proxy, or a test server).
        let prefixed = GraphBase::parse("http://127.0.0.1:9/graph/v1.0", None, None).unwrap();
        assert_eq!(
            prefixed.action_url(&restart).as_str(),
            "http://127.0.0.1:9/graph/v1.0/teamwork/devices/d1/restart"
        );
        assert_eq!(prefixed.scope(), "http://127.0.0.1:9/.default");
    }

    #[test]
    fn batch_requests_are_named_relative_to_the_version() {
        let base = GraphBase::parse("http://127.0.0.1:9/graph", None, None).unwrap();
        let device = DeviceId::parse("d:1@x").unwrap();
        assert_eq!(
            base.batch_url(ApiFamily::Device).as_str(),
            "http://127.0.0.1:9/graph/beta/$batch"
        );
        assert_eq!(
            base.in_batch(&base.health_url(&device), ApiFamily::Device)
                .unwrap(),
            "/teamwork/devices/d:1@x/health"
        );
        assert_eq!(
            base.in_batch(&base.health_url(&device), ApiFamily::App),
            None
        );
    }

    /// The URL's path segments, each percent-decoded: what Graph reads as each segment.
    fn decoded_segments(url: &Url) -> Vec<String> {
        url.path_segments()
            .unwrap()
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8()
                    .unwrap()
                    .into_owned()
            })
            .collect()
    }

    #[test]
    fn a_guest_upn_is_one_segment() {
        let action = Action::UpgradeApp {
            scope: AppScope::User(
                UserId::parse("o'brien_contoso.com#EXT#@fabrikam.onmicrosoft.com").unwrap(),
            ),
            installation_id: InstallationId::parse("i1").unwrap(),
            consented_permission_set: None,
        };
        let url = origin_only().action_url(&action);
        assert_eq!(
            url.as_str(),
            "https://graph.microsoft.com/v1.0/users/o'brien_contoso.com%23EXT%23@fabrikam.onmicrosoft.com/teamwork/installedApps/i1/upgrade"
        );
        assert_eq!(url.fragment(), None);
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
            first in "[a-zA-Z0-9._~:@+=/?#%' -]{1,16}|\\PC{1,8}",
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
                prop_assert_eq!(decoded_segments(&url), expected);
            }
        }

        #[test]
        fn ids_of_safe_characters_are_accepted(raw in "[a-zA-Z0-9._~:@+=-]{1,64}") {
            prop_assume!(raw != "." && raw != "..");
            prop_assert!(DeviceId::parse(raw).is_ok());
        }
    }
}
