//! SqsPublisher against moto server: standard and FIFO queues.
//! Needs the emulators of `bash scripts/test.sh` (fails without them).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use switchyard_publish::sqs::{ATTR_CORRELATION_ID, ATTR_EVENT_ID, ATTR_TYPE};
use switchyard_publish::{GroupBy, OutgoingEvent, Publisher, SqsConfig, SqsPublisher};
use switchyard_testkit::aws_config;

use common::envelope;
use switchyard_testkit::moto::{create_queue, receive};

fn attribute(message: &aws_sdk_sqs::types::Message, name: &str) -> Option<String> {
    message
        .message_attributes()
        .and_then(|a| a.get(name))
        .and_then(|v| v.string_value())
        .map(str::to_owned)
}

#[tokio::test]
async fn standard_queue_receives_envelopes_with_attributes() {
    let config = aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_queue(&sqs, "sy-publish", &[]).await.url;

    let events: Vec<OutgoingEvent> = (0..12)
        .map(|i| envelope(&format!("evt-{i}"), "order.placed", Some("order-1")))
        .collect();
    let publisher = SqsPublisher::new(sqs.clone(), SqsConfig::new(&queue_url));
    let published = publisher.publish_all(events.clone()).await;
    let messages = receive(
        &sqs,
        &queue_url,
        events.len(),
        Duration::from_secs(1),
        Duration::from_secs(30),
    )
    .await;
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .expect("DeleteQueue");

    published.expect("every event published");
    assert_eq!(messages.len(), events.len());
    let expected: BTreeMap<_, _> = events.iter().map(|e| (e.id.clone(), e.clone())).collect();
    let mut received = BTreeMap::new();
    for message in &messages {
        let body: OutgoingEvent =
            serde_json::from_str(message.body().expect("a body")).expect("an envelope body");
        assert_eq!(
            attribute(message, ATTR_TYPE).as_deref(),
            Some("order.placed")
        );
        assert_eq!(
            attribute(message, ATTR_CORRELATION_ID),
            Some(body.correlationid.clone())
        );
        assert_eq!(attribute(message, ATTR_EVENT_ID), Some(body.id.clone()));
        received.insert(body.id.clone(), body);
    }
    assert_eq!(received, expected);
}

#[tokio::test]
async fn fifo_queue_gets_group_and_deduplication_ids() {
    let config = aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = create_queue(
        &sqs,
        "sy-publish.fifo",
        &[(QueueAttributeName::FifoQueue, "true".to_owned())],
    )
    .await
    .url;

    let events = vec![
        envelope("evt-a1", "order.placed", Some("order-a")),
        envelope("evt-b1", "order.placed", Some("order-b")),
        envelope("evt-a2", "order.placed", Some("order-a")),
        envelope("evt-n1", "customer.updated", None),
    ];
    let publisher = SqsPublisher::new(sqs.clone(), SqsConfig::new(&queue_url));
    let published = publisher.publish_all(events.clone()).await;
    // Sending the same ids again is deduplicated by SQS.
    let again = publisher.publish_all(events[..1].to_vec()).await;
    let messages = receive(
        &sqs,
        &queue_url,
        events.len(),
        Duration::from_secs(1),
        Duration::from_secs(30),
    )
    .await;
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .expect("DeleteQueue");

    published.expect("every event published");
    again.expect("a duplicate is accepted (and dropped by SQS)");
    assert_eq!(
        messages.len(),
        events.len(),
        "the duplicate was not delivered"
    );
    let mut order_a = Vec::new();
    for message in &messages {
        let body: OutgoingEvent =
            serde_json::from_str(message.body().expect("a body")).expect("an envelope body");
        let system = message.attributes().expect("system attributes");
        let expected_group = body
            .subject
            .clone()
            .unwrap_or_else(|| body.event_type.clone());
        assert_eq!(
            system.get(&MessageSystemAttributeName::MessageGroupId),
            Some(&expected_group)
        );
        assert_eq!(
            system.get(&MessageSystemAttributeName::MessageDeduplicationId),
            Some(&body.id)
        );
        assert_eq!(attribute(message, ATTR_EVENT_ID), Some(body.id.clone()));
        if expected_group == "order-a" {
            order_a.push(body.id);
        }
    }
    assert_eq!(
        order_a,
        ["evt-a1", "evt-a2"],
        "order within a group is kept"
    );
    assert_eq!(GroupBy::default(), GroupBy::Subject);
}
