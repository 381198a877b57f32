//! Parsing a Standard Webhooks body.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::error::MapError;
use crate::passthrough::{PassThrough, parse_json};

/// Parses a body: an envelope (has `specversion`) or `{"type", "timestamp", "data"}`.
///
/// # Errors
/// [`MapError::Empty`], [`MapError::Json`], or [`MapError::Missing`]/[`MapError::Invalid`] for the wrapper.
pub fn parse(body: &[u8]) -> Result<PassThrough, MapError> {
    let value = parse_json(body)?;
    if value.get("specversion").is_some() {
        return Ok(PassThrough::Envelope(value));
    }
    let event_type = value
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| MapError::missing("type", "a Standard Webhooks payload is {\"type\", \"timestamp\", \"data\"} or a contract envelope"))?
        .to_owned();
    let time = value
        .get("timestamp")
        .and_then(Value::as_str)
        .ok_or_else(|| MapError::missing("timestamp", "an RFC 3339 time"))
        .and_then(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| MapError::invalid("timestamp", "expected an RFC 3339 time"))
        })?;
    let data = value
        .get("data")
        .cloned()
        .ok_or_else(|| MapError::missing("data", "the contract payload"))?;
    Ok(PassThrough::Payload {
        id: None,
        event_type,
        time,
        data,
    })
}
