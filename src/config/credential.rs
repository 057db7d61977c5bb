//! The credential of graphgate's app registration: a client secret or a certificate, each
//! given in the environment or by the ARN of a secret. One given by ARN is read again after
//! `GRAPHGATE_SECRET_TTL_SECS`, and at once when Entra refuses it.

use std::sync::Arc;

use secrecy::SecretString;

use super::by_arn::secret_ttl;
use super::env::{ConfigError, Env};
use super::rotation::{Parse, RotatingSecret};
use crate::clock::Clock;
use crate::graph::{ClientCertificate, Credential, CredentialSource, FixedCredential};

pub(super) fn credential(
    env: Env<'_>,
    clock: &Arc<dyn Clock>,
) -> Result<Arc<dyn CredentialSource>, ConfigError> {
    let secret = env("GRAPH_CLIENT_SECRET");
    let certificate = env("GRAPH_CLIENT_CERTIFICATE");
    let (name, arn_name, text, parse): (_, _, _, Parse<Credential>) = match (secret, certificate) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::invalid(
                "GRAPH_CLIENT_CERTIFICATE",
                "set a client secret or a certificate, not both",
            ));
        }
        (None, None) => {
            return Err(ConfigError::Missing {
                name: "GRAPH_CLIENT_SECRET",
                why: "graphgate's app registration signs in with a client secret \
                          (GRAPH_CLIENT_SECRET or GRAPH_CLIENT_SECRET_ARN) or a certificate \
                          (GRAPH_CLIENT_CERTIFICATE or GRAPH_CLIENT_CERTIFICATE_ARN)",
            });
        }
        (Some(text), None) => (
            "GRAPH_CLIENT_SECRET",
            "GRAPH_CLIENT_SECRET_ARN",
            text,
            secret_credential,
        ),
        (None, Some(text)) => {
            const NAME: &str = "GRAPH_CLIENT_CERTIFICATE";
            const ARN: &str = "GRAPH_CLIENT_CERTIFICATE_ARN";
            // Given in the environment, it may name a file; a secret holds the PEM itself.
            let text = match env(ARN) {
                Some(_) => text,
                None => inline_or_file(NAME, text)?,
            };
            (NAME, ARN, text, certificate_credential)
        }
    };
    match env(arn_name) {
        Some(arn) => {
            RotatingSecret::new(arn_name, arn, secret_ttl(env)?, parse, &text, clock.clone())
                .map(|source| Arc::new(source) as Arc<dyn CredentialSource>)
                .map_err(|detail| ConfigError::invalid(arn_name, detail))
        }
        None => parse(&text)
            .map(|c| Arc::new(FixedCredential::new(c)) as Arc<dyn CredentialSource>)
            .map_err(|detail| ConfigError::invalid(name, detail)),
    }
}

fn secret_credential(text: &str) -> Result<Credential, String> {
    Ok(Credential::Secret(SecretString::from(text.to_owned())))
}

/// A certificate credential from PEM text holding the private key and the certificate.
fn certificate_credential(text: &str) -> Result<Credential, String> {
    ClientCertificate::from_pem(text)
        .map(Credential::Certificate)
        .map_err(|e| format!("the PEM text {e}"))
}

/// PEM text given inline, or the path of a file holding it.
fn inline_or_file(name: &'static str, value: String) -> Result<String, ConfigError> {
    // PEM may follow other text, such as the "Bag Attributes" openssl writes.
    if value.contains("-----BEGIN") {
        return Ok(value);
    }
    std::fs::read_to_string(value.trim()).map_err(|e| {
        ConfigError::invalid(
            name,
            format!(
                "is neither PEM text nor the path of a readable file ({})",
                e.kind()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::env::lookup;
    use super::*;
    use crate::clock::SystemClock;

    /// The credential `env` names, on the system clock: no rule tested here reads it.
    fn credential(env: Env<'_>) -> Result<Arc<dyn CredentialSource>, ConfigError> {
        super::credential(env, &(Arc::new(SystemClock) as Arc<dyn Clock>))
    }

    #[test]
    fn exactly_one_credential_is_given_and_a_bad_certificate_is_named() {
        let with = |vars: &[(&str, &str)]| credential(&lookup(vars)).err().map(|e| e.to_string());
        let none = with(&[]).unwrap();
        assert!(
            none.starts_with("GRAPH_CLIENT_SECRET is required"),
            "{none}"
        );
        assert!(none.contains("GRAPH_CLIENT_CERTIFICATE_ARN"), "{none}");
        let both = with(&[
            ("GRAPH_CLIENT_SECRET", "s"),
            ("GRAPH_CLIENT_CERTIFICATE", "-----BEGIN CERTIFICATE-----"),
        ]);
        assert_eq!(
            both.as_deref(),
            Some(
                "GRAPH_CLIENT_CERTIFICATE is invalid: set a client secret or a certificate, not both"
            )
        );
        let no_file = with(&[("GRAPH_CLIENT_CERTIFICATE", "/nonexistent/cert.pem")]).unwrap();
        assert!(
            no_file.starts_with(
                "GRAPH_CLIENT_CERTIFICATE is invalid: is neither PEM text nor the path"
            ),
            "{no_file}"
        );
        let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = with(&[("GRAPH_CLIENT_CERTIFICATE", key_only)]).unwrap();
        assert_eq!(
            err,
            "GRAPH_CLIENT_CERTIFICATE is invalid: the PEM text holds no CERTIFICATE block"
        );
        assert!(!err.contains("AAAA"), "the key never appears: {err}");
        let pem = include_str!("../../tests/fixtures/graph-client-cert.pem");
        assert_eq!(with(&[("GRAPH_CLIENT_CERTIFICATE", pem)]), None);
        // As `openssl pkcs12 -nodes` writes it, with attributes before each block.
        let bagged = format!("Bag Attributes\n    friendlyName: graphgate\n{pem}");
        assert_eq!(with(&[("GRAPH_CLIENT_CERTIFICATE", &bagged)]), None);
    }
}
