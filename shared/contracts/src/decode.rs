//! Decoding bytes into a typed, upcast envelope — with errors precise enough
//! to park a poison message with a reason.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::envelope::{Envelope, SPEC_VERSION, schema_uri};
use crate::events::Event;
use crate::money::Currency;
use crate::set::EventSet;
use crate::wire::Wire;
use crate::wire::read::{disagrees, is_schema_uri, read, schema_version};

/// Options for decoding; the upcasters' inputs live here, never in defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The currency of `order.placed` v1 totals (v1 recorded none). When
    /// unset, a v1 order fails to decode with [`DecodeError::Upcast`].
    pub order_placed_v1_currency: Option<Currency>,
}

/// Why a message could not be decoded. Every variant is permanent: the same
/// bytes will never decode, so adapters park the message with [`kind`](Self::kind)
/// and the message text as the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or not a CloudEvents 1.0 envelope.
    #[error("invalid envelope at `{path}`: {message}")]
    InvalidEnvelope {
        /// JSON path that failed (`.` for the document itself).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A type the consuming event set does not contain: handled by the
    /// function's policy (acknowledged as ignored, or parked).
    #[error("event type {event_type:?} is not consumed here (consumes: {consumes:?})")]
    NotSubscribed {
        /// The `type` attribute.
        event_type: String,
        /// The types the set consumes.
        consumes: Vec<String>,
    },
    /// A known type at a version this build does not know.
    #[error("unknown version {version} of {event_type:?} (known: {known:?})")]
    UnknownVersion {
        /// The `type` attribute.
        event_type: String,
        /// The `dataversion` attribute.
        version: u32,
        /// The versions this build knows.
        known: Vec<u32>,
    },
    /// The payload does not match its contract.
    #[error("invalid {event_type} v{version} payload at `{path}`: {message}")]
    InvalidPayload {
        /// The `type` attribute.
        event_type: String,
        /// The `dataversion` attribute.
        version: u32,
        /// JSON path that failed, from the envelope root (`data.lines[0].sku`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// An old version that cannot be upcast without inventing data.
    #[error("cannot upcast {event_type} v{from}: {reason}")]
    Upcast {
        /// The `type` attribute.
        event_type: String,
        /// The version that was read.
        from: u32,
        /// Why it cannot be upcast.
        reason: String,
    },
}

impl DecodeError {
    /// A short, bounded code for metrics and park-reason attributes.
    pub fn kind(&self) -> &'static str {
        match self {
            DecodeError::InvalidEnvelope { .. } => "invalid_envelope",
            DecodeError::NotSubscribed { .. } => "not_subscribed",
            DecodeError::UnknownVersion { .. } => "unknown_version",
            DecodeError::InvalidPayload { .. } => "invalid_payload",
            DecodeError::Upcast { .. } => "upcast_failed",
        }
    }
}

fn display_path(path: &serde_path_to_error::Path) -> String {
    let p = path.to_string();
    if p.is_empty() { ".".to_owned() } else { p }
}

pub(crate) fn invalid_envelope(path: &str, message: impl Into<String>) -> DecodeError {
    DecodeError::InvalidEnvelope {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Decodes one event in the CloudEvents 1.0 JSON format (structured mode)
/// and upcasts its payload to the version the set reads.
///
/// Any spec-valid event is read (see the crate's README for the profile):
/// only `specversion`, `id`, `source` and `type` are required, `null` means
/// absent, `data` may be JSON, `data_base64` (with a JSON `datacontenttype`)
/// or absent; `dataversion` and `correlationid` are derived when absent.
///
/// The success path reads the attributes once, keeping `data` as raw JSON,
/// and the payload of the set's version straight into its type — without
/// tracking paths. Only a message that fails to parse is read again with
/// path tracking, so its error names the failing path.
pub fn decode<E: EventSet>(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<Envelope<E>, DecodeError> {
    let Ok(wire) = serde_json::from_slice::<Wire<&RawValue>>(bytes) else {
        return decode_tracked(bytes, options);
    };
    read(wire, options)
}

/// [`decode`] with path tracking all the way: the error names the path.
fn decode_tracked<E: EventSet>(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<Envelope<E>, DecodeError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let wire: Wire<Value> = serde_path_to_error::deserialize(de)
        .map_err(|e| invalid_envelope(&display_path(e.path()), e.inner().to_string()))?;
    read(wire, options)
}

/// Decodes an already-parsed event (e.g. an EventBridge `detail`), by the
/// same rules as [`decode`].
pub fn decode_value<E: EventSet>(
    value: Value,
    options: &DecodeOptions,
) -> Result<Envelope<E>, DecodeError> {
    let wire: Wire<Value> = serde_path_to_error::deserialize(value)
        .map_err(|e| invalid_envelope(&display_path(e.path()), e.inner().to_string()))?;
    read(wire, options)
}

/// Decodes a batch in the CloudEvents JSON batch format
/// (`application/cloudevents-batch+json`: a JSON array of events, possibly
/// empty). The outer error is a document that is not such an array; each
/// event decodes on its own, its error paths prefixed with its index
/// (`[2].time`).
///
/// # Errors
/// [`DecodeError::InvalidEnvelope`] when the document is not a JSON array.
pub fn decode_batch<E: EventSet>(
    bytes: &[u8],
    options: &DecodeOptions,
) -> Result<Vec<Result<Envelope<E>, DecodeError>>, DecodeError> {
    let events: Vec<&RawValue> = serde_json::from_slice(bytes).map_err(|e| {
        invalid_envelope(".", format!("a batch is a JSON array of CloudEvents: {e}"))
    })?;
    Ok(events
        .into_iter()
        .enumerate()
        .map(|(i, raw)| decode(raw.get().as_bytes(), options).map_err(|e| e.in_batch(i)))
        .collect())
}

impl DecodeError {
    /// The error of the `index`-th event of a batch: its path prefixed.
    fn in_batch(self, index: usize) -> Self {
        let prefix = |path: String| {
            if path == "." {
                format!("[{index}]")
            } else {
                format!("[{index}].{path}")
            }
        };
        match self {
            DecodeError::InvalidEnvelope { path, message } => DecodeError::InvalidEnvelope {
                path: prefix(path),
                message,
            },
            DecodeError::InvalidPayload {
                event_type,
                version,
                path,
                message,
            } => DecodeError::InvalidPayload {
                event_type,
                version,
                path: prefix(path),
                message,
            },
            other => other,
        }
    }
}

/// Checks an already normalized envelope (one built by this crate's types)
/// and decodes and upcasts its `data`.
pub fn decode_envelope<E: EventSet>(
    raw: Envelope<Value>,
    options: &DecodeOptions,
) -> Result<Envelope<E>, DecodeError> {
    if raw.specversion != SPEC_VERSION {
        return Err(invalid_envelope(
            "specversion",
            format!("expected \"{SPEC_VERSION}\", got {:?}", raw.specversion),
        ));
    }
    for (path, value) in [
        ("id", &raw.id),
        ("source", &raw.source),
        ("correlationid", &raw.correlationid),
    ] {
        if value.is_empty() {
            return Err(invalid_envelope(path, "must not be empty"));
        }
    }
    let agrees = match schema_version(&raw.dataschema, &raw.event_type) {
        Ok(None) => true, // another schema URI: not Switchyard's to check
        Ok(Some(v)) => v == raw.dataversion,
        Err(()) => false,
    };
    if !agrees {
        return Err(disagrees(
            Some(&raw.dataschema),
            &raw.event_type,
            Some(raw.dataversion),
        ));
    }
    let (head, data) = raw.into_parts();
    let data = E::decode_data(&head.event_type, head.dataversion, data, options)?;
    Ok(finish(head, data))
}

/// The decoded envelope: the payload's own version and schema.
pub(crate) fn finish<E: EventSet>(head: Envelope<()>, data: E) -> Envelope<E> {
    let mut envelope = head.map(|()| data);
    let version = envelope.data.data_version();
    if envelope.dataversion != version
        || !is_schema_uri(&envelope.dataschema, &envelope.event_type, version)
    {
        envelope.dataversion = version;
        envelope.dataschema = schema_uri(&envelope.event_type, version);
    }
    envelope
}

/// Decodes a bare payload of a known type and version (for producers that
/// cannot wrap their messages in an envelope) and upcasts it.
///
/// # Errors
/// As [`EventSet::decode_data`].
pub fn decode_data<E: EventSet>(
    event_type: &str,
    version: u32,
    data: Value,
    options: &DecodeOptions,
) -> Result<E, DecodeError> {
    E::decode_data(event_type, version, data, options)
}

/// Decodes and validates one payload version.
pub fn payload<T: Event + DeserializeOwned>(data: Value) -> Result<T, DecodeError> {
    let invalid = |path: String, message: String| DecodeError::InvalidPayload {
        event_type: T::TYPE.to_owned(),
        version: T::VERSION,
        path,
        message,
    };
    let value: T = serde_path_to_error::deserialize(data).map_err(|e| {
        let p = e.path().to_string();
        let path = if p.is_empty() || p == "." {
            "data".to_owned()
        } else {
            format!("data.{p}")
        };
        invalid(path, e.inner().to_string())
    })?;
    validated(value)
}

/// Checks a decoded payload against its contract's rules ([`Event::validate`]).
pub(crate) fn validated<T: Event>(value: T) -> Result<T, DecodeError> {
    value.validate().map_err(|i| DecodeError::InvalidPayload {
        event_type: T::TYPE.to_owned(),
        version: T::VERSION,
        path: format!("data.{}", i.path),
        message: i.message,
    })?;
    Ok(value)
}
