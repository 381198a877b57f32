//! EventBridgePublisher against moto server: a bus, a rule matching
//! `order.placed` and an SQS target receive exactly the matching envelopes.
//! Needs the emulators of `bash scripts/test.sh` (fails without them).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use switchyard_publish::{
    EventBridgeConfig, EventBridgePublisher, OutgoingEvent, PublishError, Publisher,
};
use switchyard_testkit::moto::{BusToQueue, receive};
use switchyard_testkit::{aws_config, unique_name};

use common::envelope;

#[tokio::test]
async fn matching_envelopes_arrive_through_a_rule_unchanged() {
    let config = aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);

    let wiring = BusToQueue::create(&eb, &sqs, r#"{"detail-type": ["order.placed"]}"#).await;
    let (bus, queue_url) = (wiring.bus.clone(), wiring.queue.url.clone());

    // 12 events: 2 calls; 8 match the rule.
    let events: Vec<OutgoingEvent> = (0..12)
        .map(|i| {
            let event_type = if i % 3 == 2 {
                "customer.updated"
            } else {
                "order.placed"
            };
            envelope(&format!("evt-{i}"), event_type, Some(&format!("order-{i}")))
        })
        .collect();
    let publisher = EventBridgePublisher::new(eb.clone(), EventBridgeConfig::new(&bus));
    let outcomes = publisher.publish(events.clone()).await.expect("publish");
    let expected: BTreeMap<String, OutgoingEvent> = events
        .iter()
        .filter(|e| e.event_type == "order.placed")
        .map(|e| (e.id.clone(), e.clone()))
        .collect();

    let messages = receive(
        &sqs,
        &queue_url,
        expected.len(),
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .await;

    wiring.delete(&eb, &sqs).await;

    assert_eq!(outcomes.len(), 12);
    for (outcome, event) in outcomes.iter().zip(&events) {
        assert!(outcome.is_published(), "{outcome:?}");
        assert_eq!(outcome.event_id(), event.id);
    }
    // moto (like EventBridge) delivers the EventBridge event JSON to the
    // queue: {"version", "id", "detail-type", "source", "time", ..., "detail"},
    // with our envelope as `detail`.
    let mut received = BTreeMap::new();
    for message in &messages {
        let body: serde_json::Value =
            serde_json::from_str(message.body().expect("a body")).expect("JSON body");
        assert_eq!(body["detail-type"], "order.placed", "{body}");
        assert_eq!(body["source"], "switchyard/publish-tests");
        let detail: OutgoingEvent =
            serde_json::from_value(body["detail"].clone()).expect("detail is an envelope");
        received.insert(detail.id.clone(), detail);
    }
    assert_eq!(
        received, expected,
        "exactly the matching envelopes, unchanged"
    );
    assert_eq!(messages.len(), expected.len(), "no duplicates");
}

#[tokio::test]
async fn a_bus_that_does_not_exist_is_a_transport_error() {
    let config = aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    let publisher =
        EventBridgePublisher::new(eb, EventBridgeConfig::new(unique_name("sy-missing-bus")));
    let err = publisher
        .publish(vec![envelope("evt-1", "order.placed", None)])
        .await
        .expect_err("nothing can be published");
    match err {
        PublishError::Transport { target, code, .. } => {
            assert_eq!(target, "EventBridge");
            assert_eq!(code, "ResourceNotFoundException");
        }
        other => panic!("expected Transport, got {other:?}"),
    }
}
