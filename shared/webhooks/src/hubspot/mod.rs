//! HubSpot webhooks: arrays of up to 100 events per request, signed with
//! signature v3 (HMAC-SHA256, base64, timestamped) and, for backwards
//! compatibility, v2/v1 (plain SHA-256, hex, no timestamp).

mod map;
mod model;
mod verify;

pub use map::{MAX_EVENTS, map};
pub use model::{HubSpotEvent, parse};
pub use verify::{
    HubSpotAuth, SIGNATURE_HEADER, SIGNATURE_V3_HEADER, SIGNATURE_VERSION_HEADER, SignatureVersion,
    TIMESTAMP_HEADER, sign_v1, sign_v2, sign_v3, v3_source_uri, verify,
};
