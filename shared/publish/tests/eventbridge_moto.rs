//! EventBridgePublisher against moto server: a bus, a rule matching
//! `order.placed` and an SQS target receive exactly the matching envelopes.
//! Needs the emulators of `bash scripts/test.sh` (fails without them).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use switchyard_publish::{
    EventBridgeConfig, EventBridgePublisher, OutgoingEvent, PublishError, Publisher,
};
use switchyard_testkit::{aws_config, unique_name};

use common::{envelope, receive};

#[tokio::test]
async fn matching_envelopes_arrive_through_a_rule_unchanged() {
    let config = aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);

    let bus = unique_name("sy-bus");
    let rule = unique_name("sy-orders");
    let queue = unique_name("sy-eb-target");
    eb.create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("CreateEventBus");
    let queue_url = sqs
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("a queue url")
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes")
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .expect("a queue arn");
    eb.put_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .event_pattern(r#"{"detail-type": ["order.placed"]}"#)
        .send()
        .await
        .expect("PutRule");
    eb.put_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .targets(
            Target::builder()
                .id("erp-sync")
                .arn(&queue_arn)
                .build()
                .expect("a target"),
        )
        .send()
        .await
        .expect("PutTargets");

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

    eb.remove_targets()
        .rule(&rule)
        .event_bus_name(&bus)
        .ids("erp-sync")
        .send()
        .await
        .expect("RemoveTargets");
    eb.delete_rule()
        .name(&rule)
        .event_bus_name(&bus)
        .send()
        .await
        .expect("DeleteRule");
    eb.delete_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("DeleteEventBus");
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .expect("DeleteQueue");

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
