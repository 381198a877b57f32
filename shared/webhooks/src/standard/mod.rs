//! Standard Webhooks (standardwebhooks.com): `webhook-id`,
//! `webhook-timestamp` (seconds) and `webhook-signature` (space-separated
//! `v1,<base64>` entries); HMAC-SHA256 over `id.timestamp.body` under the
//! base64 key of a `whsec_` secret; ±5 minutes.
//!
//! The body is a contract envelope, or the spec's recommended
//! `{"type", "timestamp", "data"}` wrapper around a contract payload.

mod map;
mod model;
mod verify;

pub use map::map;
pub use model::parse;
pub use verify::{
    ID_HEADER, SIGNATURE_HEADER, StandardAuth, TIMESTAMP_HEADER, parse_signature_header, sign,
    verify,
};
