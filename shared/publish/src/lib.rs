#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

#[cfg(any(feature = "eventbridge", feature = "sqs"))]
mod aws;
mod batch;
pub mod cause;
mod error;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
pub mod memory;
mod publisher;
pub mod retry;
pub mod servicebus;
pub mod sqs;

pub use batch::{CallError, EntryFailure, EntryResult, RecordedCall, ScriptedResponse};
pub use cause::{Cause, apply_cause, apply_current_cause, current_cause, with_cause};
pub use error::{ConfigError, FailedEvent, PublishError};
#[cfg(feature = "eventbridge")]
pub use eventbridge::{EventBridgeConfig, EventBridgePublisher};
pub use memory::InMemoryPublisher;
pub use publisher::{OutgoingEvent, PublishOutcome, Publisher, to_outgoing};
pub use retry::RetryConfig;
#[cfg(feature = "servicebus")]
pub use servicebus::{ServiceBusConfig, ServiceBusPublisher};
#[cfg(feature = "sqs")]
pub use sqs::{GroupBy, SqsConfig, SqsPublisher};
