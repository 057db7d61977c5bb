//! Integration tests: graphgate on a random loopback port, talking over real HTTP to a fake
//! Graph and token endpoint (wiremock) or to the built-in simulator.

mod auth;
mod aws_transport;
mod callbacks;
mod changes;
mod chat;
mod check;
mod cli;
mod connections;
mod credentials;
mod devices;
mod docs;
mod dry_run;
mod error_text;
mod fleet;
mod graph_errors;
mod helpers;
mod hostile;
mod idempotency;
mod lambda_events;
mod lambda_runtime;
mod least_privilege;
mod recovery;
mod schemes;
mod secrets;
mod simulator;
mod store;
mod sweep_cost;
mod sweeper;
mod template;
mod ticket_simulator;
mod tickets;
mod token;
mod validation;
mod verification;
mod windows;
