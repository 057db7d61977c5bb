//! Whom graphgate's connections to AWS and to Microsoft Graph trust: Mozilla's root
//! certificates, compiled in as parsed trust anchors (`webpki-roots`), rather than the
//! system's bundle, whose PEM decoding took 1.3-1.4 ms of each cold start's first reply
//! (BENCHMARKS.md); these anchors need no decoding or parsing. Every endpoint of AWS and of
//! Graph in each of its clouds chains to a root in Mozilla's set. The set is fixed at build
//! time: a root Mozilla adds or distrusts reaches graphgate with the crate's next release.
//!
//! Callbacks are the exception: they go to the callers' own endpoints, which may use a private
//! authority installed on the system, so the callback client keeps the system's store.

use std::sync::{Arc, LazyLock};

/// Made once per process and shared by every client that trusts these roots: the parsed
/// roots, and the TLS session cache that lets a second connection to a host resume.
static CONFIG: LazyLock<rustls::ClientConfig> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs speaks TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    // What reqwest offers when it makes the configuration itself.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
});

/// A client builder that trusts Mozilla's roots and nothing else.
pub fn public_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(CONFIG.clone())
}

/// Builds a client; the one way it can fail is a TLS backend left out at compile time.
pub fn build(builder: reqwest::ClientBuilder) -> reqwest::Client {
    builder.build().expect("the TLS backend is compiled in")
}
