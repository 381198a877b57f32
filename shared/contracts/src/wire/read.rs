//! From an event as read ([`Wire`]) to an [`Envelope`]: the rules checked,
//! what Switchyard adds derived, `data` decoded.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Wire, rules};
use crate::decode::{DecodeError, DecodeOptions, finish, invalid_envelope};
use crate::envelope::{DATA_CONTENT_TYPE, Envelope, schema_uri};
use crate::set::EventSet;

const SCHEMA_PREFIX: &str = "urn:switchyard:schema:";

/// Whether `uri` is [`schema_uri`]`(event_type, version)`, without building it.
pub(crate) fn is_schema_uri(uri: &str, event_type: &str, version: u32) -> bool {
    uri.starts_with(SCHEMA_PREFIX) && schema_version(uri, event_type) == Ok(Some(version))
}

/// The JSON `data` member as read: raw text (fast path) or a `Value`.
pub(crate) trait WireData {
    fn decode<E: EventSet>(
        self,
        event_type: &str,
        version: u32,
        options: &DecodeOptions,
    ) -> Result<E, DecodeError>;
}

impl WireData for &RawValue {
    fn decode<E: EventSet>(
        self,
        event_type: &str,
        version: u32,
        options: &DecodeOptions,
    ) -> Result<E, DecodeError> {
        E::decode_data_json(event_type, version, self.get(), options)
    }
}

impl WireData for Value {
    fn decode<E: EventSet>(
        self,
        event_type: &str,
        version: u32,
        options: &DecodeOptions,
    ) -> Result<E, DecodeError> {
        E::decode_data(event_type, version, self, options)
    }
}

/// The version a Switchyard `dataschema` names for `event_type`: `None`
/// for another schema URI, `Err` for a Switchyard one that does not name
/// `event_type` at a canonical version.
pub(crate) fn schema_version(schema: &str, event_type: &str) -> Result<Option<u32>, ()> {
    let Some(rest) = schema.strip_prefix(SCHEMA_PREFIX) else {
        return Ok(None);
    };
    rest.strip_prefix(event_type)
        .and_then(|rest| rest.strip_prefix(":v"))
        .filter(|v| {
            // canonical decimal, as `schema_uri` writes it: digits only, no leading zero
            !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_digit())
                && (v.len() == 1 || !v.starts_with('0'))
        })
        .and_then(|v| v.parse::<u32>().ok())
        .map(Some)
        .ok_or(())
}

/// Checks every rule of an event as read, derives what Switchyard adds
/// (`dataversion`, `correlationid`), decodes `data` and normalizes the
/// event into an [`Envelope`].
pub(crate) fn read<E: EventSet, D: WireData>(
    wire: Wire<D>,
    options: &DecodeOptions,
) -> Result<Envelope<E>, DecodeError> {
    let time = rules::check(&wire).map_err(|b| invalid_envelope(&b.path, b.message))?;
    let Wire {
        specversion,
        id,
        source,
        event_type,
        subject,
        datacontenttype,
        dataschema,
        dataversion,
        correlationid,
        causationid,
        traceparent,
        data,
        data_base64,
        ..
    } = wire;
    // present and non-empty: `check` said so
    let (id, event_type) = (id.unwrap_or_default(), event_type.unwrap_or_default());
    // a valid event of a type the set does not consume: the function's
    // policy, whatever its data is
    if !E::contains(&event_type) {
        return Err(DecodeError::not_subscribed::<E>(&event_type));
    }
    let from_schema = match dataschema
        .as_deref()
        .map(|s| schema_version(s, &event_type))
    {
        Some(Err(())) => return Err(disagrees(dataschema.as_deref(), &event_type, dataversion)),
        Some(Ok(v)) => v,
        None => None,
    };
    if let (Some(v), Some(s)) = (dataversion, from_schema) {
        if v != s {
            return Err(disagrees(dataschema.as_deref(), &event_type, dataversion));
        }
    }
    let version = match dataversion
        .or(from_schema)
        .or_else(|| E::version_read(&event_type))
    {
        Some(v) => v,
        None => {
            return Err(invalid_envelope(
                "dataversion",
                format!(
                    "no dataversion and no Switchyard dataschema: the version of {event_type:?} is unknown"
                ),
            ));
        }
    };
    if data.is_some() || data_base64.is_some() {
        if let Some(media) = datacontenttype
            .as_deref()
            .filter(|m| !rules::is_json_media_type(m))
        {
            return Err(invalid_envelope(
                "datacontenttype",
                format!("{media:?} data is not JSON: Switchyard reads contract data as JSON only"),
            ));
        }
    }
    let decoded = match (data, data_base64) {
        (Some(data), _) => data.decode::<E>(&event_type, version, options)?,
        (None, Some(encoded)) => {
            let bytes = BASE64.decode(encoded.as_bytes()).map_err(|e| {
                invalid_envelope("data_base64", format!("not base64 (RFC 4648): {e}"))
            })?;
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                invalid_envelope("data_base64", "the decoded data is not UTF-8 JSON")
            })?;
            E::decode_data_json(&event_type, version, text, options)?
        }
        (None, None) => {
            E::decode_data(&event_type, version, Value::Null, options).map_err(without_data)?
        }
    };
    let head = Envelope {
        specversion: specversion.unwrap_or_default(),
        correlationid: correlationid.unwrap_or_else(|| id.clone()),
        id,
        source: source.unwrap_or_default(),
        dataschema: dataschema.unwrap_or_else(|| schema_uri(&event_type, version)),
        event_type,
        time,
        subject,
        datacontenttype: datacontenttype.unwrap_or_else(|| DATA_CONTENT_TYPE.to_owned()),
        dataversion: version,
        causationid,
        traceparent,
        data: (),
    };
    Ok(finish(head, decoded))
}

/// The payload error of an event without `data`, saying so.
fn without_data(e: DecodeError) -> DecodeError {
    match e {
        DecodeError::InvalidPayload {
            event_type,
            version,
            path,
            message,
        } => DecodeError::InvalidPayload {
            message: format!(
                "the event has no `data` (nor `data_base64`), which {event_type} v{version} \
                 requires: {message}"
            ),
            event_type,
            version,
            path,
        },
        other => other,
    }
}

pub(crate) fn disagrees(
    schema: Option<&str>,
    event_type: &str,
    version: Option<u32>,
) -> DecodeError {
    let version = version.map_or_else(|| "absent".to_owned(), |v| v.to_string());
    invalid_envelope(
        "dataschema",
        format!("{schema:?} disagrees with type {event_type:?} and dataversion {version}"),
    )
}
