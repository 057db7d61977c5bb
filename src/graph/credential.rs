//! What proves graphgate's identity to the token endpoint: a client secret, or a certificate
//! whose private key signs a client assertion, as Microsoft Entra specifies for certificate
//! credentials (RFC 7523 `private_key_jwt`). Signing is `jsonwebtoken`'s; this module only
//! picks the PEM blocks apart and fills in the claims Entra asks for.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use url::Url;

/// How long a client assertion is valid. Entra accepts up to 10 minutes; graphgate signs a
/// new one for every token request, so a short life costs nothing.
const ASSERTION_LIFETIME: time::Duration = time::Duration::minutes(5);

/// One credential of graphgate's app registration.
pub enum Credential {
    Secret(SecretString),
    Certificate(ClientCertificate),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Secret(_) => f.write_str("Credential::Secret(..)"),
            Credential::Certificate(c) => write!(f, "Credential::Certificate({})", c.thumbprint),
        }
    }
}

impl Credential {
    /// The form fields that present this credential in a client-credentials token request.
    pub(crate) fn form_fields(
        &self,
        token_url: &Url,
        client_id: &str,
    ) -> Result<Vec<(&'static str, String)>, CertificateError> {
        Ok(match self {
            Credential::Secret(secret) => {
                vec![("client_secret", secret.expose_secret().to_owned())]
            }
            Credential::Certificate(certificate) => vec![
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned(),
                ),
                (
                    "client_assertion",
                    certificate.assertion(token_url, client_id, OffsetDateTime::now_utc())?,
                ),
            ],
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error("is not PEM text")]
    NotPem,
    #[error("holds no CERTIFICATE block")]
    NoCertificate,
    #[error("holds no PRIVATE KEY or RSA PRIVATE KEY block")]
    NoKey,
    #[error("holds a private key that is not an RSA key jsonwebtoken can sign PS256 with")]
    UnusableKey,
    #[error("could not sign a client assertion")]
    Signing,
}

/// An RSA private key and the certificate Entra knows it by.
pub struct ClientCertificate {
    key: EncodingKey,
    /// `x5t#S256`: the base64url SHA-256 of the certificate's DER, which tells Entra which of
    /// the registration's certificates to verify the assertion with.
    thumbprint: String,
}

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    iat: i64,
    exp: i64,
}

impl ClientCertificate {
    /// Reads the private key and the certificate from PEM text holding both, in any order.
    /// The first CERTIFICATE block is the one the key belongs to; a chain may follow it.
    pub fn from_pem(text: &str) -> Result<Self, CertificateError> {
        let blocks = pem::parse_many(text).map_err(|_| CertificateError::NotPem)?;
        let certificate = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or(CertificateError::NoCertificate)?;
        let key = blocks
            .iter()
            .find(|b| matches!(b.tag(), "PRIVATE KEY" | "RSA PRIVATE KEY"))
            .ok_or(CertificateError::NoKey)?;
        let key = EncodingKey::from_rsa_pem(pem::encode(key).as_bytes())
            .map_err(|_| CertificateError::UnusableKey)?;
        Ok(Self {
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(Sha256::digest(certificate.contents())),
        })
    }

    fn assertion(
        &self,
        token_url: &Url,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<String, CertificateError> {
        let mut header = Header::new(Algorithm::PS256);
        header.x5t_s256 = Some(self.thumbprint.clone());
        let now = now.unix_timestamp();
        let claims = AssertionClaims {
            aud: token_url.as_str(),
            iss: client_id,
            sub: client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME.whole_seconds(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|_| CertificateError::Signing)
    }
}

/// Where the token source gets the credential to present. A credential read from a secret
/// store can change under a running process (rotation); one from the environment cannot.
#[async_trait]
pub trait CredentialSource: Send + Sync + fmt::Debug {
    /// The credential to present now.
    async fn current(&self) -> Arc<Credential>;

    /// Entra refused `refused` as invalid or expired. Returns whether a different credential
    /// is now current, so that the refused request is worth one more try.
    async fn refused(&self, refused: &Arc<Credential>) -> bool;
}

/// A credential that never changes for the life of the process.
#[derive(Debug)]
pub struct FixedCredential(Arc<Credential>);

impl FixedCredential {
    pub fn new(credential: Credential) -> Self {
        Self(Arc::new(credential))
    }
}

#[async_trait]
impl CredentialSource for FixedCredential {
    async fn current(&self) -> Arc<Credential> {
        self.0.clone()
    }

    async fn refused(&self, _: &Arc<Credential>) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_text_without_both_parts_is_refused_by_what_is_missing() {
        let err = |text: &str| ClientCertificate::from_pem(text).err().unwrap().to_string();
        assert_eq!(err("not pem"), "holds no CERTIFICATE block");
        let key_only = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(err(key_only), "holds no CERTIFICATE block");
        let cert_only = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            err(cert_only),
            "holds no PRIVATE KEY or RSA PRIVATE KEY block"
        );
        let both = format!("{key_only}{cert_only}");
        assert_eq!(
            err(&both),
            "holds a private key that is not an RSA key jsonwebtoken can sign PS256 with"
        );
    }
}
