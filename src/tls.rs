//! Whom graphgate's connections to AWS and to Microsoft Graph trust: Mozilla's root
//! certificates, compiled in (`webpki-root-certs`), rather than the system's bundle. Decoding
//! that PEM bundle takes about 2 ms at every cold start (BENCHMARKS.md), and every endpoint of
//! AWS and of Graph in each of its clouds chains to a root in Mozilla's set.
//!
//! Callbacks are the exception: they go to the callers' own endpoints, which may use a private
//! authority installed on the system, so the callback client keeps the system's store.

/// A client builder that trusts Mozilla's roots and nothing else.
pub fn public_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_certs_only(
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|der| reqwest::Certificate::from_der(der).expect("rustls takes DER as it is")),
    )
}
