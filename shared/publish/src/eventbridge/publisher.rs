//! [`EventBridgePublisher`]: envelopes to `PutEvents` entries, packed into
//! as few calls as the limits allow, failed entries retried.

use crate::batch::{self, BatchLimits};
use crate::cause::apply_current_cause;
use crate::error::PublishError;
use crate::publisher::{OutgoingEvent, PublishOutcome, Publisher};

use super::client::{EventBridgeEntry, PutEventsApi};
use super::config::EventBridgeConfig;

/// Entries per `PutEvents` call at most (API reference: `Entries`, 1–10 items).
pub const MAX_ENTRIES: usize = 10;

/// Bytes per entry, and per call in total, at most: 256 KB = 262,144 bytes,
/// measured as in [`EventBridgeEntry::size`]. An entry of exactly this size
/// is sent (alone); one byte more is refused as `EntryTooLarge`.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// What a specified `Time` counts towards the entry size.
pub const TIME_BYTES: usize = 14;

const LIMITS: BatchLimits = BatchLimits {
    max_entries: MAX_ENTRIES,
    max_entry_bytes: MAX_ENTRY_BYTES,
    max_batch_bytes: MAX_ENTRY_BYTES,
};

/// Publishes to an EventBridge bus: `Source` = envelope `source`,
/// `DetailType` = envelope `type`, `Detail` = the whole CloudEvents envelope,
/// `Time` = envelope `time`, `TraceHeader` = envelope `traceparent` when present.
///
/// Calls are made one after another, each holding as many entries (in
/// order) as fit in 10 entries and 256 KB. Entries a response reports as
/// failed (`FailedEntryCount > 0`, matched by position) are resent — only
/// they — with backoff per [`RetryConfig`](crate::RetryConfig); entries
/// still failing come back [`PublishOutcome::Failed`] with EventBridge's
/// `ErrorCode`/`ErrorMessage`. A call failing as a whole is retried the same
/// way; if no call at all succeeded, `publish` returns
/// [`PublishError::Transport`].
#[derive(Debug, Clone)]
pub struct EventBridgePublisher<C = aws_sdk_eventbridge::Client> {
    client: C,
    config: EventBridgeConfig,
}

impl EventBridgePublisher<aws_sdk_eventbridge::Client> {
    /// A publisher over an SDK client.
    pub fn new(client: aws_sdk_eventbridge::Client, config: EventBridgeConfig) -> Self {
        EventBridgePublisher { client, config }
    }
}

impl<C: PutEventsApi> EventBridgePublisher<C> {
    /// A publisher over any [`PutEventsApi`] (e.g. [`InMemoryPutEvents`](super::InMemoryPutEvents) in tests).
    pub fn with_client(client: C, config: EventBridgeConfig) -> Self {
        EventBridgePublisher { client, config }
    }

    /// The client, e.g. to inspect a test double.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &EventBridgeConfig {
        &self.config
    }

    /// The `PutEvents` entry of one envelope.
    ///
    /// # Errors
    /// [`PublishError::Serialize`] when the envelope cannot be written as JSON.
    pub fn entry(event: &OutgoingEvent) -> Result<EventBridgeEntry, PublishError> {
        let detail = serde_json::to_string(event).map_err(|source| PublishError::Serialize {
            event_id: event.id.clone(),
            source,
        })?;
        Ok(EventBridgeEntry {
            source: event.source.clone(),
            detail_type: event.event_type.clone(),
            detail,
            time: event.time,
            resources: Vec::new(),
            trace_header: event.traceparent.clone(),
        })
    }
}

#[async_trait::async_trait]
impl<C: PutEventsApi> Publisher for EventBridgePublisher<C> {
    async fn publish(
        &self,
        mut events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        apply_current_cause(&mut events);
        let plan = batch::plan(&events, LIMITS.max_entry_bytes, |event| {
            let entry = Self::entry(event)?;
            let size = entry.size();
            Ok((entry, size))
        });
        let bus = self.config.event_bus_name.as_str();
        batch::deliver("EventBridge", plan, LIMITS, &self.config.retry, |entries| {
            self.client.put_events(bus, entries)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{CallError, ScriptedResponse};
    use crate::cause::{Cause, with_cause};
    use crate::eventbridge::InMemoryPutEvents;
    use crate::retry::RetryConfig;

    fn event(id: &str) -> OutgoingEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": id, "source": "switchyard/test", "type": "order.placed",
            "time": "2024-05-01T10:00:00.123456Z", "subject": "order-1",
            "dataschema": "urn:switchyard:schema:order.placed:v2",
            "dataversion": 2, "correlationid": format!("corr-{id}"), "data": {"pad": ""}
        }))
        .unwrap()
    }

    /// An event whose EventBridge entry is exactly `size` bytes.
    fn event_of_size(id: &str, size: usize) -> OutgoingEvent {
        let mut e = event(id);
        let base = EventBridgePublisher::<InMemoryPutEvents>::entry(&e)
            .unwrap()
            .size();
        e.data = serde_json::json!({ "pad": "x".repeat(size - base) });
        assert_eq!(
            EventBridgePublisher::<InMemoryPutEvents>::entry(&e)
                .unwrap()
                .size(),
            size
        );
        e
    }

    fn events(n: usize) -> Vec<OutgoingEvent> {
        (0..n).map(|i| event(&format!("e{i}"))).collect()
    }

    fn publisher() -> EventBridgePublisher<InMemoryPutEvents> {
        EventBridgePublisher::with_client(InMemoryPutEvents::new(), EventBridgeConfig::new("bus-1"))
    }

    fn detail_ids(entries: &[EventBridgeEntry]) -> Vec<String> {
        entries
            .iter()
            .map(|e| serde_json::from_str::<OutgoingEvent>(&e.detail).unwrap().id)
            .collect()
    }

    #[tokio::test]
    async fn batches_by_count() {
        for (n, expected) in [
            (0, vec![]),
            (1, vec![1]),
            (10, vec![10]),
            (11, vec![10, 1]),
            (25, vec![10, 10, 5]),
        ] {
            let p = publisher();
            let outcomes = p.publish(events(n)).await.unwrap();
            assert_eq!(p.client().call_sizes(), expected, "{n} events");
            assert_eq!(outcomes.len(), n);
            assert!(outcomes.iter().all(PublishOutcome::is_published));
            let sent: Vec<String> = p
                .client()
                .calls()
                .iter()
                .flat_map(|c| detail_ids(&c.entries))
                .collect();
            let ids: Vec<String> = events(n).into_iter().map(|e| e.id).collect();
            assert_eq!(sent, ids, "order is kept");
        }
    }

    #[tokio::test]
    async fn entry_carries_the_envelope() {
        let p = publisher();
        let mut e = event("e1");
        e.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
        let outcomes = p.publish(vec![e.clone()]).await.unwrap();
        assert_eq!(
            outcomes,
            vec![PublishOutcome::Published {
                event_id: "e1".into(),
                provider_id: Some("eb-1".into())
            }]
        );
        let calls = p.client().calls();
        assert_eq!(calls[0].target, "bus-1");
        let entry = &calls[0].entries[0];
        assert_eq!(entry.source, "switchyard/test");
        assert_eq!(entry.detail_type, "order.placed");
        assert_eq!(entry.time, e.time);
        assert_eq!(entry.trace_header, e.traceparent);
        assert_eq!(
            serde_json::from_str::<OutgoingEvent>(&entry.detail).unwrap(),
            e
        );
    }

    #[tokio::test]
    async fn an_entry_exactly_at_the_limit_is_sent_alone() {
        let p = publisher();
        let outcomes = p
            .publish(vec![
                event_of_size("big", MAX_ENTRY_BYTES),
                event("s1"),
                event("s2"),
            ])
            .await
            .unwrap();
        assert!(outcomes.iter().all(PublishOutcome::is_published));
        assert_eq!(p.client().call_sizes(), vec![1, 2]);
    }

    #[tokio::test]
    async fn an_entry_one_byte_over_fails_and_the_others_still_go() {
        let p = publisher();
        let outcomes = p
            .publish(vec![
                event("s1"),
                event_of_size("big", MAX_ENTRY_BYTES + 1),
                event("s2"),
            ])
            .await
            .unwrap();
        assert!(outcomes[0].is_published());
        assert!(outcomes[2].is_published());
        match &outcomes[1] {
            PublishOutcome::Failed {
                event_id,
                code,
                message,
            } => {
                assert_eq!(event_id, "big");
                assert_eq!(code, "EntryTooLarge");
                assert_eq!(
                    message,
                    "event big is 262145 bytes, over the 262144-byte limit of one entry"
                );
            }
            other => panic!("expected EntryTooLarge, got {other:?}"),
        }
        let calls = p.client().calls();
        assert_eq!(calls.len(), 1);
        assert_eq!(detail_ids(&calls[0].entries), ["s1", "s2"]);
    }

    #[tokio::test]
    async fn splits_by_size() {
        let p = publisher();
        let e: Vec<_> = (0..3)
            .map(|i| event_of_size(&format!("e{i}"), 100_000))
            .collect();
        p.publish(e).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![2, 1]);

        // Exactly filling the limit with two entries still makes one call.
        let p = publisher();
        let half = MAX_ENTRY_BYTES / 2;
        p.publish(vec![
            event_of_size("a", half),
            event_of_size("b", half),
            event("c"),
        ])
        .await
        .unwrap();
        assert_eq!(p.client().call_sizes(), vec![2, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn only_failed_entries_are_resent_in_the_next_call() {
        let p = publisher();
        p.client().fail_entries(&[1, 3], "ThrottlingException");
        let outcomes = p.publish(events(5)).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![5, 2]);
        assert_eq!(detail_ids(&p.client().calls()[1].entries), ["e1", "e3"]);
        assert!(outcomes.iter().all(PublishOutcome::is_published));
        let ids: Vec<_> = outcomes.iter().map(|o| o.event_id().to_owned()).collect();
        assert_eq!(ids, ["e0", "e1", "e2", "e3", "e4"]);
    }

    #[tokio::test(start_paused = true)]
    async fn retried_entries_of_several_calls_are_packed_together() {
        let p = publisher();
        p.client().fail_entries(&[9], "InternalFailure");
        p.client().fail_entries(&[0], "InternalFailure");
        p.publish(events(11)).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![10, 1, 2]);
        assert_eq!(detail_ids(&p.client().calls()[2].entries), ["e9", "e10"]);
    }

    #[tokio::test(start_paused = true)]
    async fn still_failing_entries_come_back_failed_after_bounded_attempts() {
        let p = publisher();
        for _ in 0..10 {
            p.client().fail_entries(&[0], "ThrottlingException");
        }
        let outcomes = p.publish(events(3)).await.unwrap();
        assert_eq!(
            p.client().call_sizes(),
            vec![3, 1, 1, 1],
            "4 attempts by default"
        );
        assert_eq!(
            outcomes[0],
            PublishOutcome::Failed {
                event_id: "e0".into(),
                code: "ThrottlingException".into(),
                message: "scripted ThrottlingException".into()
            }
        );
        assert!(outcomes[1].is_published() && outcomes[2].is_published());
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_entry_errors_are_not_retried() {
        let p = publisher();
        p.client().fail_entries(&[0], "MalformedDetail");
        let outcomes = p.publish(events(2)).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![2]);
        assert!(
            matches!(&outcomes[0], PublishOutcome::Failed { code, .. } if code == "MalformedDetail")
        );
        let err = {
            p.client().fail_entries(&[0], "MalformedDetail");
            p.publish_all(events(2)).await.unwrap_err()
        };
        assert!(
            matches!(err, PublishError::Partial { ref failed } if failed.len() == 1),
            "{err}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn retries_stop_at_the_time_budget() {
        let config = EventBridgeConfig {
            event_bus_name: "bus-1".into(),
            retry: RetryConfig {
                max_attempts: 1_000,
                base_delay_ms: 1_000,
                max_delay_ms: 1_000,
                max_retry_time_ms: 3_000,
            },
        };
        let p = EventBridgePublisher::with_client(InMemoryPutEvents::new(), config);
        for _ in 0..1_000 {
            p.client().fail_entries(&[0], "ThrottlingException");
        }
        let started = tokio::time::Instant::now();
        let outcomes = p.publish(events(1)).await.unwrap();
        assert!(started.elapsed() <= std::time::Duration::from_millis(3_000));
        assert!(p.client().calls().len() < 1_000);
        assert!(!outcomes[0].is_published());
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_is_retried() {
        let p = publisher();
        p.client().script(ScriptedResponse::FailCall(CallError {
            code: "DispatchFailure".into(),
            message: "connection refused".into(),
            retryable: true,
        }));
        let outcomes = p.publish(events(3)).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![3, 3]);
        assert!(outcomes.iter().all(PublishOutcome::is_published));
    }

    #[tokio::test(start_paused = true)]
    async fn nothing_sent_is_a_transport_error() {
        let p = publisher();
        for _ in 0..4 {
            p.client().script(ScriptedResponse::FailCall(CallError {
                code: "DispatchFailure".into(),
                message: "connection refused".into(),
                retryable: true,
            }));
        }
        let err = p.publish(events(3)).await.unwrap_err();
        assert_eq!(p.client().call_sizes(), vec![3, 3, 3, 3]);
        match err {
            PublishError::Transport { target, code, .. } => {
                assert_eq!(target, "EventBridge");
                assert_eq!(code, "DispatchFailure");
            }
            other => panic!("expected Transport, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_call_among_good_ones_gives_per_event_outcomes() {
        let p = publisher();
        p.client().script(ScriptedResponse::FailEntries {
            indices: vec![],
            failure: crate::EntryFailure::retryable("x", "x"),
        });
        p.client().script(ScriptedResponse::FailCall(CallError {
            code: "ResourceNotFoundException".into(),
            message: "bus gone".into(),
            retryable: false,
        }));
        let outcomes = p.publish(events(11)).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![10, 1]);
        assert!(outcomes[..10].iter().all(PublishOutcome::is_published));
        assert!(
            matches!(&outcomes[10], PublishOutcome::Failed { code, .. } if code == "ResourceNotFoundException")
        );
    }

    #[tokio::test]
    async fn published_events_carry_the_cause() {
        let p = publisher();
        let mut explicit = event("explicit");
        explicit.causationid = Some("someone-else".into());
        let cause = Cause {
            event_id: "incoming-1".into(),
            correlation_id: "corr-flow".into(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        };
        with_cause(
            cause.clone(),
            p.publish_all(vec![event("e1"), explicit.clone()]),
        )
        .await
        .unwrap();
        p.publish_all(vec![event("outside")]).await.unwrap();

        let sent: Vec<OutgoingEvent> = p
            .client()
            .calls()
            .iter()
            .flat_map(|c| {
                c.entries
                    .iter()
                    .map(|e| serde_json::from_str(&e.detail).unwrap())
            })
            .collect();
        assert_eq!(sent[0].correlationid, "corr-flow");
        assert_eq!(sent[0].causationid.as_deref(), Some("incoming-1"));
        assert_eq!(sent[0].traceparent, cause.traceparent);
        assert_eq!(
            p.client().calls()[0].entries[0].trace_header,
            cause.traceparent
        );
        assert_eq!(sent[1], explicit, "an explicit causation id is kept");
        assert_eq!(
            sent[2],
            event("outside"),
            "outside a cause scope nothing changes"
        );
    }
}
