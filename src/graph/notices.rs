//! Graph's notice that an API is going away: the `Deprecation` and `Sunset` response headers
//! (with `Link: …; rel="deprecation"`) that Graph's gateway adds to answers from a deprecated
//! API. Each API's notice is logged once, and again only if it changes; the preflight check
//! shows them all.

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::HeaderMap;
use serde::Serialize;

/// What Graph said about one API's retirement, header values as Graph sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetirementNotice {
    /// The call that carried the headers: an action, or the operations it starts.
    pub api: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sunset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

/// The notices seen by this process, one per API.
#[derive(Default)]
pub(super) struct Notices(Mutex<BTreeMap<&'static str, RetirementNotice>>);

impl Notices {
    /// Remembers the notice in `headers`, if any, and logs it when it is new for `api`.
    pub(super) fn observe(&self, api: &'static str, headers: &HeaderMap) {
        let Some(notice) = notice_in(api, headers) else {
            return;
        };
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if seen.get(api) == Some(&notice) {
            return;
        }
        tracing::warn!(
            api,
            deprecation = notice.deprecation.as_deref().unwrap_or("-"),
            sunset = notice.sunset.as_deref().unwrap_or("-"),
            link = notice.link.as_deref().unwrap_or("-"),
            "Graph says this API is deprecated; graphgate keeps using it while Graph serves it"
        );
        seen.insert(api, notice);
    }

    pub(super) fn all(&self) -> Vec<RetirementNotice> {
        let seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        seen.values().cloned().collect()
    }
}

fn notice_in(api: &'static str, headers: &HeaderMap) -> Option<RetirementNotice> {
    let value = |name: &str| {
        let raw = headers.get(name)?.to_str().ok()?;
        // Printed in logs and by the check: printable ASCII, and not without bound.
        let clean: String = raw
            .chars()
            .filter(|c| c.is_ascii_graphic() || *c == ' ')
            .take(300)
            .collect();
        Some(clean.trim().to_owned()).filter(|v| !v.is_empty())
    };
    let link = headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.contains("rel=\"deprecation\"") || v.contains("rel=deprecation"))
        .map(|v| v.chars().filter(char::is_ascii_graphic).take(300).collect());
    let notice = RetirementNotice {
        api,
        deprecation: value("deprecation"),
        sunset: value("sunset"),
        link,
    };
    (notice.deprecation.is_some() || notice.sunset.is_some()).then_some(notice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn each_apis_notice_is_kept_once_and_updated_when_it_changes() {
        let notices = Notices::default();
        notices.observe("restartDevice", &headers(&[("request-id", "r1")]));
        assert!(notices.all().is_empty(), "no headers, no notice");
        // The form Graph's API guidelines show, long weekday and all.
        let first = headers(&[
            ("Deprecation", "Wed, 30 Mar 2022 11:59:59 GMT"),
            ("Sunset", "Thursday, 30 June 2024 23:59:59 GMT"),
            ("Link", "<https://example.com/a>; rel=\"alternate\""),
            (
                "Link",
                "https://docs.microsoft.com/en-us/graph/changelog#2022-03-30_name ; rel=\"deprecation\"; type=\"text/html\"",
            ),
        ]);
        notices.observe("restartDevice", &first);
        notices.observe("restartDevice", &first);
        notices.observe(
            "operation",
            &headers(&[("Sunset", "Sat, 01 Nov 2025 00:00:00 GMT")]),
        );
        let all = notices.all();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].api, "operation");
        assert_eq!(
            all[1].deprecation.as_deref(),
            Some("Wed, 30 Mar 2022 11:59:59 GMT")
        );
        assert_eq!(
            all[1].sunset.as_deref(),
            Some("Thursday, 30 June 2024 23:59:59 GMT")
        );
        assert!(
            all[1]
                .link
                .as_deref()
                .unwrap()
                .contains("changelog#2022-03-30_name")
        );
        notices.observe("restartDevice", &headers(&[("Deprecation", "@1688169599")]));
        assert_eq!(notices.all()[1].deprecation.as_deref(), Some("@1688169599"));
        assert_eq!(notices.all()[1].sunset, None);
    }
}
