//! CloudEvents → contracts: every event decoded by the contracts' CloudEvents
//! rules and kept as sent (id, source, time, correlation).

use std::cell::OnceCell;

use serde::Deserialize;
use serde_json::value::RawValue;
use switchyard_contracts::{
    DecodeError, DecodeOptions, DomainEvent, Envelope, decode, decode_batch, decode_value,
};

use super::model::Body;
use crate::error::MapError;
use crate::mapped::{MapOptions, Mapped, MappedEvent, Unmapped, validate};

/// The dedupe id of an event: `source` and `id`, which the spec makes
/// unique per distinct event (a URI-reference has no space).
fn delivery_id(source: &str, id: &str) -> String {
    format!("{source} {id}")
}

/// Maps a request's events. An event of a type no contract knows is
/// acknowledged as unmapped; any other invalid event refuses the request
/// (nothing is published unless every event is valid). An event repeated
/// within one request (same `source` and `id`) is published once.
///
/// # Errors
/// [`MapError::Envelope`] naming the event (its index in a batch) and the
/// rule it breaks.
pub fn map(body: Body<'_>, options: &MapOptions) -> Result<Mapped, MapError> {
    let decode_options = DecodeOptions {
        order_placed_v1_currency: options.default_currency,
    };
    let mut mapped = Mapped::default();
    match body {
        Body::Structured(bytes) => {
            let result = decode::<DomainEvent>(bytes, &decode_options);
            add(&mut mapped, result, || ids_of_bytes(bytes), None)?;
        }
        Body::Binary(value) => {
            let ids = Ids::of_value(&value);
            let result = decode_value::<DomainEvent>(value, &decode_options);
            add(&mut mapped, result, || ids, None)?;
        }
        Body::Batch(bytes) => {
            let results = decode_batch::<DomainEvent>(bytes, &decode_options)
                .map_err(|e| MapError::Envelope(e.to_string()))?;
            // the raw events again, only to name an unmapped one
            let raw = OnceCell::new();
            for (i, result) in results.into_iter().enumerate() {
                let ids = || {
                    let raw: &Vec<&RawValue> =
                        raw.get_or_init(|| serde_json::from_slice(bytes).unwrap_or_default());
                    ids_of_bytes(raw.get(i).map_or("", |r| r.get()).as_bytes())
                };
                add(&mut mapped, result, ids, Some(i))?;
            }
        }
    }
    Ok(mapped)
}

/// `id` and `source` of an event that did not decode into a contract.
#[derive(Debug, Default, Deserialize)]
struct Ids {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

impl Ids {
    fn of_value(v: &serde_json::Value) -> Ids {
        let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_owned);
        Ids {
            id: text("id"),
            source: text("source"),
        }
    }
}

fn ids_of_bytes(bytes: &[u8]) -> Ids {
    serde_json::from_slice(bytes).unwrap_or_default()
}

fn add(
    mapped: &mut Mapped,
    result: Result<Envelope<DomainEvent>, DecodeError>,
    ids: impl FnOnce() -> Ids,
    index: Option<usize>,
) -> Result<(), MapError> {
    match result {
        Ok(envelope) => {
            validate(&envelope.data)?;
            let id = delivery_id(&envelope.source, &envelope.id);
            if mapped.deliveries.contains(&id) {
                return Ok(());
            }
            let d = mapped.delivery(id);
            mapped.events.push(MappedEvent {
                deliveries: vec![d],
                envelope,
            });
            Ok(())
        }
        Err(DecodeError::NotSubscribed { event_type, .. }) => {
            let Ids { id, source } = ids();
            mapped.unmapped.push(Unmapped {
                delivery_id: delivery_id(
                    source.as_deref().unwrap_or(""),
                    id.as_deref().unwrap_or(""),
                )
                .chars()
                .take(256)
                .collect(),
                kind: event_type.chars().take(64).collect(),
                reason: "unknown_event_type",
            });
            Ok(())
        }
        Err(e) => Err(MapError::Envelope(match index {
            Some(i) => format!("event {i} of the batch: {e}"),
            None => e.to_string(),
        })),
    }
}
