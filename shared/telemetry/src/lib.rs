//! Tracing setup for Switchyard functions.
//!
//! On AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) and Azure Functions
//! (`FUNCTIONS_CUSTOMHANDLER_PORT` set) logs are one JSON object per line on
//! stdout, with the current span's fields (`correlation_id`, `event_id`,
//! `message_id`, ...) so a log query can follow one business flow across
//! functions. Locally they are compact and readable. The level comes from
//! `RUST_LOG` (default `info`).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use tracing_subscriber::EnvFilter;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (cloud runtimes).
    Json,
    /// Compact human-readable lines (local runs).
    Compact,
}

/// The format for this environment: JSON on Lambda and Azure Functions.
pub fn detect_format() -> LogFormat {
    let cloud = ["AWS_LAMBDA_FUNCTION_NAME", "FUNCTIONS_CUSTOMHANDLER_PORT"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if cloud {
        LogFormat::Json
    } else {
        LogFormat::Compact
    }
}

/// Installs the global subscriber. Calling it twice is harmless (the second
/// call does nothing), so tests and binaries can both call it.
pub fn init() {
    init_with(detect_format());
}

/// Installs the global subscriber with an explicit format.
pub fn init_with(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init(),
        LogFormat::Compact => builder.compact().try_init(),
    };
    // Err means a subscriber is already installed: keep it.
    drop(result);
}

/// For command-line tools: compact logs on stderr (stdout stays for the
/// command's output), at `RUST_LOG` or `default_level`.
pub fn init_cli(default_level: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    let result = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .compact()
        .try_init();
    drop(result);
}
