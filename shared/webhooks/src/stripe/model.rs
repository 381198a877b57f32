//! Parsing a Stripe-style body.

use chrono::DateTime;
use serde_json::Value;

use crate::error::MapError;
use crate::passthrough::{PassThrough, parse_json};

/// Parses a body: an envelope (has `specversion`) or
/// `{"id", "type", "created", "data": {"object"}}`.
///
/// # Errors
/// [`MapError::Empty`], [`MapError::Json`], or [`MapError::Missing`]/[`MapError::Invalid`] for the event object.
pub fn parse(body: &[u8]) -> Result<PassThrough, MapError> {
    let value = parse_json(body)?;
    if value.get("specversion").is_some() {
        if value
            .get("id")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(MapError::missing("id", "the envelope id is the dedupe id"));
        }
        return Ok(PassThrough::Envelope(value));
    }
    let text = |k: &'static str, hint: &'static str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| MapError::missing(k, hint))
    };
    let id = text("id", "a Stripe-style event has an id (the dedupe id)")?;
    let event_type = text("type", "a Stripe-style event has a type")?;
    let created = value
        .get("created")
        .and_then(Value::as_i64)
        .ok_or_else(|| MapError::missing("created", "seconds since the epoch"))?;
    let time = DateTime::from_timestamp(created, 0)
        .ok_or_else(|| MapError::invalid("created", "out of range"))?;
    let data = value
        .get("data")
        .and_then(|d| d.get("object"))
        .cloned()
        .ok_or_else(|| MapError::missing("data.object", "the contract payload"))?;
    Ok(PassThrough::Payload {
        id: Some(id),
        event_type,
        time,
        data,
    })
}
