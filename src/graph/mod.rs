//! The Microsoft Graph client: tokens, actions, retries and the rules for where a token may go.

mod batch;
mod client;
mod credential;
mod endpoints;
mod error;
mod http;
mod inventory;
mod notices;
mod operation;
mod permissions;
mod preflight;
mod retry;
mod token;

pub use client::{GraphClient, GraphRequest, operation_type};
pub use credential::{
    CertificateError, ClientCertificate, Credential, CredentialSource, FixedCredential,
};
pub use endpoints::{
    ApiFamily, ApiVersion, Cloud, EndpointError, GraphBase, LocationError, check_endpoint,
    odata_key,
};
pub use error::GraphError;
pub use notices::RetirementNotice;
pub use permissions::{Capability, ScopeKind, Verdict};
pub use preflight::Preflight;
pub use retry::RetryPolicy;
pub use token::ClientCredentials;
