#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod config;
pub mod eventbridge;
pub mod handler;
pub mod lambda;
pub mod layers;
pub mod park;
pub mod pipeline;
pub mod registry;
pub mod servicebus;
pub mod sqs;

pub use handler::{Context, Handled, Handler, HandlerError, HandlerFn, handler_fn};
pub use layers::{
    DEFAULT_ORDERING_KEEP, EntityKey, Idempotency, OrderedBy, OrderingGuard, PositionOf,
};
pub use pipeline::{
    BarePayload, Delivery, Ordering, Outcome, Pipeline, PipelineSettings, Unreadable, Unsubscribed,
};
