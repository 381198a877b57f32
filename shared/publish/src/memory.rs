//! The in-memory publisher, for tests and the local stack.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::cause::apply_current_cause;
use crate::error::PublishError;
use crate::publisher::{OutgoingEvent, PublishOutcome, Publisher};

/// Records what is published; can be told to fail the next events.
///
/// Clones share one record (an `Arc` inside): hand one clone to the code
/// under test and keep another to assert on.
#[derive(Debug, Clone, Default)]
pub struct InMemoryPublisher {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    published: Vec<OutgoingEvent>,
    failures: VecDeque<String>,
    next_id: u64,
}

impl InMemoryPublisher {
    /// An empty publisher.
    pub fn new() -> Self {
        InMemoryPublisher::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every event published so far, in order (after the cause was applied).
    pub fn published(&self) -> Vec<OutgoingEvent> {
        self.lock().published.clone()
    }

    /// Forgets what was published and any failures still to inject.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.published.clear();
        state.failures.clear();
    }

    /// The next `n` events published come back [`PublishOutcome::Failed`]
    /// with `code` and are not recorded.
    pub fn fail_next(&self, n: usize, code: &str) {
        let mut state = self.lock();
        state
            .failures
            .extend(std::iter::repeat_n(code.to_owned(), n));
    }
}

#[async_trait::async_trait]
impl Publisher for InMemoryPublisher {
    async fn publish(
        &self,
        mut events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        apply_current_cause(&mut events);
        let mut state = self.lock();
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            if let Some(code) = state.failures.pop_front() {
                outcomes.push(PublishOutcome::Failed {
                    event_id: event.id,
                    message: format!("injected failure {code}"),
                    code,
                });
                continue;
            }
            state.next_id += 1;
            outcomes.push(PublishOutcome::Published {
                event_id: event.id.clone(),
                provider_id: Some(format!("memory-{}", state.next_id)),
            });
            state.published.push(event);
        }
        Ok(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{Cause, with_cause};

    fn event(id: &str) -> OutgoingEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": id, "source": "test", "type": "order.placed",
            "time": "2024-05-01T10:00:00Z", "dataschema": "urn:switchyard:schema:order.placed:v2",
            "dataversion": 2, "correlationid": id, "data": {"n": 1}
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn records_in_order_and_shares_between_clones() {
        let publisher = InMemoryPublisher::new();
        let handle = publisher.clone();
        let outcomes = publisher
            .publish(vec![event("a"), event("b")])
            .await
            .unwrap();
        assert!(outcomes.iter().all(PublishOutcome::is_published));
        let ids: Vec<_> = handle.published().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["a", "b"]);
        handle.clear();
        assert!(publisher.published().is_empty());
    }

    #[tokio::test]
    async fn injected_failures_fail_the_next_events_only() {
        let publisher = InMemoryPublisher::new();
        publisher.fail_next(1, "ThrottlingException");
        let outcomes = publisher
            .publish(vec![event("a"), event("b")])
            .await
            .unwrap();
        assert_eq!(
            outcomes[0],
            PublishOutcome::Failed {
                event_id: "a".into(),
                code: "ThrottlingException".into(),
                message: "injected failure ThrottlingException".into()
            }
        );
        assert!(outcomes[1].is_published());
        assert_eq!(publisher.published().len(), 1);

        publisher.fail_next(1, "Boom");
        let err = publisher.publish_all(vec![event("c")]).await.unwrap_err();
        match err {
            PublishError::Partial { failed } => assert_eq!(failed[0].code, "Boom"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn applies_the_cause() {
        let publisher = InMemoryPublisher::new();
        let cause = Cause {
            event_id: "in".into(),
            correlation_id: "corr".into(),
            traceparent: None,
        };
        with_cause(cause, publisher.publish_all(vec![event("a")]))
            .await
            .unwrap();
        let sent = publisher.published();
        assert_eq!(sent[0].correlationid, "corr");
        assert_eq!(sent[0].causationid.as_deref(), Some("in"));
    }
}
