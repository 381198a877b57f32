//! The seam between triggers and business code: a handler takes a typed,
//! upcast envelope and a context, and says *done*, *retry* or *park*.
//! It knows no trigger and imports no cloud SDK.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_contracts::{Envelope, EventSet};
use switchyard_publish::OutgoingEvent;

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

    /// The bounded kind of a [`HandlerError::Permanent`] (what the message
    /// is parked as); `None` for a transient error.
    pub fn kind(&self) -> Option<&'static str> {
        match self {
            HandlerError::Permanent { kind, .. } => Some(kind),
            HandlerError::Transient { .. } => None,
        }
    }
}

/// What a successful run returns: the output (stored by the idempotency
/// layer and returned again for duplicates) and the events the handler wants
/// published. The adapter publishes the events of the whole batch together,
/// in as few calls as the target allows, before it marks the messages done;
/// a message whose events were not all accepted is retried, and its accepted
/// ones are not sent again (see the crate README). Derive their ids from the
/// incoming event ([`Envelope::derived_from`]) so any republish carries the
/// same ids and downstream idempotency absorbs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled<O> {
    /// The output.
    pub output: O,
    /// The events to publish, in order.
    pub publish: Vec<OutgoingEvent>,
}

impl<O> Handled<O> {
    /// An output with nothing to publish.
    pub fn new(output: O) -> Self {
        Handled {
            output,
            publish: Vec::new(),
        }
    }

    /// Adds an event to publish.
    #[must_use]
    pub fn publishing(mut self, event: OutgoingEvent) -> Self {
        self.publish.push(event);
        self
    }
}

impl<O> From<O> for Handled<O> {
    fn from(output: O) -> Self {
        Handled::new(output)
    }
}

/// A trigger-agnostic business handler over one event type or an event set
/// ([`EventSet`]). Events outside the set never reach it: the function's
/// [`Unsubscribed`](crate::pipeline::Unsubscribed) policy handles them.
#[async_trait::async_trait]
pub trait Handler: Send + Sync + 'static {
    /// What it consumes: one event type (`OrderPlacedV2`) or a set.
    type Event: EventSet;

    /// What a successful run returns; stored by the idempotency layer and
    /// returned again for duplicates.
    type Output: Serialize + DeserializeOwned + Send + Sync + 'static;

    /// Handles one event.
    async fn handle(
        &self,
        event: Envelope<Self::Event>,
        ctx: Context,
    ) -> Result<Handled<Self::Output>, HandlerError>;
}

#[async_trait::async_trait]
impl<H: Handler> Handler for Arc<H> {
    type Event = H::Event;
    type Output = H::Output;

    async fn handle(
        &self,
        event: Envelope<H::Event>,
        ctx: Context,
    ) -> Result<Handled<H::Output>, HandlerError> {
        (**self).handle(event, ctx).await
    }
}

/// A handler made from an async closure; see [`handler_fn`].
pub struct HandlerFn<F, E, O> {
    f: F,
    _types: PhantomData<fn(E) -> O>,
}

/// A handler from an async closure, for the simple case (as
/// `lambda_runtime::service_fn`): the event type is the closure's argument.
///
/// ```
/// use switchyard_contracts::Envelope;
/// use switchyard_contracts::events::OrderPlacedV2;
/// use switchyard_triggers::{Context, HandlerError, handler_fn};
///
/// let handler = handler_fn(|event: Envelope<OrderPlacedV2>, _ctx: Context| async move {
///     Ok::<_, HandlerError>(event.data.order_id)
/// });
/// # let _ = handler;
/// ```
pub fn handler_fn<F, E, O, Fut>(f: F) -> HandlerFn<F, E, O>
where
    F: Fn(Envelope<E>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
    E: EventSet,
    O: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    HandlerFn {
        f,
        _types: PhantomData,
    }
}

#[async_trait::async_trait]
impl<F, E, O, Fut> Handler for HandlerFn<F, E, O>
where
    F: Fn(Envelope<E>, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, HandlerError>> + Send,
    E: EventSet,
    O: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    type Event = E;
    type Output = O;

    async fn handle(&self, event: Envelope<E>, ctx: Context) -> Result<Handled<O>, HandlerError> {
        (self.f)(event, ctx).await.map(Handled::new)
    }
}
