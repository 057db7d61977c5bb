//! Where graphgate may send a request of its own making (a callback, a call to a ticket
//! system), and the one HTTP client it sends them with.
//!
//! In Lambda such a request may only go to a public https address. The address is checked
//! after DNS resolution, by the resolver the HTTP client connects with, so a name that
//! resolves to a private, link-local or metadata address is refused however it is spelled.
//! `serve` additionally allows `127.0.0.1`, `[::1]` and `localhost`, written just so, over
//! http, for local receivers. A host written in a spelling the URL parser reads as another
//! host (`127.1`, `2130706433`, a fullwidth `ｌｏｃａｌｈｏｓｔ`) is refused under either
//! policy.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

use crate::change::WrittenUrl;

/// Which targets graphgate may call. It judges a URL on its host as written (a
/// [`WrittenUrl`]), so any URL graphgate is given to call can be held to it, not only a
/// callback's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetPolicy {
    /// https to public addresses only: the Lambda deployment.
    PublicHttpsOnly,
    /// Also `127.0.0.1`, `[::1]` and `localhost`, written just so, over http or https:
    /// `graphgate serve`.
    AllowLoopbackHttp,
}

/// The hosts [`TargetPolicy::AllowLoopbackHttp`] allows whatever the scheme, as `Url` holds
/// them: each is its own spelling, so a URL whose host is not respelled wrote it so.
const LOCAL_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("callbacks must use https")]
    NotHttps,
    #[error("callbacks may not go to {0}: it is not a public address")]
    NotPublic(IpAddr),
    #[error("callbacks may not go to port 0")]
    PortZero,
    #[error(
        "the host {written:?} is read as {read_as}: write the host as it is called (an IPv4 address in four decimal parts, an IPv6 address in its shortest form, a name in ASCII or its own script)"
    )]
    Respelled { written: String, read_as: String },
}

impl TargetPolicy {
    /// The checks that need no DNS: how the host is written, the port, the scheme, and the
    /// address when the host is an IP literal.
    pub fn check(self, target: &WrittenUrl) -> Result<(), TargetError> {
        let url = target.url();
        if let Some(written) = target.respelled() {
            return Err(TargetError::Respelled {
                written: written.to_owned(),
                read_as: url.host_str().unwrap_or_default().to_owned(),
            });
        }
        if url.port() == Some(0) {
            return Err(TargetError::PortZero);
        }
        // Loopback, written just so, is `serve`'s one relaxation: every other target
        // follows the deployment's rules.
        let local = url.host_str().is_some_and(|h| LOCAL_HOSTS.contains(&h));
        if self == TargetPolicy::AllowLoopbackHttp && local {
            return Ok(());
        }
        if url.scheme() != "https" {
            return Err(TargetError::NotHttps);
        }
        let literal = match url.host() {
            Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
            Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
            _ => return Ok(()),
        };
        if is_public(literal) {
            Ok(())
        } else {
            Err(TargetError::NotPublic(literal))
        }
    }
}

/// Whether `ip` is reachable on the public internet: not loopback, private, link-local
/// (which holds the cloud metadata service), shared, documentation, multicast or reserved,
/// nor any other of IANA's special-purpose ranges that are not globally reachable.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match in_ipv4_space(v6) {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6) && isatap_v4(v6).is_none_or(is_public_v4),
        },
    }
}

/// The IPv4 address an IPv6 address of IPv4 space stands for: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, which holds `::` and `::1` too) and
/// IPv4-translated (`::ffff:0:a.b.c.d`).
fn in_ipv4_space(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let translated = s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0;
    ip.to_ipv4()
        .or_else(|| translated.then(|| last_32_bits(ip)))
}

/// The IPv4 address an ISATAP interface identifier (`…:0:5efe:a.b.c.d`,
/// `…:200:5efe:a.b.c.d`) tunnels to, which does without a tunnel graphgate could refuse by
/// prefix. NAT64, 6to4 and Teredo are refused whole.
fn isatap_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    (matches!(s[4], 0x0000 | 0x0200) && s[5] == 0x5efe).then(|| last_32_bits(ip))
}

fn last_32_bits(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (deprecated): tunnels to IPv6
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
}

/// Whether `ip`, not of IPv4 space, is a global unicast address: in 2000::/3, the only space
/// IANA allocates for it, which leaves out loopback, unspecified, unique local (with
/// fd00:ec2::254, EC2's metadata), link- and site-local, multicast, NAT64 (64:ff9b::/96,
/// which reaches IPv4 space), discard-only (100::/64), SRv6 SIDs (5f00::/16, RFC 9602) and
/// everything reserved; and not in one of 2000::/3's own special-purpose ranges.
fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [first, second, ..] = ip.segments();
    let special = match first {
        // IETF protocol assignments (2001::/23, with Teredo), documentation (2001:db8::/32)
        0x2001 => second < 0x0200 || second == 0x0db8,
        0x2002 => true,            // 6to4: tunnels to IPv4
        0x3fff => second < 0x1000, // documentation (3fff::/20, RFC 9637)
        _ => false,
    };
    (first & 0xe000) == 0x2000 && !special
}

/// Resolves names like the system does, then keeps only public addresses, and the loopback
/// ones of `localhost` where the policy allows it.
struct PublicOnly {
    allow_localhost: bool,
}

/// What [`PublicOnly`] answers for a name with no public address; found again in the error
/// chain to tell why a request went nowhere.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves to no public address")]
pub struct NoPublicAddress(String);

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_localhost = self.allow_localhost;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let local = allow_localhost && host == "localhost";
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| is_public(a.ip()) || (local && a.ip().is_loopback()))
                .collect();
            if public.is_empty() {
                return Err(NoPublicAddress(host).into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// The HTTP client for requests graphgate makes of its own accord, and the rules they
/// follow; one per process, the client built on first use: building it loads the root
/// certificates, which a cold start that sends nothing never needs.
pub struct Outbound {
    http: OnceLock<reqwest::Client>,
    policy: TargetPolicy,
}

/// How long one request may take, unless its caller gives less.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

impl Outbound {
    pub fn new(policy: TargetPolicy) -> Self {
        Self {
            http: OnceLock::new(),
            policy,
        }
    }

    /// The checks that need no DNS, by this deployment's policy.
    pub fn check(&self, url: &WrittenUrl) -> Result<(), TargetError> {
        self.policy.check(url)
    }

    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            crate::tls::build(
                reqwest::Client::builder()
                    .user_agent(concat!("graphgate/", env!("CARGO_PKG_VERSION")))
                    .timeout(REQUEST_TIMEOUT)
                    .connect_timeout(Duration::from_secs(5))
                    // A redirect or a proxy would send the request somewhere the checks did
                    // not see.
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .dns_resolver(PublicOnly {
                        allow_localhost: self.policy == TargetPolicy::AllowLoopbackHttp,
                    }),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "2001:db8::1",
            "64:ff9b::a9fe:a9fe",
            "::a9fe:a9fe",
            "::ffff:0:a9fe:a9fe",
            "::ffff:0:7f00:1",
            "2606:4700::5efe:a9fe:a9fe",
            "2606:4700::200:5efe:a00:1",
            "2002:a9fe:a9fe::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(!is_public(private.parse().unwrap()), "{private}");
        }
        for public in [
            "8.8.8.8",
            "52.94.236.248",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2606:4700::5efe:808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn special_purpose_ranges_are_not_public() {
        for reserved in [
            "5f00::1",     // SRv6 SIDs, RFC 9602
            "3fff::1",     // documentation, RFC 9637
            "2001:2::1",   // benchmarking
            "2001:1::1",   // protocol assignments
            "100::1",      // discard-only
            "4000::1",     // not allocated
            "192.88.99.1", // 6to4 relay anycast
        ] {
            assert!(!is_public(reserved.parse().unwrap()), "{reserved}");
        }
        for public in ["2620:4f:8000::1", "3fff:1000::1", "2001:200::1"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    fn url(raw: &str) -> WrittenUrl {
        WrittenUrl::parse(raw).unwrap()
    }

    const BOTH: [TargetPolicy; 2] = [
        TargetPolicy::PublicHttpsOnly,
        TargetPolicy::AllowLoopbackHttp,
    ];

    #[test]
    fn target_checks_by_policy() {
        let strict = TargetPolicy::PublicHttpsOnly;
        let local = TargetPolicy::AllowLoopbackHttp;
        assert_eq!(
            strict.check(&url("http://itsm.example.com/h")),
            Err(TargetError::NotHttps)
        );
        assert_eq!(
            strict.check(&url("http://127.0.0.1:9/h")),
            Err(TargetError::NotHttps)
        );
        assert!(matches!(
            strict.check(&url("https://169.254.169.254/latest")),
            Err(TargetError::NotPublic(_))
        ));
        assert!(matches!(
            strict.check(&url("https://[fd00:ec2::254]/")),
            Err(TargetError::NotPublic(_))
        ));
        assert!(strict.check(&url("https://itsm.example.com/h")).is_ok());
        assert_eq!(
            local.check(&url("http://10.0.0.5/h")),
            Err(TargetError::NotHttps)
        );
        // Loopback is serve's one relaxation: private and metadata addresses stay refused,
        // in every spelling.
        for private in [
            "https://10.0.0.5/h",
            "https://169.254.169.254/latest",
            "https://[::ffff:a9fe:a9fe]/",
            "https://[fd00:ec2::254]/",
            "https://[5f00::1]/",
            "https://[3fff::1]/",
        ] {
            for policy in BOTH {
                assert!(
                    matches!(policy.check(&url(private)), Err(TargetError::NotPublic(_))),
                    "{policy:?} {private}"
                );
            }
        }
    }

    #[test]
    fn serve_allows_exactly_the_local_hosts_the_docs_name() {
        let local = TargetPolicy::AllowLoopbackHttp;
        for allowed in [
            "http://127.0.0.1:9/h",
            "http://[::1]:9/h",
            "http://localhost:9/h",
            "http://LOCALHOST/h",
            "https://127.0.0.1:9/h",
            "https://localhost/h",
        ] {
            assert_eq!(local.check(&url(allowed)), Ok(()), "{allowed}");
        }
        // Other loopback addresses, and the local names of other resolvers, follow the
        // deployment's rules.
        for other in [
            "http://127.0.0.2/h",
            "http://foo.localhost/h",
            "http://localhost./h",
        ] {
            assert_eq!(
                local.check(&url(other)),
                Err(TargetError::NotHttps),
                "{other}"
            );
        }
        assert!(matches!(
            local.check(&url("https://127.0.0.2/h")),
            Err(TargetError::NotPublic(_))
        ));
    }

    #[test]
    fn a_host_the_parser_reads_as_another_is_refused_by_both_policies() {
        for (raw, written, read_as) in [
            ("http://127.1:9/h", "127.1", "127.0.0.1"),
            ("http://2130706433:9/h", "2130706433", "127.0.0.1"),
            ("http://0x7f000001:9/h", "0x7f000001", "127.0.0.1"),
            ("https://0x7f.1/h", "0x7f.1", "127.0.0.1"),
            (
                "https://0251.0376.0251.0376/x",
                "0251.0376.0251.0376",
                "169.254.169.254",
            ),
            ("https://134744072/h", "134744072", "8.8.8.8"),
            (
                "http://\u{FF4C}\u{FF4F}\u{FF43}\u{FF41}\u{FF4C}\u{FF48}\u{FF4F}\u{FF53}\u{FF54}:9/h",
                "\u{FF4C}\u{FF4F}\u{FF43}\u{FF41}\u{FF4C}\u{FF48}\u{FF4F}\u{FF53}\u{FF54}",
                "localhost",
            ),
            ("http://[0::1]:9/h", "[0::1]", "[::1]"),
        ] {
            for policy in BOTH {
                assert_eq!(
                    policy.check(&url(raw)),
                    Err(TargetError::Respelled {
                        written: written.to_owned(),
                        read_as: read_as.to_owned(),
                    }),
                    "{policy:?} {raw}"
                );
            }
        }
    }

    #[test]
    fn port_0_is_refused_by_both_policies() {
        for raw in [
            "https://itsm.example.com:0/h",
            "http://127.0.0.1:0/h",
            "http://localhost:00/h",
        ] {
            for policy in BOTH {
                assert_eq!(policy.check(&url(raw)), Err(TargetError::PortZero), "{raw}");
            }
        }
    }
}
