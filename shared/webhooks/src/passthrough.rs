//! Bodies that already speak our contracts (Standard Webhooks and
//! Stripe-style senders): a whole CloudEvents envelope, or the sender's own
//! wrapper around one contract payload.

use chrono::{DateTime, Utc};
use serde_json::Value;
use switchyard_contracts::catalog::known_versions;
use switchyard_contracts::{DecodeError, DecodeOptions, DomainEvent, decode_data, decode_value};

use crate::error::MapError;
use crate::mapped::{
    EnvelopeParts, MapOptions, Mapped, MappedEvent, Provider, Unmapped, envelope, validate,
};

/// A parsed pass-through body.
#[derive(Debug, Clone, PartialEq)]
pub enum PassThrough {
    /// A CloudEvents envelope (the body has `specversion`), still undecoded.
    Envelope(Value),
    /// The sender's wrapper around one payload.
    Payload {
        /// The sender's event id, when the wrapper has one (Stripe-style `id`).
        id: Option<String>,
        /// The sender's event type.
        event_type: String,
        /// When the event happened.
        time: DateTime<Utc>,
        /// The payload.
        data: Value,
    },
}

impl PassThrough {
    /// The id the body itself carries: the envelope `id` or the wrapper's.
    pub fn body_id(&self) -> Option<String> {
        match self {
            PassThrough::Envelope(v) => v.get("id").and_then(Value::as_str).map(str::to_owned),
            PassThrough::Payload { id, .. } => id.clone(),
        }
    }
}

pub(crate) fn parse_json(body: &[u8]) -> Result<Value, MapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(MapError::Empty);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Value = serde_path_to_error::deserialize(&mut de).map_err(MapError::json)?;
    de.end().map_err(|e| MapError::Json {
        path: ".".to_owned(),
        message: e.to_string(),
    })?;
    if !value.is_object() {
        return Err(MapError::Json {
            path: ".".to_owned(),
            message: "expected a JSON object".to_owned(),
        });
    }
    Ok(value)
}

/// Maps a pass-through body. `configured_type` is the contract type to read
/// a wrapper's payload as when the sender's own type is not a contract type.
pub(crate) fn map(
    provider: Provider,
    delivery_id: &str,
    body: PassThrough,
    configured_type: Option<&str>,
    options: &MapOptions,
) -> Result<Mapped, MapError> {
    let decode_options = DecodeOptions {
        order_placed_v1_currency: options.default_currency,
    };
    let mut mapped = Mapped::default();
    let env = match body {
        PassThrough::Envelope(value) => match decode_value::<DomainEvent>(value, &decode_options) {
            Ok(env) => {
                validate(&env.data)?;
                env
            }
            Err(DecodeError::NotSubscribed { event_type, .. }) => {
                mapped.unmapped.push(Unmapped {
                    delivery_id: delivery_id.to_owned(),
                    kind: event_type.chars().take(64).collect(),
                    reason: "unknown_event_type",
                });
                return Ok(mapped);
            }
            Err(e) => return Err(MapError::Envelope(e.to_string())),
        },
        PassThrough::Payload {
            event_type,
            time,
            data,
            ..
        } => {
            let contract_type = if known_versions(&event_type).is_empty() {
                match configured_type {
                    Some(t) => t.to_owned(),
                    None => {
                        mapped.unmapped.push(Unmapped {
                            delivery_id: delivery_id.to_owned(),
                            kind: event_type.chars().take(64).collect(),
                            reason: "unknown_event_type",
                        });
                        return Ok(mapped);
                    }
                }
            } else {
                event_type
            };
            let Some(version) = known_versions(&contract_type).last().copied() else {
                return Err(MapError::invalid(
                    "type",
                    format!("{contract_type} is not a contract type"),
                ));
            };
            let data = decode_data(&contract_type, version, data, &decode_options)
                .map_err(|e| MapError::Envelope(e.to_string()))?;
            envelope(
                EnvelopeParts {
                    provider,
                    organisation: "",
                    delivery_id,
                    index: 0,
                    time,
                    correlation_id: None,
                },
                data,
            )?
        }
    };
    let d = mapped.delivery(delivery_id.to_owned());
    mapped.events.push(MappedEvent {
        deliveries: vec![d],
        envelope: env,
    });
    Ok(mapped)
}
