//! The trigger-independent part of every adapter: decode, claim the batch's
//! idempotency keys in one call, run the handler inside its layers (span,
//! cause, panic catch, deadline), publish what the handlers returned in one
//! flush, park or retry, settle the claims.

mod batch;
mod builder;
mod decode;
mod flush;
pub(crate) mod message;
mod park;
mod process;
mod settings;

pub use batch::Ordering;
pub use builder::Pipeline;
pub use message::{Delivery, Outcome, Unreadable};
pub use settings::{BarePayload, PipelineSettings, Unsubscribed};
