//! EventBridge: `PutEvents`, 10 entries and 256 KB per call, retrying only
//! the entries that failed.

mod client;
mod config;
mod publisher;

pub use client::{EventBridgeEntry, InMemoryPutEvents, PutEventsApi, is_retryable_entry_code};
pub use config::EventBridgeConfig;
pub use publisher::{EventBridgePublisher, MAX_ENTRIES, MAX_ENTRY_BYTES, TIME_BYTES};
