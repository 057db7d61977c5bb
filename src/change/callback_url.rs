//! URLs graphgate calls, read once, when they arrive: a [`WrittenUrl`] keeps how its sender
//! wrote the host, and a [`CallbackUrl`] is where a change's outcome is reported.

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// An absolute http(s) URL, and how its sender wrote its host, which `Url` forgets: it reads
/// `127.1`, `2130706433` and `0x7f000001` as `127.0.0.1`, and maps a fullwidth
/// `ｌｏｃａｌｈｏｓｔ` to `localhost`. Which hosts may be called is the deployment's to say
/// (`outbound::TargetPolicy`), on the host as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenUrl {
    url: Url,
    /// The host as written, when the parser reads it as another host.
    respelled: Option<String>,
}

/// Why a URL was refused; the text completes a sentence naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadCallbackUrl {
    #[error("must be at most {} characters", WrittenUrl::MAX_LEN)]
    TooLong,
    #[error("must not contain whitespace or control characters")]
    Whitespace,
    #[error("must be an absolute http(s) URL")]
    NotAbsolute,
    #[error("must be an http(s) URL")]
    NotHttp,
    #[error("must not carry credentials")]
    Credentials,
    #[error("must not have a fragment")]
    Fragment,
}

impl WrittenUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, BadCallbackUrl> {
        if raw.len() > Self::MAX_LEN {
            return Err(BadCallbackUrl::TooLong);
        }
        // The URL parser would silently drop a tab or newline, or trim a space: the URL
        // stored would not be the one the caller sent, nor its host the one read here.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BadCallbackUrl::Whitespace);
        }
        let url = Url::parse(raw).map_err(|_| BadCallbackUrl::NotAbsolute)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(BadCallbackUrl::NotHttp);
        }
        let written = host_as_written(raw);
        let respelled = (!written_as_read(written, &url)).then(|| written.to_owned());
        Ok(Self { url, respelled })
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The host as its sender wrote it, when the URL parser reads it as another host: a
    /// shortened or numeric IPv4 address, an IPv6 address not in its shortest form, a name
    /// written with percent-escapes or with characters that map to ASCII ones.
    pub fn respelled(&self) -> Option<&str> {
        self.respelled.as_deref()
    }
}

/// The host of `raw`, an http(s) URL the parser took, as written: past the scheme and the
/// slashes (the parser takes `\` for `/`, and any number of them), past any user info, up to
/// the port, path, query or fragment.
fn host_as_written(raw: &str) -> &str {
    let rest = raw.split_once(':').map_or(raw, |(_, rest)| rest);
    let authority = rest
        .trim_start_matches(['/', '\\'])
        .split(['/', '\\', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_and_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_and_port.starts_with('[') {
        let end = host_and_port
            .find(']')
            .map_or(host_and_port.len(), |i| i + 1);
        &host_and_port[..end]
    } else {
        host_and_port.split(':').next().unwrap_or_default()
    }
}

/// Whether `written` is the host `url` holds, as it holds it (ASCII case aside), or an
/// internationalized name, written in Unicode, that is held as its punycode (`xn--`) form.
/// A Unicode spelling that maps onto plain ASCII, an address or `localhost` is not.
fn written_as_read(written: &str, url: &Url) -> bool {
    let Some(read) = url.host_str() else {
        return written.is_empty();
    };
    written.eq_ignore_ascii_case(read)
        || (matches!(url.host(), Some(Host::Domain(_)))
            && !written.is_ascii()
            && read.split('.').any(|label| label.starts_with("xn--")))
}

impl Serialize for WrittenUrl {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.url.as_str())
    }
}

/// Where to report the outcome: an absolute `http(s)` URL without credentials or fragment.
/// Which hosts may be called is decided where the deployment is known: when the request is
/// admitted, and again when the callback is sent.
///
/// It is stored as the URL string the parser made of it; read back, that string is its own
/// host as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CallbackUrl(WrittenUrl);

impl CallbackUrl {
    pub fn parse(raw: &str) -> Result<Self, BadCallbackUrl> {
        let written = WrittenUrl::parse(raw)?;
        let url = written.url();
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BadCallbackUrl::Credentials);
        }
        if url.fragment().is_some() {
            return Err(BadCallbackUrl::Fragment);
        }
        Ok(Self(written))
    }

    pub fn url(&self) -> &WrittenUrl {
        &self.0
    }
}

impl<'de> Deserialize<'de> for CallbackUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_urls_must_be_plain_http_urls() {
        for bad in [
            "not a url",
            "ftp://x/y",
            "https://user:pw@x/y",
            "https://x/y#frag",
            "https://x/y\t",
        ] {
            assert!(CallbackUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(CallbackUrl::parse("https://itsm.example.com/hook?x=1").is_ok());
    }

    #[test]
    fn the_host_is_kept_as_written_when_the_parser_reads_another() {
        for (raw, read_as) in [
            ("http://127.1/h", "127.0.0.1"),
            ("http://2130706433/h", "127.0.0.1"),
            ("http://0x7f000001/h", "127.0.0.1"),
            ("http://0177.0.0.1/h", "127.0.0.1"),
            ("http://127.0.0.1./h", "127.0.0.1"),
            ("http://\u{FF11}\u{FF12}\u{FF17}.0.0.1/h", "127.0.0.1"),
            (
                "http://\u{FF4C}\u{FF4F}\u{FF43}\u{FF41}\u{FF4C}\u{FF48}\u{FF4F}\u{FF53}\u{FF54}:8080/h",
                "localhost",
            ),
            ("http://%6cocalhost/h", "localhost"),
            ("http://localhost\u{3002}/h", "localhost."),
            ("http://[0:0:0:0:0:0:0:1]/h", "[::1]"),
            ("http://[::ffff:127.0.0.1]/h", "[::ffff:7f00:1]"),
            ("https://\u{FF45}xample.com/h", "example.com"),
            ("HTTP:\\\\user@127.1:80\\h", "127.0.0.1"),
        ] {
            let url = WrittenUrl::parse(raw).unwrap();
            assert_eq!(url.url().host_str(), Some(read_as), "{raw}");
            assert!(url.respelled().is_some(), "{raw}");
        }
        for raw in [
            "http://127.0.0.1:9/h",
            "http://LocalHost/h",
            "http://[::1]:9/h",
            "http://[2606:4700:4700::1111]/h",
            "https://itsm.Example.com/h?x=1",
            "https://b\u{FC}cher.de/h",
            "https://@localhost/h",
            "https:/\\localhost/h",
        ] {
            assert_eq!(WrittenUrl::parse(raw).unwrap().respelled(), None, "{raw}");
        }
    }

    #[test]
    fn a_stored_url_reads_back_as_it_was_stored() {
        for raw in [
            "http://127.1:9/h",
            "http://\u{FF4C}\u{FF4F}\u{FF43}\u{FF41}\u{FF4C}\u{FF48}\u{FF4F}\u{FF53}\u{FF54}/h",
            "https://b\u{FC}cher.de/h",
            "https://[::ffff:127.0.0.1]/h",
        ] {
            let url = CallbackUrl::parse(raw).unwrap();
            let stored = serde_json::to_string(&url).unwrap();
            assert_eq!(stored, serde_json::to_string(url.url().url()).unwrap());
            let read: CallbackUrl = serde_json::from_str(&stored).unwrap();
            assert_eq!(read.url().url(), url.url().url());
            // What is stored is the parser's own spelling of the host.
            assert_eq!(read.url().respelled(), None, "{raw}");
        }
    }
}
