//! The Microsoft Graph client: tokens, actions, retries and the rules for where a token may go.

mod base;
mod batch;
mod client;
mod cloud;
mod credential;
mod endpoints;
mod error;
mod http;
mod inventory;
mod location;
mod notices;
mod operation;
mod permissions;
mod preflight;
mod retry;
mod token;
mod version;

pub use base::GraphBase;
pub use client::{GraphClient, GraphRequest, operation_type};
pub use cloud::Cloud;
pub use credential::{
    CertificateError, ClientCertificate, Credential, CredentialSource, FixedCredential,
};
pub use endpoints::{EndpointError, check_endpoint};
pub use error::GraphError;
pub use location::{LocationError, odata_key};
pub use notices::RetirementNotice;
pub use permissions::{Capability, ScopeKind, Verdict};
pub use preflight::Preflight;
pub use retry::RetryPolicy;
pub use token::ClientCredentials;
pub use version::{ApiFamily, ApiVersion};
