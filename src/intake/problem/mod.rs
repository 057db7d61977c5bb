//! Every error the HTTP API returns, and the one place they become `application/problem+json`
//! (RFC 9457). Logs get the whole error chain; the body gets a fixed sentence per problem,
//! and Graph's own `code` and `message` as named fields. No parser, HTTP client or I/O text,
//! and nothing from a Graph body that is not a Graph error, reaches a client.

mod body;
mod catalog;
mod error;
mod graph;
mod response;
mod ticket;

pub use error::ApiError;
pub use response::Refused;
