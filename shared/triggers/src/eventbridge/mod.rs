//! The EventBridge adapter: one `EventBridgeEvent` per invocation, whose
//! `detail` is a Switchyard envelope (or a partner's bare payload of a
//! configured contract).

mod adapter;
mod config;

pub use adapter::{EventBridgeAdapter, EventBridgeInput, EventBridgeRetry};
pub use config::EventBridgeAdapterConfig;
