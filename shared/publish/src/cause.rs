//! Correlation: the event being handled is the cause of every event
//! published while handling it.
//!
//! Trigger adapters run the handler inside [`with_cause`]; every
//! [`Publisher`](crate::Publisher) calls [`apply_current_cause`] before
//! sending, so business code cannot forget to carry the correlation id.
//!
//! The cause lives in a tokio task-local: it is visible in the future passed
//! to [`with_cause`] and everything it awaits, but not in tasks it
//! `tokio::spawn`s — wrap those in `with_cause(current_cause()..)` too.

use std::future::Future;

use switchyard_contracts::Envelope;

use crate::publisher::OutgoingEvent;

/// The event being handled, as far as the events it causes need to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// The id of the event being handled: the causation id of what it causes.
    pub event_id: String,
    /// The correlation id of the flow, carried unchanged.
    pub correlation_id: String,
    /// W3C trace context of the event being handled, if any.
    pub traceparent: Option<String>,
}

impl Cause {
    /// The cause made of the envelope being handled.
    pub fn of<T>(envelope: &Envelope<T>) -> Self {
        Cause {
            event_id: envelope.id.clone(),
            correlation_id: envelope.correlationid.clone(),
            traceparent: envelope.traceparent.clone(),
        }
    }
}

tokio::task_local! {
    static CAUSE: Cause;
}

/// Runs `fut` with `cause` as the current cause.
pub async fn with_cause<F: Future>(cause: Cause, fut: F) -> F::Output {
    CAUSE.scope(cause, fut).await
}

/// The current cause, if running inside [`with_cause`].
pub fn current_cause() -> Option<Cause> {
    CAUSE.try_with(Cause::clone).ok()
}

/// Makes `event` a consequence of `cause` unless it already names its cause:
/// for an event whose `causationid` is `None`, sets `correlationid` to the
/// cause's, `causationid` to the cause's event id, and `traceparent` when the
/// event has none.
pub fn apply_cause(cause: &Cause, event: &mut OutgoingEvent) {
    if event.causationid.is_some() {
        return;
    }
    event.correlationid.clone_from(&cause.correlation_id);
    event.causationid = Some(cause.event_id.clone());
    if event.traceparent.is_none() {
        event.traceparent.clone_from(&cause.traceparent);
    }
}

/// Applies the current cause (if any) to every event; outside a
/// [`with_cause`] scope the events are left unchanged. Every publisher calls
/// this before sending.
pub fn apply_current_cause(events: &mut [OutgoingEvent]) {
    if let Some(cause) = current_cause() {
        for event in events {
            apply_cause(&cause, event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str) -> OutgoingEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": id, "source": "test", "type": "order.placed",
            "time": "2024-05-01T10:00:00Z", "dataschema": "urn:switchyard:schema:order.placed:v2",
            "dataversion": 2, "correlationid": id, "data": {}
        }))
        .unwrap()
    }

    fn cause() -> Cause {
        Cause {
            event_id: "in-1".into(),
            correlation_id: "corr-1".into(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        }
    }

    #[tokio::test]
    async fn inside_a_scope_events_carry_the_cause() {
        let mut events = vec![event("out-1")];
        with_cause(cause(), async { apply_current_cause(&mut events) }).await;
        assert_eq!(events[0].correlationid, "corr-1");
        assert_eq!(events[0].causationid.as_deref(), Some("in-1"));
        assert_eq!(events[0].traceparent, cause().traceparent);
    }

    #[tokio::test]
    async fn outside_a_scope_events_are_unchanged() {
        let mut events = vec![event("out-1")];
        apply_current_cause(&mut events);
        assert_eq!(events, vec![event("out-1")]);
        assert_eq!(current_cause(), None);
    }

    #[tokio::test]
    async fn an_explicit_causation_is_kept() {
        let mut e = event("out-1");
        e.causationid = Some("other".into());
        e.correlationid = "corr-other".into();
        e.traceparent = Some("00-mine".into());
        let before = e.clone();
        apply_cause(&cause(), &mut e);
        assert_eq!(e, before);
    }

    #[tokio::test]
    async fn nested_scopes_use_the_innermost() {
        let inner = Cause {
            event_id: "in-2".into(),
            correlation_id: "corr-2".into(),
            traceparent: None,
        };
        let seen = with_cause(
            cause(),
            with_cause(inner.clone(), async { current_cause() }),
        )
        .await;
        assert_eq!(seen, Some(inner));
    }
}
