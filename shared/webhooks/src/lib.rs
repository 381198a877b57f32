#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod cloudevents;
pub mod dynamics;
mod error;
pub mod hubspot;
mod mapped;
mod passthrough;
mod request;
pub mod salesforce;
mod secret;
pub mod standard;
pub mod stripe;

pub use error::{MapError, VerifyError};
pub use mapped::{MapOptions, Mapped, MappedEvent, Provider, Unmapped, event_id, source};
pub use passthrough::PassThrough;
pub use request::{
    SignedRequest, TOLERANCE_SECS, check_window, parse_timestamp, percent_decode, public_uri,
};
pub use secret::{InvalidSecret, Secret, Secrets, ct_eq, hex, hmac_sha256, sha256, unhex};
