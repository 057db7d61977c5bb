//! The URLs Graph sends back: an operation's `Location` and a list's `@odata.nextLink`,
//! taken only when they stay on the Graph origin, since the bearer token will follow them.

use url::Url;

use super::base::GraphBase;
use super::version::{ApiFamily, ApiVersion};
use crate::change::OperationId;

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

impl GraphBase {
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
            None => self.version(ApiFamily::Device).clone(),
        };
        if operation_keys(&segments).is_none() {
            return Err(LocationError::NotAnOperation);
        }
        let mut url = self.root().clone();
        url.set_path(&format!(
            "{}/{version}/{}",
            self.root().path().trim_end_matches('/'),
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
            .starts_with(&format!("{}/", self.root().path().trim_end_matches('/')))
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
        let root_path = self.root().path().trim_end_matches('/');
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
                self.root()
                    .join(&path)
                    .map_err(|_| LocationError::Invalid)?
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
        url.scheme() == self.root().scheme()
            && url.host() == self.root().host()
            && url.port_or_known_default() == self.root().port_or_known_default()
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
    use super::super::base::tests::{base, origin_only};
    use super::*;

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
}
