//! What a function configures: key prefix, key source, payload validation, expiry.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Where the per-message part of the key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The envelope id (CloudEvents `id`, SQS message id, ...). The default.
    EventId,
    /// The value at this JSON pointer (RFC 6901, e.g. `/order/id`) in the payload.
    /// Strings are used as they are; other values by the SHA-256 of their canonical JSON.
    JsonPointer(String),
}

/// Which part of the payload is hashed for payload validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadHash {
    /// No validation: a reused key is never reported as a mismatch.
    Off,
    /// The whole payload. The default.
    Whole,
    /// The value at this JSON pointer (a missing value hashes as `null`).
    JsonPointer(String),
}

/// Why no key could be built for a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The envelope id was empty.
    #[error("the event id is empty, so no idempotency key can be built")]
    EmptyEventId,
    /// The key's JSON pointer found nothing (or `null`) in the payload.
    #[error("idempotency key pointer {pointer:?} matches nothing in the payload")]
    MissingValue {
        /// The configured pointer.
        pointer: String,
    },
}

/// A function's idempotency keys. How long records live and whether an
/// in-process cache fronts the backend are properties of the store it is
/// opened with ([`StoreOptions`](crate::StoreOptions), [`CachedStore`](crate::CachedStore)),
/// set by the host from `SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS` and
/// `SWITCHYARD_IDEMPOTENCY_CACHE_ENTRIES`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyConfig {
    /// Stable prefix of every key; defaults to the function name. Change it and
    /// every earlier record is forgotten.
    pub key_prefix: String,
    /// Where the per-message part of the key comes from. Default [`KeySource::EventId`].
    pub key_source: KeySource,
    /// Which part of the payload is validated. Default [`PayloadHash::Whole`].
    pub payload_hash: PayloadHash,
}

impl IdempotencyConfig {
    /// The defaults for the function `name`: prefix `name`, key from the
    /// event id, whole-payload validation.
    pub fn for_function(name: impl Into<String>) -> Self {
        Self {
            key_prefix: name.into(),
            key_source: KeySource::EventId,
            payload_hash: PayloadHash::Whole,
        }
    }

    /// The key of a message: `<prefix>#<event id>` or `<prefix>#<value at pointer>`.
    pub fn key_for(&self, event_id: &str, payload: &Value) -> Result<String, KeyError> {
        let part = match &self.key_source {
            KeySource::EventId if event_id.is_empty() => return Err(KeyError::EmptyEventId),
            KeySource::EventId => event_id.to_owned(),
            KeySource::JsonPointer(pointer) => match payload.pointer(pointer) {
                None | Some(Value::Null) => {
                    return Err(KeyError::MissingValue {
                        pointer: pointer.clone(),
                    });
                }
                Some(Value::String(text)) => text.clone(),
                Some(other) => canonical_sha256(other),
            },
        };
        Ok(format!("{}#{part}", self.key_prefix))
    }

    /// Whether [`key_for`](Self::key_for) reads the payload (a JSON pointer
    /// key); otherwise any payload, `Value::Null` too, gives the same key.
    pub fn key_reads_payload(&self) -> bool {
        matches!(self.key_source, KeySource::JsonPointer(_))
    }

    /// [`hash_payload`](Self::hash_payload) of `serde_json::to_value(payload)`,
    /// the same hash, computed without building the `Value` when the whole
    /// payload is hashed.
    ///
    /// # Errors
    /// When `payload` cannot be represented as JSON.
    pub fn hash_serialized<T: serde::Serialize + ?Sized>(
        &self,
        payload: &T,
    ) -> Result<Option<String>, serde_json::Error> {
        if self.payload_hash == PayloadHash::Whole {
            let mut text = Vec::with_capacity(512);
            if crate::canonical::write(payload, &mut text).is_ok() {
                return Ok(Some(hex(&Sha256::digest(&text))));
            }
        }
        Ok(self.hash_payload(&serde_json::to_value(payload)?))
    }

    /// The payload hash to store and validate: SHA-256 (hex) of the canonical
    /// JSON (object keys sorted, no whitespace) of the configured part, or
    /// `None` when validation is off.
    pub fn hash_payload(&self, payload: &Value) -> Option<String> {
        let part = match &self.payload_hash {
            PayloadHash::Off => return None,
            PayloadHash::Whole => payload,
            PayloadHash::JsonPointer(pointer) => payload.pointer(pointer).unwrap_or(&Value::Null),
        };
        Some(canonical_sha256(part))
    }
}

/// SHA-256 (lowercase hex) of the canonical JSON of `value`: object keys
/// sorted at every level, no whitespace, whatever map order `serde_json`
/// was built with. Streamed into the hasher: no JSON text is built.
fn canonical_sha256(value: &Value) -> String {
    let mut hasher = Sha256::new();
    write_canonical(value, &mut hasher);
    hex(&hasher.finalize())
}

/// Lowercase hex of a digest.
fn hex(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(digest.len() * 2);
    for &byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// Feeds what it is written into the hasher.
struct Feed<'a>(&'a mut Sha256);

impl std::io::Write for Feed<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_canonical(value: &Value, out: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.update(b"{");
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                write_scalar(key, out);
                out.update(b":");
                write_canonical(item, out);
            }
            out.update(b"}");
        }
        Value::Array(items) => {
            out.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.update(b",");
                }
                write_canonical(item, out);
            }
            out.update(b"]");
        }
        scalar => write_scalar(scalar, out),
    }
}

/// A string or scalar as `serde_json` writes it (escapes, number format).
fn write_scalar<T: serde::Serialize + ?Sized>(value: &T, out: &mut Sha256) {
    // Writing into a hasher cannot fail, and a string or scalar always serialises.
    let _ = serde_json::to_writer(Feed(out), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_defaults_to_prefix_and_event_id() {
        let config = IdempotencyConfig::for_function("erp-sync");
        assert_eq!(
            config.key_for("abc", &json!({})),
            Ok("erp-sync#abc".to_owned())
        );
        assert_eq!(config.key_for("", &json!({})), Err(KeyError::EmptyEventId));
    }

    #[test]
    fn key_from_json_pointer() {
        let mut config = IdempotencyConfig::for_function("f");
        config.key_source = KeySource::JsonPointer("/order/id".into());
        let payload = json!({"order": {"id": "o-1", "n": 2}});
        assert_eq!(config.key_for("ignored", &payload), Ok("f#o-1".to_owned()));
        config.key_source = KeySource::JsonPointer("/order/n".into());
        let key = config.key_for("ignored", &payload).unwrap_or_default();
        assert!(key.starts_with("f#") && key.len() == 2 + 64, "{key}");
        config.key_source = KeySource::JsonPointer("/missing".into());
        assert!(matches!(
            config.key_for("x", &payload),
            Err(KeyError::MissingValue { .. })
        ));
    }

    #[test]
    fn the_streamed_hash_is_the_sha256_of_the_canonical_text() {
        // records were hashed from this text before the hash was streamed:
        // keys sorted at every level, serde_json's escapes and numbers (this
        // build's maps are sorted, so `to_string` writes exactly that text)
        let value =
            json!({"b": [1, "x\"y\n", null, true, 1.5, -0.0, 1e21], "a": {"d": 2, "c": "é\u{1}"}});
        let text = value.to_string();
        assert!(
            text.starts_with(r#"{"a":{"c":"é\u0001","d":2},"b":[1,"x\"y\n""#),
            "{text}"
        );
        let expected: String = Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(canonical_sha256(&value), expected);
    }

    #[test]
    fn hash_is_order_independent_and_configurable() {
        let mut config = IdempotencyConfig::for_function("f");
        let a = json!({"a": 1, "b": {"y": [1, 2], "x": "s"}});
        let b: Value =
            serde_json::from_str(r#"{"b":{"x":"s","y":[1,2]},"a":1}"#).unwrap_or_default();
        assert_eq!(config.hash_payload(&a), config.hash_payload(&b));
        assert_ne!(
            config.hash_payload(&a),
            config.hash_payload(&json!({"a": 2}))
        );
        config.payload_hash = PayloadHash::JsonPointer("/a".into());
        assert_eq!(
            config.hash_payload(&a),
            config.hash_payload(&json!({"a": 1, "other": true}))
        );
        config.payload_hash = PayloadHash::Off;
        assert_eq!(config.hash_payload(&a), None);
    }
}
