//! SQS: `SendMessageBatch`, 10 messages and 256 KiB per call, FIFO group
//! and deduplication ids, retrying only the messages that failed; and
//! [`SqsApi`], the one SQS client seam shared with the trigger adapters
//! (parking, visibility backoff).
//!
//! The seam ([`SqsApi`], its message types and [`InMemorySqs`]) is always
//! built; the AWS client (`AwsSqs`) and the publisher (`SqsPublisher`,
//! `SqsConfig`) need the `sqs` feature (aws-sdk-sqs).

#[cfg(feature = "sqs")]
mod aws;
mod client;
#[cfg(feature = "sqs")]
mod config;
#[cfg(feature = "sqs")]
mod publisher;

#[cfg(feature = "sqs")]
pub use aws::AwsSqs;
pub use client::{
    InMemorySqs, SentMessage, SqsApi, SqsApiError, SqsAttribute, SqsEntry, VisibilityChange,
};
#[cfg(feature = "sqs")]
pub use config::{GroupBy, SqsConfig};
#[cfg(feature = "sqs")]
pub use publisher::{ATTR_CORRELATION_ID, ATTR_EVENT_ID, ATTR_TYPE, MAX_ENTRIES, SqsPublisher};
