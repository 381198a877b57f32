//! The SQS batch adapter: an SQS batch in (read record by record), `SqsBatchResponse` out.

mod adapter;
mod config;
mod park;
mod records;

pub use adapter::{BatchReport, SqsAdapter};
pub use config::{BackoffConfig, SqsAdapterConfig};
pub use park::SqsParkTarget;
pub use records::{SqsBatch, SqsRecord};

// The SQS client seam lives in `switchyard-publish` (one trait for the
// publisher and the adapters); re-exported here under its old path. The AWS
// client, `switchyard_publish::sqs::AwsSqs`, is not: it needs that crate's
// `sqs` feature (aws-sdk-sqs), which the adapters do not.
pub use switchyard_publish::sqs::{
    InMemorySqs, SentMessage, SqsApi, SqsApiError, VisibilityChange,
};
