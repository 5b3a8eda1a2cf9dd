//! Logging setup: `tracing` with text or JSON lines, filtered by `[log] level`.
//!
//! Secrets never reach a log line as values: wrap them in [`crate::redact::Redacted`].

use tracing_subscriber::EnvFilter;

use crate::config::sections::{LogFormat, LogSection};

/// Logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The filter directive is invalid (config validation normally catches this first).
    #[error("log.level: {0}")]
    Filter(String),
    /// A global subscriber is already installed.
    #[error("a log subscriber is already installed")]
    AlreadyInstalled,
}

/// Installs the global `tracing` subscriber writing to stderr. Call once, from the binary.
pub fn init(log: &LogSection) -> Result<(), TelemetryError> {
    let filter =
        EnvFilter::try_new(&log.level.0).map_err(|e| TelemetryError::Filter(e.to_string()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match log.format {
        LogFormat::Text => builder.with_target(true).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    result.map_err(|_| TelemetryError::AlreadyInstalled)
}
