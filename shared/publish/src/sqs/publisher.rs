//! [`SqsPublisher`]: envelopes to SQS messages, packed into as few
//! `SendMessageBatch` calls as the limits allow, failed messages retried.

use crate::batch::{self, BatchLimits};
use crate::cause::apply_current_cause;
use crate::error::PublishError;
use crate::publisher::{OutgoingEvent, PublishOutcome, Publisher};

use super::aws::AwsSqs;
use super::client::{SqsApi, SqsAttribute, SqsEntry};
use super::config::SqsConfig;

/// Messages per `SendMessageBatch` call at most.
pub const MAX_ENTRIES: usize = 10;

/// Message attribute holding the envelope `type`.
pub const ATTR_TYPE: &str = "type";

/// Message attribute holding the envelope `correlationid`.
pub const ATTR_CORRELATION_ID: &str = "correlation_id";

/// Message attribute holding the envelope `id`.
pub const ATTR_EVENT_ID: &str = "event_id";

/// Sends envelopes to an SQS queue: body = the CloudEvents envelope JSON,
/// `String` attributes [`ATTR_TYPE`], [`ATTR_CORRELATION_ID`],
/// [`ATTR_EVENT_ID`]; on a FIFO queue also `MessageGroupId` (per
/// [`GroupBy`](super::GroupBy)) and `MessageDeduplicationId` = envelope id.
///
/// Calls hold at most 10 messages and `max_batch_bytes` in total; a message
/// over `max_batch_bytes` is [`PublishOutcome::Failed`] with
/// `EntryTooLarge`. Messages listed in a response's `Failed` (batch entry id
/// = position) are resent — only they — unless `SenderFault`; retries, final
/// failures and a target that is down behave as for
/// [`EventBridgePublisher`](crate::EventBridgePublisher).
#[derive(Debug, Clone)]
pub struct SqsPublisher<C = AwsSqs> {
    client: C,
    config: SqsConfig,
}

impl SqsPublisher<AwsSqs> {
    /// A publisher over an SDK client (wrapped in [`AwsSqs`]).
    pub fn new(client: aws_sdk_sqs::Client, config: SqsConfig) -> Self {
        SqsPublisher {
            client: AwsSqs::new(client),
            config,
        }
    }
}

impl<C: SqsApi> SqsPublisher<C> {
    /// A publisher over any [`SqsApi`] (e.g.
    /// [`InMemorySqs`](super::InMemorySqs) in tests, or an
    /// `Arc<dyn SqsApi>` shared with a trigger adapter).
    pub fn with_client(client: C, config: SqsConfig) -> Self {
        SqsPublisher { client, config }
    }

    /// The client, e.g. to inspect a test double.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &SqsConfig {
        &self.config
    }

    /// The message of one envelope.
    ///
    /// # Errors
    /// [`PublishError::Serialize`] when the envelope cannot be written as JSON.
    pub fn entry(&self, event: &OutgoingEvent) -> Result<SqsEntry, PublishError> {
        let body = serde_json::to_string(event).map_err(|source| PublishError::Serialize {
            event_id: event.id.clone(),
            source,
        })?;
        let fifo = self.config.is_fifo();
        Ok(SqsEntry {
            body,
            attributes: vec![
                SqsAttribute {
                    name: ATTR_TYPE.to_owned(),
                    value: event.event_type.clone(),
                },
                SqsAttribute {
                    name: ATTR_CORRELATION_ID.to_owned(),
                    value: event.correlationid.clone(),
                },
                SqsAttribute {
                    name: ATTR_EVENT_ID.to_owned(),
                    value: event.id.clone(),
                },
            ],
            message_group_id: fifo.then(|| self.config.group_by.group_id(event)),
            message_deduplication_id: fifo.then(|| event.id.clone()),
        })
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_entries: MAX_ENTRIES,
            max_entry_bytes: self.config.max_batch_bytes,
            max_batch_bytes: self.config.max_batch_bytes,
        }
    }
}

#[async_trait::async_trait]
impl<C: SqsApi> Publisher for SqsPublisher<C> {
    async fn publish(
        &self,
        mut events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        apply_current_cause(&mut events);
        let limits = self.limits();
        let plan = batch::plan(&events, limits.max_entry_bytes, |event| {
            let entry = self.entry(event)?;
            let size = entry.size();
            Ok((entry, size))
        });
        let queue_url = self.config.queue_url.as_str();
        batch::deliver("SQS", plan, limits, &self.config.retry, |entries| {
            self.client.send_message_batch(queue_url, entries)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cause::{Cause, with_cause};
    use crate::sqs::{GroupBy, InMemorySqs};

    const QUEUE: &str = "http://127.0.0.1:1/123456789012/orders";

    fn event(id: &str) -> OutgoingEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": id, "source": "switchyard/test", "type": "order.placed",
            "time": "2024-05-01T10:00:00Z", "subject": "order-1",
            "dataschema": "urn:switchyard:schema:order.placed:v2",
            "dataversion": 2, "correlationid": format!("corr-{id}"), "data": {"pad": ""}
        }))
        .unwrap()
    }

    fn events(n: usize) -> Vec<OutgoingEvent> {
        (0..n).map(|i| event(&format!("e{i}"))).collect()
    }

    fn publisher(queue_url: &str) -> SqsPublisher<InMemorySqs> {
        SqsPublisher::with_client(InMemorySqs::new(), SqsConfig::new(queue_url))
    }

    fn event_of_size(p: &SqsPublisher<InMemorySqs>, id: &str, size: usize) -> OutgoingEvent {
        let mut e = event(id);
        let base = p.entry(&e).unwrap().size();
        e.data = serde_json::json!({ "pad": "x".repeat(size - base) });
        assert_eq!(p.entry(&e).unwrap().size(), size);
        e
    }

    fn bodies(p: &SqsPublisher<InMemorySqs>, call: usize) -> Vec<String> {
        p.client().calls()[call]
            .entries
            .iter()
            .map(|e| e.attribute(ATTR_EVENT_ID).unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn batches_by_count() {
        for (n, expected) in [
            (1, vec![1]),
            (10, vec![10]),
            (11, vec![10, 1]),
            (25, vec![10, 10, 5]),
        ] {
            let p = publisher(QUEUE);
            let outcomes = p.publish(events(n)).await.unwrap();
            assert_eq!(p.client().call_sizes(), expected, "{n} events");
            assert!(outcomes.iter().all(PublishOutcome::is_published));
        }
    }

    #[tokio::test]
    async fn standard_queue_message() {
        let p = publisher(QUEUE);
        let e = event("e1");
        let outcomes = p.publish(vec![e.clone()]).await.unwrap();
        assert_eq!(
            outcomes,
            vec![PublishOutcome::Published {
                event_id: "e1".into(),
                provider_id: Some("sqs-1".into())
            }]
        );
        let call = &p.client().calls()[0];
        assert_eq!(call.target, QUEUE);
        let entry = &call.entries[0];
        assert_eq!(
            serde_json::from_str::<OutgoingEvent>(&entry.body).unwrap(),
            e
        );
        assert_eq!(entry.attribute(ATTR_TYPE), Some("order.placed"));
        assert_eq!(entry.attribute(ATTR_CORRELATION_ID), Some("corr-e1"));
        assert_eq!(entry.attribute(ATTR_EVENT_ID), Some("e1"));
        assert_eq!(entry.message_group_id, None);
        assert_eq!(entry.message_deduplication_id, None);
    }

    #[tokio::test]
    async fn fifo_queue_gets_group_and_dedup_ids() {
        let p = publisher(&format!("{QUEUE}.fifo"));
        let mut no_subject = event("e2");
        no_subject.subject = None;
        p.publish(vec![event("e1"), no_subject.clone()])
            .await
            .unwrap();
        let entries = &p.client().calls()[0].entries;
        assert_eq!(entries[0].message_group_id.as_deref(), Some("order-1"));
        assert_eq!(entries[0].message_deduplication_id.as_deref(), Some("e1"));
        assert_eq!(
            entries[1].message_group_id.as_deref(),
            Some("order.placed"),
            "falls back to type"
        );

        for (group_by, expected) in [
            (GroupBy::Type, "order.placed"),
            (GroupBy::Fixed("all".into()), "all"),
            (GroupBy::CorrelationId, "corr-e2"),
        ] {
            assert_eq!(group_by.group_id(&no_subject), expected);
        }
    }

    #[tokio::test]
    async fn sizes_bound_messages_and_batches() {
        let p = publisher(QUEUE);
        let limit = p.config().max_batch_bytes;
        let outcomes = p
            .publish(vec![
                event_of_size(&p, "at-limit", limit),
                event_of_size(&p, "over", limit + 1),
                event("s1"),
                event_of_size(&p, "a", 100_000),
                event_of_size(&p, "b", 100_000),
                event_of_size(&p, "c", 100_000),
            ])
            .await
            .unwrap();
        assert!(
            matches!(&outcomes[1], PublishOutcome::Failed { code, .. } if code == "EntryTooLarge")
        );
        assert_eq!(outcomes.iter().filter(|o| o.is_published()).count(), 5);
        assert_eq!(p.client().call_sizes(), vec![1, 3, 1]);
        assert_eq!(bodies(&p, 1), ["s1", "a", "b"]);
    }

    #[tokio::test(start_paused = true)]
    async fn only_failed_messages_are_resent() {
        let p = publisher(QUEUE);
        p.client().fail_entries(&[0, 2], "InternalError");
        p.client().fail_entries(&[1], "InternalError");
        for _ in 0..3 {
            p.client().fail_entries(&[0], "InternalError");
        }
        let outcomes = p.publish(events(4)).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![4, 2, 1, 1]);
        assert_eq!(bodies(&p, 1), ["e0", "e2"]);
        assert_eq!(bodies(&p, 2), ["e2"]);
        assert!(
            matches!(&outcomes[2], PublishOutcome::Failed { code, .. } if code == "InternalError")
        );
        assert_eq!(outcomes.iter().filter(|o| o.is_published()).count(), 3);
    }

    #[tokio::test]
    async fn messages_carry_the_cause() {
        let p = publisher(QUEUE);
        let cause = Cause {
            event_id: "in-1".into(),
            correlation_id: "corr-flow".into(),
            traceparent: None,
        };
        with_cause(cause, p.publish_all(vec![event("e1")]))
            .await
            .unwrap();
        let entry = &p.client().calls()[0].entries[0];
        assert_eq!(entry.attribute(ATTR_CORRELATION_ID), Some("corr-flow"));
        let body: OutgoingEvent = serde_json::from_str(&entry.body).unwrap();
        assert_eq!(body.causationid.as_deref(), Some("in-1"));
    }
}
