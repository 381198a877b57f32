//! A signed Dynamics delivery through `app()` with an EventBridgePublisher
//! against moto server: a bus, a rule matching `order.placed` with an SQS
//! target, and the envelope decoded from the queue. Needs the emulators of
//! `bash scripts/test.sh` (fails without them, never skips).

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use switchyard_contracts::{DecodeOptions, DomainEvent, decode_value};
use switchyard_publish::{EventBridgeConfig, EventBridgePublisher, InMemoryPublisher};
use switchyard_testkit::aws_config;
use switchyard_testkit::moto::{BusToQueue, receive};

#[tokio::test]
async fn a_signed_dynamics_order_reaches_the_queue_through_the_bus() {
    let aws = aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let wiring = BusToQueue::create(&eb, &sqs, r#"{"detail-type": ["order.placed"]}"#).await;
    let bus = wiring.bus.clone();

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

    // exactly one message arrives (the order), and nothing else after it
    let messages = receive(
        &sqs,
        &wiring.queue.url,
        1,
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .await;
    wiring.delete(&eb, &sqs).await;
    let bodies: Vec<String> = messages
        .iter()
        .map(|m| m.body().expect("a body").to_owned())
        .collect();

    assert_eq!(
        bodies.len(),
        1,
        "exactly the order, not the contact update: {bodies:?}"
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
