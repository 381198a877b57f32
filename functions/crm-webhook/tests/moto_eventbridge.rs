//! A signed Dynamics delivery through `app()` with an EventBridgePublisher
//! against moto server: a bus, a rule matching `order.placed` with an SQS
//! target, and the envelope decoded from the queue. Needs the emulators of
//! `bash scripts/test.sh` (fails without them, never skips).

mod common;

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sqs::types::QueueAttributeName;
use axum::http::StatusCode;
use common::*;
use switchyard_contracts::{DecodeOptions, DomainEvent, decode_value};
use switchyard_publish::{EventBridgeConfig, EventBridgePublisher, InMemoryPublisher};
use switchyard_testkit::{aws_config, unique_name};

#[tokio::test]
async fn a_signed_dynamics_order_reaches_the_queue_through_the_bus() {
    let aws = aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let bus = unique_name("crm-bus");
    let rule = unique_name("crm-orders");
    eb.create_event_bus()
        .name(&bus)
        .send()
        .await
        .expect("CreateEventBus");
    let queue_url = sqs
        .create_queue()
        .queue_name(unique_name("crm-erp-sync"))
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

    let publisher = Arc::new(EventBridgePublisher::new(
        eb.clone(),
        EventBridgeConfig::new(&bus),
    ));
    let h = harness_with(config_from(env()), publisher, InMemoryPublisher::new());
    // an order (matches the rule) and a contact update (does not)
    let order = send(&h.app, dynamics(fixture("dynamics-salesorder-create.json"))).await;
    assert_eq!(order.status, StatusCode::ACCEPTED, "{}", order.text());
    let contact = send(&h.app, dynamics(fixture("dynamics-contact-update.json"))).await;
    assert_eq!(contact.status, StatusCode::ACCEPTED, "{}", contact.text());
    let order_id = order.json()["eventIds"][0]
        .as_str()
        .expect("an event id")
        .to_owned();

    let mut bodies = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while bodies.is_empty() && tokio::time::Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages() {
            bodies.push(m.body().expect("a body").to_owned());
        }
    }
    // one more short wait: nothing else may arrive
    let extra = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("ReceiveMessage");

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

    assert_eq!(bodies.len(), 1, "exactly the order: {bodies:?}");
    assert!(
        extra.messages().is_empty(),
        "the contact update does not match the rule"
    );
    let event: serde_json::Value = serde_json::from_str(&bodies[0]).expect("JSON");
    assert_eq!(event["detail-type"], "order.placed");
    assert_eq!(event["source"], "switchyard/crm-webhook/dynamics/contoso");
    let envelope = decode_value(event["detail"].clone(), &DecodeOptions::default())
        .expect("a contract envelope");
    assert_eq!(envelope.id, order_id);
    assert_eq!(
        envelope.correlationid,
        "9e8c9b0c-6a5d-4f8e-9a61-2f7f0d1c2b3a"
    );
    let DomainEvent::OrderPlaced(placed) = envelope.data else {
        panic!("{:?}", envelope.data)
    };
    assert_eq!(placed.order_id, "2d7e9a1b-5c6d-e711-8118-000d3a1a0e11");
    assert_eq!(placed.currency.code(), "EUR");
    assert_eq!(placed.total.to_string(), "1234.5");
}
