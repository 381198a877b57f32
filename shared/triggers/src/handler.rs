//! The seam between triggers and business code: a handler takes a typed,
//! upcast envelope and a context, and says *done*, *retry* or *park*.
//! It knows no trigger and imports no cloud SDK.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_contracts::{DomainEvent, Envelope};

/// What a handler receives besides the event.
#[derive(Debug, Clone)]
pub struct Context {
    /// The function's stable name (also the default idempotency key prefix).
    pub function_name: Arc<str>,
    /// When the invocation must have returned.
    pub deadline: SystemTime,
    /// The correlation id of the flow this event belongs to.
    pub correlation_id: String,
    /// The id of the event that caused this one, if any.
    pub causation_id: Option<String>,
    /// Which delivery of the message this is, starting at 1.
    pub delivery_attempt: u32,
    /// The trigger's own message id (SQS message id, Service Bus MessageId...).
    pub message_id: String,
}

impl Context {
    /// Time left until the deadline (zero when passed).
    pub fn remaining(&self) -> Duration {
        self.deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
    }
}

/// Why a handler did not finish. The classification decides what the
/// adapter does: retry the message, or park it with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Worth retrying: a timeout, a 5xx, a throttle, a lock.
    #[error("transient: {reason}")]
    Transient {
        /// What went wrong.
        reason: String,
    },
    /// Retrying cannot help: the message is poison for this handler.
    #[error("permanent ({kind}): {reason}")]
    Permanent {
        /// A short, bounded code for park attributes and metrics.
        kind: &'static str,
        /// What went wrong.
        reason: String,
    },
}

impl HandlerError {
    /// A transient error.
    pub fn transient(reason: impl Into<String>) -> Self {
        HandlerError::Transient {
            reason: reason.into(),
        }
    }

    /// A permanent error with a bounded kind (`rejected_by_erp`, `unsupported_event`...).
    pub fn permanent(kind: &'static str, reason: impl Into<String>) -> Self {
        HandlerError::Permanent {
            kind,
            reason: reason.into(),
        }
    }

    /// True for [`HandlerError::Transient`].
    pub fn is_transient(&self) -> bool {
        matches!(self, HandlerError::Transient { .. })
    }
}

/// A trigger-agnostic business handler.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// What a successful run returns; stored by the idempotency layer and
    /// returned again for duplicates.
    type Output: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Handles one event.
    async fn handle(
        &self,
        event: Envelope<DomainEvent>,
        ctx: Context,
    ) -> Result<Self::Output, HandlerError>;
}

#[async_trait::async_trait]
impl<H: Handler> Handler for Arc<H> {
    type Output = H::Output;

    async fn handle(
        &self,
        event: Envelope<DomainEvent>,
        ctx: Context,
    ) -> Result<Self::Output, HandlerError> {
        (**self).handle(event, ctx).await
    }
}
