//! Where Graph and its token endpoint live, and how URLs on them are built and checked.

use std::net::IpAddr;

use url::{Host, Url};

use super::permissions::{Capability, ScopeKind};
use crate::change::{Action, AppScope, DeviceId, InstallationId, OperationId};

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

    pub fn graph_origin(self) -> &'static str {
        match self {
            Cloud::Global => "https://graph.microsoft.com",
            Cloud::UsGov => "https://graph.microsoft.us",
            Cloud::Dod => "https://dod-graph.microsoft.us",
            Cloud::China => "https://microsoftgraph.chinacloudapi.cn",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Global => "global",
            Cloud::UsGov => "usgov",
            Cloud::Dod => "dod",
            Cloud::China => "china",
        }
    }

    /// Whether Graph offers `capability`, in app-only context, in this cloud. From each action's
    /// "national cloud deployments" table and Microsoft's "Teams API implementation
    /// differences in national clouds" (checked 2026-11):
    /// - the device actions: every cloud;
    /// - upgrading a user's app: not in application context in GCC High (`usgov`) and DoD;
    /// - app installations in China: the team and user pages say not offered, and the
    ///   national-cloud page says app-installation APIs work in no scope there, although the
    ///   chat page marks China available. graphgate follows the national-cloud page, so that
    ///   no upgrade is sent where Graph documents it as unsupported.
    pub fn offers(self, capability: Capability) -> bool {
        match (self, capability) {
            (
                _,
                Capability::DeviceAction(_) | Capability::ListOperations | Capability::ReadDevices,
            ) => true,
            (Cloud::Global, Capability::UpgradeApp { .. }) => true,
            (Cloud::China, Capability::UpgradeApp { .. }) => false,
            (Cloud::UsGov | Cloud::Dod, Capability::UpgradeApp { scope, .. }) => {
                scope != ScopeKind::User
            }
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
    #[error("Graph sent a Location outside the configured Graph origin ({0})")]
    Foreign(String),
    #[error("Graph sent a Location that is not an operation of a device")]
    NotAnOperation,
}

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

    /// Resolves an operation `Location`, and checks that it names a device's operation, in
    /// either form Graph documents: `/teamwork/devices/{id}/operations/{opId}` or with OData
    /// keys, `/teamwork/devices('{id}')/operations('{opId}')` (quotes optional). Graph sends it
    /// relative and without the version segment, so the device calls' version is put back
    /// (only device actions start operations). An absolute URL is taken only on the Graph origin, since the bearer token will be
    /// sent there. Anything else is refused rather than polled.
    pub fn resolve_location(&self, raw: &str) -> Result<Url, LocationError> {
        let path = self.path_on_origin(raw)?;
        let mut segments: Vec<&str> = path.split('/').skip(1).collect();
        let version = match segments.first().and_then(|s| ApiVersion::parse(s)) {
            Some(version) => {
                segments.remove(0);
                version
            }
            None => self.device.clone(),
        };
        if operation_keys(&segments).is_none() {
            return Err(LocationError::NotAnOperation);
        }
        let mut url = self.root.clone();
        url.set_path(&format!(
            "{}/{version}/{}",
            self.root.path().trim_end_matches('/'),
            segments.join("/")
        ));
        Ok(url)
    }

    /// The operation ID in a Location that [`resolve_location`](Self::resolve_location) took.
    pub fn operation_id(&self, location: &Url) -> Option<OperationId> {
        let path = self.path_on_origin(location.as_str()).ok()?;
        let segments: Vec<&str> = path.split('/').skip(2).collect();
        let (_, operation) = operation_keys(&segments)?;
        OperationId::parse(operation.to_owned()).ok()
    }

    /// Resolves an `@odata.nextLink`: on the Graph origin, under the Graph root, query kept.
    pub fn resolve_next_link(&self, raw: &str) -> Result<Url, LocationError> {
        let url = Url::parse(raw.trim()).map_err(|_| LocationError::Invalid)?;
        if !self.on_origin(&url) {
            return Err(LocationError::Foreign(url.origin().ascii_serialization()));
        }
        if !url
            .path()
            .starts_with(&format!("{}/", self.root.path().trim_end_matches('/')))
        {
            return Err(LocationError::Foreign(raw.to_owned()));
        }
        Ok(url)
    }

    /// The path of `raw` below the Graph root, `/`-led, when `raw` names something on the
    /// Graph origin and nothing else (no query, fragment, dot segments or odd characters).
    fn path_on_origin(&self, raw: &str) -> Result<String, LocationError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(LocationError::Missing);
        }
        // The URL parser would quietly drop a tab or read `\` as `/`: refuse instead.
        if !raw.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') {
            return Err(LocationError::Invalid);
        }
        if raw.starts_with("//") {
            return Err(LocationError::Foreign(raw.to_owned()));
        }
        let root_path = self.root.path().trim_end_matches('/');
        let url = match Url::parse(raw) {
            Ok(absolute) => absolute,
            Err(url::ParseError::RelativeUrlWithoutBase) => {
                let relative = raw.trim_start_matches('/');
                let under_root = raw
                    .strip_prefix(root_path)
                    .filter(|rest| !root_path.is_empty() && rest.starts_with('/'));
                let path = match under_root {
                    Some(_) => raw.to_owned(),
                    None => format!("{root_path}/{relative}"),
                };
                if path.split('/').any(|s| {
                    s == "."
                        || s == ".."
                        || s.eq_ignore_ascii_case("%2e")
                        || s.eq_ignore_ascii_case("%2e%2e")
                }) {
                    return Err(LocationError::Foreign(raw.to_owned()));
                }
                self.root.join(&path).map_err(|_| LocationError::Invalid)?
            }
            Err(_) => return Err(LocationError::Invalid),
        };
        if !self.on_origin(&url) {
            return Err(LocationError::Foreign(url.origin().ascii_serialization()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(LocationError::NotAnOperation);
        }
        url.path()
            .strip_prefix(root_path)
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_owned)
            .ok_or_else(|| LocationError::Foreign(raw.to_owned()))
    }

    fn on_origin(&self, url: &Url) -> bool {
        url.scheme() == self.root.scheme()
            && url.host() == self.root.host()
            && url.port_or_known_default() == self.root.port_or_known_default()
            && url.username().is_empty()
            && url.password().is_none()
    }
}

/// The key of an OData key segment such as `devices('{id}')` or `devices({id})`, as written
/// (a quote inside a quoted key stays doubled).
pub fn odata_key<'a>(segment: &'a str, name: &str) -> Option<&'a str> {
    let inner = segment
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let inner = inner
        .strip_prefix('\'')
        .and_then(|k| k.strip_suffix('\''))
        .unwrap_or(inner);
    Some(inner).filter(|k| !k.is_empty())
}

/// The device and operation keys of `teamwork/devices/{id}/operations/{opId}`, or of
/// `teamwork/devices({id})/operations({opId})` with the keys quoted or not.
fn operation_keys<'a>(segments: &[&'a str]) -> Option<(&'a str, &'a str)> {
    match *segments {
        ["teamwork", "devices", device, "operations", operation]
            if !device.is_empty() && !operation.is_empty() =>
        {
            Some((device, operation))
        }
        ["teamwork", devices, operations] => Some((
            odata_key(devices, "devices")?,
            odata_key(operations, "operations")?,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::{ChatId, InstallationId, TeamId, UserId};
    use proptest::prelude::*;

    /// The form `GRAPH_BASE_URL` had before each family had a version: beta for everything.
    fn base() -> GraphBase {
        GraphBase::parse("https://graph.microsoft.com/beta", None, None).unwrap()
    }

    fn origin_only() -> GraphBase {
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
            "/%2e%2e/v1.0/teamwork/devices/d1/operations/op1",
        ] {
            assert!(
                matches!(
                    base().resolve_location(foreign),
                    Err(LocationError::Foreign(_))
                ),
                "{foreign}"
            );
        }
        for (raw, error) in [
            ("", LocationError::Missing),
            ("  ", LocationError::Missing),
            ("http://[::", LocationError::Invalid),
        ] {
            assert_eq!(base().resolve_location(raw), Err(error));
        }
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
    fn each_cloud_offers_what_microsoft_documents_for_it() {
        let device = Action::RunDiagnostics {
            device_id: DeviceId::parse("d1").unwrap(),
        };
        let upgrade = |scope| Action::UpgradeApp {
            scope,
            installation_id: InstallationId::parse("i1").unwrap(),
            consented_permission_set: None,
        };
        let team = upgrade(AppScope::Team(TeamId::parse("t").unwrap()));
        let chat = upgrade(AppScope::Chat(ChatId::parse("c").unwrap()));
        let user = upgrade(AppScope::User(UserId::parse("u").unwrap()));
        let offered = |cloud: Cloud| {
            [&device, &team, &chat, &user].map(|action| cloud.offers(Capability::of(action)))
        };
        assert_eq!(offered(Cloud::Global), [true, true, true, true]);
        assert_eq!(offered(Cloud::UsGov), [true, true, true, false]);
        assert_eq!(offered(Cloud::Dod), [true, true, true, false]);
        assert_eq!(offered(Cloud::China), [true, false, false, false]);
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

    #[test]
    fn a_relative_location_takes_the_device_calls_version() {
        let got = origin_only()
            .resolve_location("/teamwork/devices/d1/operations/op1")
            .unwrap();
        assert_eq!(
            got.as_str(),
            "https://graph.microsoft.com/beta/teamwork/devices/d1/operations/op1"
        );
        let on_v1 = GraphBase::parse(
            "https://graph.microsoft.com",
            ApiVersion::parse("v1.0"),
            None,
        )
        .unwrap()
        .resolve_location("/teamwork/devices/d1/operations/op1")
        .unwrap();
        assert_eq!(
            on_v1.as_str(),
            "https://graph.microsoft.com/v1.0/teamwork/devices/d1/operations/op1"
        );
    }

    #[test]
    fn the_odata_key_form_of_a_location_is_resolved() {
        for (raw, path) in [
            (
                "/teamwork/devices('0f3ce432-e432')/operations('2b4d6a5c-1f3e')",
                "/beta/teamwork/devices('0f3ce432-e432')/operations('2b4d6a5c-1f3e')",
            ),
            (
                "/teamwork/devices(d1)/operations(op-1)",
                "/beta/teamwork/devices(d1)/operations(op-1)",
            ),
            (
                "https://graph.microsoft.com/beta/teamwork/devices('d1')/operations('op-1')",
                "/beta/teamwork/devices('d1')/operations('op-1')",
            ),
        ] {
            let got = origin_only().resolve_location(raw).unwrap();
            assert_eq!(got.path(), path, "{raw}");
            assert_eq!(got.host_str(), Some("graph.microsoft.com"));
            let id = origin_only().operation_id(&got).unwrap();
            assert!(["2b4d6a5c-1f3e", "op-1"].contains(&id.as_ref()), "{raw}");
        }
    }

    #[test]
    fn a_location_that_is_not_a_device_operation_is_refused() {
        for raw in [
            "/\\127.0.0.2:80/x",
            "/teamwork/devices/d1/operations/op\t1",
            "/teamwork/devices/d1/operations/op 1",
            "/teamwork/devices/d1",
            "/teamwork/devices/d1/operations",
            "/teamwork/devices/d1/operations/op1/extra",
            "/teamwork/devices/d1/operations/op1?x=1",
            "/teamwork/devices/d1/operations/op1#f",
            "/teamwork/devices()/operations('x')",
            "/me/messages",
            "/beta/v1.0/teamwork/devices/d1/operations/op1",
            "https://graph.microsoft.com/v1.0/users",
        ] {
            assert!(origin_only().resolve_location(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn next_links_stay_on_the_graph_origin() {
        let next = "https://graph.microsoft.com/beta/teamwork/devices/d1/operations?$skiptoken=abc";
        assert_eq!(
            origin_only().resolve_next_link(next).unwrap().as_str(),
            next
        );
        for foreign in [
            "https://evil.example.com/beta/teamwork/devices/d1/operations?$skiptoken=abc",
            "http://graph.microsoft.com/beta/teamwork/devices/d1/operations",
            "/beta/teamwork/devices/d1/operations",
        ] {
            assert!(
                origin_only().resolve_next_link(foreign).is_err(),
                "{foreign}"
            );
        }
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
