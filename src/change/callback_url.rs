//! Where a change's outcome is reported: a URL checked once, when the request is read.

use serde::{Deserialize, Serialize};
use url::Url;

/// Where to report the outcome: an absolute `http(s)` URL without credentials. Which hosts
/// may be called is decided when the callback is sent, where the deployment is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CallbackUrl(Url);

/// Why a callback URL was refused; the text completes a sentence naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadCallbackUrl {
    #[error("must be at most {} characters", CallbackUrl::MAX_LEN)]
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

impl CallbackUrl {
    pub const MAX_LEN: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, BadCallbackUrl> {
        if raw.len() > Self::MAX_LEN {
            return Err(BadCallbackUrl::TooLong);
        }
        // The URL parser would silently drop a tab or newline, or trim a space: the URL
        // stored would not be the one the caller sent.
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(BadCallbackUrl::Whitespace);
        }
        let url = Url::parse(raw).map_err(|_| BadCallbackUrl::NotAbsolute)?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(BadCallbackUrl::NotHttp);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BadCallbackUrl::Credentials);
        }
        if url.fragment().is_some() {
            return Err(BadCallbackUrl::Fragment);
        }
        Ok(Self(url))
    }

    pub fn url(&self) -> &Url {
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
        ] {
            assert!(CallbackUrl::parse(bad).is_err(), "{bad}");
        }
        assert!(CallbackUrl::parse("https://itsm.example.com/hook?x=1").is_ok());
    }
}
