//! The [`Publisher`] trait, its per-event outcome and [`to_outgoing`].

use std::sync::Arc;

use serde::Serialize;
use switchyard_contracts::Envelope;

use crate::error::{FailedEvent, PublishError};

/// What every publisher sends: an envelope whose `data` is plain JSON.
pub type OutgoingEvent = Envelope<serde_json::Value>;

/// Turns any typed envelope into an [`OutgoingEvent`], keeping every attribute.
///
/// # Errors
/// [`PublishError::Serialize`] when `data` cannot be represented as JSON.
pub fn to_outgoing<T: Serialize>(e: &Envelope<T>) -> Result<OutgoingEvent, PublishError> {
    let data = serde_json::to_value(&e.data).map_err(|source| PublishError::Serialize {
        event_id: e.id.clone(),
        source,
    })?;
    Ok(Envelope {
        specversion: e.specversion.clone(),
        id: e.id.clone(),
        source: e.source.clone(),
        event_type: e.event_type.clone(),
        time: e.time,
        subject: e.subject.clone(),
        datacontenttype: e.datacontenttype.clone(),
        dataschema: e.dataschema.clone(),
        dataversion: e.dataversion,
        correlationid: e.correlationid.clone(),
        causationid: e.causationid.clone(),
        traceparent: e.traceparent.clone(),
        data,
    })
}

/// What happened to one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// The target accepted the event.
    Published {
        /// The envelope id.
        event_id: String,
        /// The id the target gave it (EventBridge event id, SQS message id), if any.
        provider_id: Option<String>,
    },
    /// The event was not published (after the retries the policy allows).
    Failed {
        /// The envelope id.
        event_id: String,
        /// The target's error code (`ThrottlingException`, `EntryTooLarge`, ...).
        code: String,
        /// The target's error message.
        message: String,
    },
}

impl PublishOutcome {
    /// The envelope id this outcome is about.
    pub fn event_id(&self) -> &str {
        match self {
            PublishOutcome::Published { event_id, .. }
            | PublishOutcome::Failed { event_id, .. } => event_id,
        }
    }

    /// Whether the target accepted the event.
    pub fn is_published(&self) -> bool {
        matches!(self, PublishOutcome::Published { .. })
    }

    /// The failure, if the event was not published.
    pub fn failure(&self) -> Option<FailedEvent> {
        match self {
            PublishOutcome::Published { .. } => None,
            PublishOutcome::Failed {
                event_id,
                code,
                message,
            } => Some(FailedEvent {
                event_id: event_id.clone(),
                code: code.clone(),
                message: message.clone(),
            }),
        }
    }

    /// A failed outcome carrying `err`'s code and message.
    #[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
    pub(crate) fn failed(event_id: impl Into<String>, err: &PublishError) -> Self {
        PublishOutcome::Failed {
            event_id: event_id.into(),
            code: err.code().to_owned(),
            message: err.to_string(),
        }
    }
}

/// Publishes envelopes to wherever the function runs (EventBridge, SQS,
/// Service Bus, in memory) — business code sees only this trait.
///
/// Every implementation applies the current [`Cause`](crate::Cause) (see
/// [`with_cause`](crate::with_cause)) before sending.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes every event, batching as the target allows; one outcome per
    /// event, same order.
    ///
    /// # Errors
    /// [`PublishError::Transport`] when nothing could be sent at all (the
    /// target is down or refuses every call). Failures of single events are
    /// [`PublishOutcome::Failed`], not errors.
    async fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError>;

    /// Publishes every event and fails unless every one was accepted.
    ///
    /// # Errors
    /// [`PublishError::Partial`] listing each event that was not published,
    /// or whatever [`Publisher::publish`] returned.
    async fn publish_all(&self, events: Vec<OutgoingEvent>) -> Result<(), PublishError> {
        let outcomes = self.publish(events).await?;
        let failed: Vec<FailedEvent> = outcomes
            .iter()
            .filter_map(PublishOutcome::failure)
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(PublishError::Partial { failed })
        }
    }
}

#[async_trait::async_trait]
impl<P: Publisher + ?Sized> Publisher for Arc<P> {
    async fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        (**self).publish(events).await
    }
}

#[async_trait::async_trait]
impl<P: Publisher + ?Sized> Publisher for Box<P> {
    async fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        (**self).publish(events).await
    }
}
