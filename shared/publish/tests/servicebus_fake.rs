//! The Service Bus publisher and receiver against the REST fake in
//! `switchyard-testkit` (no emulator exists for this machine): single and
//! batch sends, broker and application properties, duplicate detection,
//! peek-lock settlement, SAS refusals, and the crate gap this module works
//! around (sequence numbers above `i32::MAX`).

mod common;

use std::time::Duration;

use common::envelope;
use serde_json::Value;
use switchyard_publish::servicebus::{
    AzureServiceBus, CONTENT_TYPE, ConnectionString, ServiceBusConfig, ServiceBusHttpClient,
    ServiceBusPublisher, ServiceBusReceiver,
};
use switchyard_publish::{PublishError, Publisher};
use switchyard_testkit::servicebus_fake::{
    Filter, QueueOptions, ROOT_RULE, ReceiveSettings, Right, ServiceBusFake, TopicOptions,
};

const SUB: &str = "integration/subscriptions/all";

async fn fake() -> ServiceBusFake {
    let fake = ServiceBusFake::start(&switchyard_testkit::unique_name("sb")).await;
    fake.create_topic(
        "integration",
        TopicOptions {
            duplicate_detection_window: Some(Duration::from_secs(600)),
        },
    );
    fake.create_subscription(
        "integration",
        "all",
        ReceiveSettings::default(),
        &[("$Default", Filter::True)],
    )
    .unwrap();
    fake
}

fn connection(fake: &ServiceBusFake, rule: &str) -> ConnectionString {
    fake.connection_string(rule).unwrap().parse().unwrap()
}

fn publisher(fake: &ServiceBusFake, rule: &str) -> ServiceBusPublisher {
    let mut config = ServiceBusConfig::new(connection(fake, rule), "integration");
    config.endpoint_url = Some(fake.endpoint_url());
    config.retry.max_attempts = 1;
    ServiceBusPublisher::new(config).unwrap()
}

fn receiver(fake: &ServiceBusFake) -> ServiceBusReceiver {
    let http = ServiceBusHttpClient::new(Some(&fake.endpoint_url())).unwrap();
    ServiceBusReceiver::new(http.shared(), connection(fake, ROOT_RULE))
}

#[tokio::test]
async fn single_and_batch_sends_carry_the_envelope_attributes() {
    let fake = fake().await;
    let p = publisher(&fake, ROOT_RULE);
    p.publish_all(vec![envelope("e1", "order.placed", Some("O-1"))])
        .await
        .unwrap();
    p.publish_all(vec![
        envelope("e2", "order.placed", None),
        envelope("e3", "customer.updated", None),
        envelope("e4", "erp.order-synced", None),
    ])
    .await
    .unwrap();
    let sends: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/integration/messages")
        .map(|r| r.status)
        .collect();
    assert_eq!(sends, [201, 201], "one single send, one batch send");

    let messages = fake.messages(SUB);
    assert_eq!(
        messages
            .iter()
            .map(|m| m.message_id.as_str())
            .collect::<Vec<_>>(),
        ["e1", "e2", "e3", "e4"]
    );
    for m in &messages {
        let sent: switchyard_publish::OutgoingEvent = serde_json::from_str(&m.body).unwrap();
        assert_eq!(m.message_id, sent.id);
        assert_eq!(
            m.correlation_id.as_deref(),
            Some(sent.correlationid.as_str())
        );
        assert_eq!(m.label.as_deref(), Some(sent.event_type.as_str()));
        assert_eq!(m.content_type.as_deref(), Some(CONTENT_TYPE));
        assert_eq!(m.property("type"), Some(sent.event_type.as_str()));
        assert_eq!(m.properties.get("version"), Some(&Value::from(1)));
    }

    // Sent again (a retry after a lost answer): duplicate detection drops it.
    p.publish_all(vec![envelope("e1", "order.placed", Some("O-1"))])
        .await
        .unwrap();
    assert_eq!(fake.duplicates_dropped("integration"), 1);
    assert_eq!(fake.messages(SUB).len(), 4);
}

#[tokio::test]
async fn receiver_completes_and_abandons() {
    let fake = fake().await;
    publisher(&fake, ROOT_RULE)
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap();
    let r = receiver(&fake);
    let first = r.peek_lock(SUB, Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(first.broker.delivery_count, 1);
    assert_eq!(first.broker.message_id.as_deref(), Some("e1"));
    assert_eq!(first.broker.correlation_id.as_deref(), Some("corr-e1"));
    assert_eq!(first.property("type"), Some("order.placed"));
    assert_eq!(first.content_type.as_deref(), Some(CONTENT_TYPE));
    r.renew_lock(&first).await.unwrap();
    r.abandon(&first).await.unwrap();
    let second = r.peek_lock(SUB, Duration::ZERO).await.unwrap().unwrap();
    assert_eq!(second.broker.delivery_count, 2);
    assert_eq!(first.body, second.body);
    r.complete(&second).await.unwrap();
    assert!(r.peek_lock(SUB, Duration::ZERO).await.unwrap().is_none());
    let lost = r.complete(&second).await.unwrap_err();
    assert_eq!(lost.code, "Http404", "{lost:?}");
}

#[tokio::test]
async fn a_wrong_key_or_a_listen_only_rule_cannot_publish() {
    let fake = fake().await;
    fake.add_rule("listen", "listen-key", &[Right::Listen]);
    let err = publisher(&fake, "listen")
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap_err();
    assert!(
        matches!(err, PublishError::Transport { ref code, .. } if code == "Http401"),
        "{err}"
    );

    let mut wrong: ConnectionString = connection(&fake, ROOT_RULE);
    wrong.key = "not-the-key".into();
    let mut config = ServiceBusConfig::new(wrong, "integration");
    config.endpoint_url = Some(fake.endpoint_url());
    config.retry.max_attempts = 1;
    let err = ServiceBusPublisher::new(config)
        .unwrap()
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Transport { .. }), "{err}");
    assert!(fake.messages(SUB).is_empty());
}

#[tokio::test]
async fn sequence_numbers_past_i32_break_the_crate_receiver_not_ours() {
    let fake = ServiceBusFake::start(&switchyard_testkit::unique_name("sb")).await;
    fake.set_first_sequence_number(i64::from(i32::MAX) + 1);
    fake.create_queue(
        "park",
        QueueOptions {
            receive: ReceiveSettings {
                lock_duration: Duration::from_millis(300),
                ..ReceiveSettings::default()
            },
            ..QueueOptions::default()
        },
    );
    let conn = connection(&fake, ROOT_RULE);
    let http = ServiceBusHttpClient::new(Some(&fake.endpoint_url()))
        .unwrap()
        .shared();
    let sender = AzureServiceBus::new(http.clone(), conn.clone());
    let mut config = ServiceBusConfig::new(conn.clone(), "park");
    config.endpoint_url = Some(fake.endpoint_url());
    ServiceBusPublisher::with_client(sender, config)
        .publish_all(vec![envelope("e1", "order.placed", None)])
        .await
        .unwrap();

    // The crate locks the message, then fails to parse its BrokerProperties.
    let crate_client = azure_messaging_servicebus::service_bus::QueueClient::new(
        http.clone(),
        conn.namespace.clone(),
        "park",
        conn.key_name.clone(),
        conn.key.clone(),
    )
    .unwrap();
    let got = crate_client.peek_lock_message2(Some(Duration::ZERO)).await;
    let err = got
        .err()
        .expect("the crate cannot read EnqueuedSequenceNumber > i32::MAX");
    assert!(format!("{err:?}").contains("2147483648"), "{err:?}");
    assert_eq!(
        fake.messages("park")[0].delivery_count,
        1,
        "a delivery was spent"
    );

    // When that lock runs out, our receiver reads the message.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let ours = ServiceBusReceiver::new(http, conn);
    let m = ours
        .peek_lock("park", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.broker.sequence_number, i64::from(i32::MAX) + 1);
    assert_eq!(
        m.broker.enqueued_sequence_number,
        Some(i64::from(i32::MAX) + 1)
    );
    assert_eq!(m.broker.delivery_count, 2);
    ours.complete(&m).await.unwrap();
}

#[tokio::test]
async fn the_crate_peek_lock_does_not_check_the_status() {
    let fake = fake().await;
    let mut conn = connection(&fake, ROOT_RULE);
    conn.key = "not-the-key".into();
    let http = ServiceBusHttpClient::new(Some(&fake.endpoint_url()))
        .unwrap()
        .shared();
    let topic = azure_messaging_servicebus::service_bus::TopicClient::new(
        http,
        conn.namespace.clone(),
        "integration",
        conn.key_name.clone(),
        conn.key.clone(),
    )
    .unwrap();
    let answer = topic
        .subscription_receiver("all")
        .peek_lock_message2(Some(Duration::ZERO))
        .await
        .expect("a refused call still comes back Ok");
    assert_eq!(u16::from(*answer.status()), 401);
    assert!(answer.broker_properties().is_none());
}
