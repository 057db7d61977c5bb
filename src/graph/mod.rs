//! The Microsoft Graph client: tokens, actions, retries and the rules for where a token may go.

mod client;
mod endpoints;
mod error;
mod retry;
mod token;

pub use client::{ActionOutcome, GraphClient};
pub use endpoints::{Cloud, EndpointError, GraphBase, LocationError, check_endpoint};
pub use error::GraphError;
pub use retry::RetryPolicy;
pub use token::{ClientCredentials, TokenSource};
