//! SQS: `SendMessageBatch`, 10 messages and 256 KiB per call, FIFO group
//! and deduplication ids, retrying only the messages that failed; and
//! [`SqsApi`], the one SQS client seam shared with the trigger adapters
//! (parking, visibility backoff).

mod client;
mod config;
mod publisher;

pub use client::{
    AwsSqs, InMemorySqs, SentMessage, SqsApi, SqsApiError, SqsAttribute, SqsEntry, VisibilityChange,
};
pub use config::{GroupBy, SqsConfig};
pub use publisher::{ATTR_CORRELATION_ID, ATTR_EVENT_ID, ATTR_TYPE, MAX_ENTRIES, SqsPublisher};
