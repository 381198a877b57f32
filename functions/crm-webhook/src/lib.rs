#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod config;
mod delivery;
mod function;
mod handshake;
mod keys;
mod receive;
mod refusal;
mod router;

pub use config::{
    Config, ConfigError, DEFAULT_BODY_LIMIT_BYTES, DEFAULT_CLAIM_SECS, DEFAULT_DEDUPE_SECS,
    PassThroughConfig, Providers,
};
pub use function::{SETTINGS, WebhookApp, function};
pub use keys::Keys;
pub use router::{AppState, app};

/// The function's name: the idempotency key prefix and log field.
pub const FUNCTION_NAME: &str = "crm-webhook";

/// The header that carries the published event ids on Salesforce answers
/// (whose body must be the SOAP Ack).
pub const EVENT_IDS_HEADER: &str = "x-switchyard-event-ids";
