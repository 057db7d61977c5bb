//! graphgate: approved change requests in, Microsoft Graph actions out, each tracked to the end.

pub mod app;
pub mod aws;
pub mod callback;
pub mod callers;
pub mod change;
pub mod clock;
pub mod config;
pub mod graph;
pub mod intake;
pub mod lambda;
pub mod local;
pub mod metrics;
pub mod outbound;
pub mod secrets;
pub mod simulator;
pub mod store;
pub mod submission;
pub mod sweeper;
pub mod telemetry;
pub mod tickets;
pub mod tls;
