//! The rule for a URL graphgate sends a secret or a token to: https, or plain http on a
//! loopback host, with no credentials, query or fragment of its own.

use std::net::IpAddr;

use url::{Host, Url};

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
