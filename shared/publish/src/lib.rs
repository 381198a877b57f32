#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod batch;
pub mod cause;
mod error;
pub mod eventbridge;
pub mod memory;
mod publisher;
pub mod retry;
pub mod servicebus;
pub mod sqs;

pub use batch::{CallError, EntryFailure, EntryResult, RecordedCall, ScriptedResponse};
pub use cause::{Cause, apply_cause, apply_current_cause, current_cause, with_cause};
pub use error::{ConfigError, FailedEvent, PublishError};
pub use eventbridge::{EventBridgeConfig, EventBridgePublisher};
pub use memory::InMemoryPublisher;
pub use publisher::{OutgoingEvent, PublishOutcome, Publisher, to_outgoing};
pub use retry::RetryConfig;
pub use servicebus::{ServiceBusConfig, ServiceBusPublisher};
pub use sqs::{GroupBy, SqsConfig, SqsPublisher};
