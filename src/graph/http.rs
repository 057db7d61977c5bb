//! The HTTP client of Graph and its token endpoint, shared by the Graph client and its token
//! source, and built on first use: a cold start that answers a read or a health check never
//! needs it.

use std::sync::{Arc, LazyLock};
use std::time::Duration;

pub(super) type LazyHttp = Arc<LazyLock<reqwest::Client, fn() -> reqwest::Client>>;

/// The process's one client of Graph, not yet built.
pub(super) fn lazy() -> LazyHttp {
    Arc::new(LazyLock::new(http_client))
}

fn http_client() -> reqwest::Client {
    crate::tls::build(
        crate::tls::public_client()
            .user_agent(concat!("graphgate/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // A redirect could carry the bearer token to another host.
            .redirect(reqwest::redirect::Policy::none()),
    )
}
