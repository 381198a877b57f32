//! End to end on this machine: crm-webhook (HTTP trigger) publishes to the
//! Service Bus topic (the REST fake) → the subscription's filter → a driver
//! playing the Functions host delivers to erp-sync (Service Bus trigger) →
//! the ERP stub. Poison messages are parked with their reason; transient
//! failures are abandoned until `maxDeliveryCount` dead-letters them.

mod common;

use std::time::Duration;

use common::*;
use switchyard_publish::servicebus::{
    AzureServiceBus, PropertyValue, ServiceBusHttpClient, ServiceBusMessage, ServiceBusSendApi,
};

#[tokio::test]
async fn a_webhook_reaches_the_erp_exactly_once() {
    let stack = stack_with(Duration::from_millis(600), |_| {}).await;

    let (status, res) = call_webhook(
        &stack,
        &webhook_invocation("msg_1", Some(&order_body("SO-1"))),
    )
    .await;
    assert_eq!(status, 200, "the host-facing answer");
    assert_eq!(res["statusCode"], 202, "{res}");
    let published = stack.fake.messages(SUBSCRIPTION);
    assert_eq!(published.len(), 1);
    let message = &published[0];
    assert_eq!(message.property("type"), Some("order.placed"));
    assert_eq!(
        message.content_type.as_deref(),
        Some("application/cloudevents+json")
    );
    let envelope: serde_json::Value = serde_json::from_str(&message.body).unwrap();
    assert_eq!(
        message.message_id,
        envelope["id"].as_str().unwrap(),
        "MessageId = envelope id"
    );

    // The CRM retries the same delivery: acknowledged, nothing new published.
    let (_, res) = call_webhook(
        &stack,
        &webhook_invocation("msg_1", Some(&order_body("SO-1"))),
    )
    .await;
    assert_eq!(res["statusCode"], 200, "{res}");
    assert_eq!(stack.fake.messages(SUBSCRIPTION).len(), 1);

    let deliveries = stack.host.drain(10).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, 200);
    assert_eq!(deliveries[0].settled, Settled::Completed);
    assert_eq!(
        deliveries[0].response["ReturnValue"],
        serde_json::Value::Null
    );
    let orders = stack.erp.accepted();
    assert_eq!(orders.len(), 1);
    assert_eq!(orders[0].id, "SO-1");
    assert_eq!(
        orders[0].idempotency_key.as_deref(),
        envelope["id"].as_str()
    );
    assert_eq!(
        orders[0].correlation_id.as_deref(),
        envelope["correlationid"].as_str()
    );

    // erp-sync published erp.order-synced to the topic: the audit
    // subscription's SQL filter took it, erp-sync's did not.
    let audit = stack.fake.messages(AUDIT);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].property("type"), Some("erp.order-synced"));
    assert_eq!(
        audit[0].correlation_id.as_deref(),
        envelope["correlationid"].as_str()
    );
    assert!(stack.fake.messages(SUBSCRIPTION).is_empty());

    // A host that dies after the handler answered: the lock runs out, the
    // message comes again (DeliveryCount 2) and is acknowledged as a
    // duplicate without calling the ERP again.
    call_webhook(
        &stack,
        &webhook_invocation("msg_2", Some(&order_body("SO-2"))),
    )
    .await;
    let first = stack.host.deliver_next(false).await.unwrap();
    assert_eq!((first.status, first.settled), (200, Settled::Left));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let again = stack.host.deliver_next(true).await.unwrap();
    assert_eq!(again.delivery_count, 2);
    assert_eq!(again.status, 200);
    assert!(
        again.response["Logs"][0]
            .as_str()
            .unwrap()
            .contains("duplicate"),
        "{:?}",
        again.response
    );
    let so2: Vec<_> = stack
        .erp
        .accepted()
        .into_iter()
        .filter(|c| c.id == "SO-2")
        .collect();
    assert_eq!(so2.len(), 1, "the ERP saw SO-2 exactly once");
}

async fn send_raw(stack: &Stack, body: &str, message_id: &str) {
    let http = ServiceBusHttpClient::new(Some(&stack.fake.endpoint_url())).unwrap();
    let conn = stack
        .fake
        .connection_string("switchyard-send")
        .unwrap()
        .parse()
        .unwrap();
    let mut m = ServiceBusMessage::new(message_id, body);
    m.properties
        .insert("type".into(), PropertyValue::String("order.placed".into()));
    AzureServiceBus::new(http.shared(), conn)
        .send(TOPIC, vec![m])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_poison_message_is_parked_with_its_reason() {
    let stack = stack().await;
    send_raw(&stack, "{\"this is\": \"not an envelope\"}", "poison-1").await;
    let deliveries = stack.host.drain(10).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(
        (deliveries[0].status, deliveries[0].settled),
        (200, Settled::Completed)
    );
    let parked = stack.fake.messages(PARK);
    assert_eq!(parked.len(), 1);
    let p = &parked[0];
    assert_eq!(p.body, "{\"this is\": \"not an envelope\"}");
    assert_eq!(p.property("switchyard.park.kind"), Some("invalid_envelope"));
    assert!(p.property("switchyard.park.reason").unwrap().len() > 10);
    assert_eq!(
        p.property("switchyard.original.message-id"),
        Some("poison-1")
    );
    assert_eq!(p.property("switchyard.source"), Some(SUBSCRIPTION));
    assert_eq!(p.property("switchyard.function"), Some("erp-sync"));
    assert!(stack.fake.messages(SUBSCRIPTION).is_empty());
    assert!(stack.fake.dead_letters(SUBSCRIPTION).is_empty());
    assert!(stack.erp.calls().is_empty());
}

#[tokio::test]
async fn a_transient_failure_is_retried_until_the_dead_letter_queue() {
    let stack = stack().await;
    stack.erp.fail_always("SO-9", 503);
    call_webhook(
        &stack,
        &webhook_invocation("msg_9", Some(&order_body("SO-9"))),
    )
    .await;
    let deliveries = stack.host.drain(10).await;
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.delivery_count, d.status, d.settled))
            .collect::<Vec<_>>(),
        (1..=max_delivery_count())
            .map(|n| (n, 500, Settled::Abandoned))
            .collect::<Vec<_>>()
    );
    assert_eq!(stack.erp.calls().len(), max_delivery_count() as usize);
    let dead = stack.fake.dead_letters(SUBSCRIPTION);
    assert_eq!(dead.len(), 1);
    assert_eq!(
        dead[0].property("DeadLetterReason"),
        Some("MaxDeliveryCountExceeded")
    );
    assert_eq!(dead[0].delivery_count, max_delivery_count());
    assert!(stack.fake.messages(PARK).is_empty());
}

#[tokio::test]
async fn a_message_that_cannot_be_parked_is_not_acknowledged() {
    let stack = stack_with(Duration::from_secs(30), |vars| {
        vars.insert("SWITCHYARD_PARK_QUEUE", "no-such-queue".to_owned());
    })
    .await;
    send_raw(&stack, "not json at all", "poison-2").await;
    let deliveries = stack.host.drain(10).await;
    assert!(
        deliveries
            .iter()
            .all(|d| d.status == 500 && d.settled == Settled::Abandoned)
    );
    assert_eq!(deliveries.len(), max_delivery_count() as usize);
    let dead = stack.fake.dead_letters(SUBSCRIPTION);
    assert_eq!(dead.len(), 1, "never dropped: the broker dead-lettered it");
    assert_eq!(dead[0].body, "not json at all");
}
