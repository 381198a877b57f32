//! The SQS batch adapter: `SqsEvent` in, `SqsBatchResponse` out.

mod adapter;
mod client;
mod config;
mod park;

pub use adapter::{BatchReport, SqsAdapter};
pub use client::{AwsSqs, InMemorySqs, SentMessage, SqsApi, SqsApiError, VisibilityChange};
pub use config::{BackoffConfig, SqsAdapterConfig};
pub use park::SqsParkTarget;
