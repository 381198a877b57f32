#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod catalog;
pub mod compat;
pub mod decode;
pub mod envelope;
pub mod events;
pub mod money;
pub mod schema;
pub mod set;
mod wire;

pub use catalog::DomainEvent;
pub use decode::{DecodeError, DecodeOptions, decode, decode_batch, decode_data, decode_value};
pub use envelope::Envelope;
pub use events::Event;
pub use money::{Amount, Currency, Money};
pub use set::EventSet;
pub use wire::rules::is_json_media_type;

#[doc(hidden)]
pub mod __private {
    //! What [`event_set!`](crate::event_set) expands to; not a public API.
    pub use serde::{Serialize, Serializer};
    pub use serde_json::Value;
}
