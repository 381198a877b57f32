//! Cross-cutting concerns wrapped around the handler, one per file.

mod correlation;
mod idempotency;
mod ordering;
mod panic;

pub(crate) use correlation::span_for;
pub use idempotency::Idempotency;
pub(crate) use idempotency::{Claim, OwnedKey, Settlement, claim_batch};
pub(crate) use ordering::Order;
pub use ordering::{DEFAULT_ORDERING_KEEP, EntityKey, OrderedBy, OrderingGuard, PositionOf};
pub(crate) use panic::catch_panic;
