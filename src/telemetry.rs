//! What graphgate writes for people: logs (JSON lines in Lambda, which CloudWatch parses;
//! compact text on a terminal), error chains for them, and banners on a terminal.

use std::io::Write;

use tracing_subscriber::EnvFilter;

pub enum Format {
    Json,
    Text,
}

/// The variable that sets the log filter (`info` when unset), as in every `tracing` program.
pub const LOG_FILTER_VAR: &str = "RUST_LOG";

/// Installs the global subscriber, filtered by [`LOG_FILTER_VAR`].
pub fn init(format: Format) {
    let filter = EnvFilter::try_from_env(LOG_FILTER_VAR).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        Format::Json => builder
            .json()
            .with_current_span(false)
            .without_time()
            .init(),
        Format::Text => builder.compact().init(),
    }
}

/// An error and every cause under it, for the log. Clients see only the outermost message.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    use std::fmt::Write as _;
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let _ = write!(out, ": {cause}");
        source = cause.source();
    }
    out
}

/// Prints a banner for a person at a terminal. A closed stdout must not stop the server, so
/// a failed write is ignored (`println!` would panic).
pub fn show(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
