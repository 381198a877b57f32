//! The EventBridge adapter's rules over recorded EventBridge event fixtures.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::json;
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_triggers::eventbridge::{EventBridgeAdapter, EventBridgeAdapterConfig};
use switchyard_triggers::park::attributes;
use switchyard_triggers::sqs::{InMemorySqs, SqsApi};
use switchyard_triggers::{BarePayload, Idempotency, Outcome};

mod common;
use common::Scripted;

const PARK_URL: &str = "http://127.0.0.1:1/000000000000/audit-log-park";

fn fixture(name: &str) -> EventBridgeEvent {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn adapter(
    config: EventBridgeAdapterConfig,
) -> (EventBridgeAdapter<Scripted>, Scripted, InMemorySqs) {
    let handler = Scripted::default();
    let sqs = InMemorySqs::new();
    let adapter = EventBridgeAdapter::new(
        handler.clone(),
        "audit-log",
        config,
        Some(Arc::new(sqs.clone()) as Arc<dyn SqsApi>),
    )
    .with_idempotency(Idempotency {
        config: IdempotencyConfig::for_function("audit-log"),
        store: Arc::new(MemoryStore::new(StoreOptions::default())),
    });
    (adapter, handler, sqs)
}

fn parking() -> EventBridgeAdapterConfig {
    EventBridgeAdapterConfig {
        park_queue_url: Some(PARK_URL.to_owned()),
        ..EventBridgeAdapterConfig::default()
    }
}

fn with_order_id(id: &str) -> EventBridgeEvent {
    let mut e = fixture("eventbridge-order-placed.json");
    e.detail["data"]["orderId"] = json!(id);
    e
}

#[tokio::test]
async fn a_handled_event_succeeds_and_a_duplicate_does_not_run_again() {
    let (adapter, handler, _) = adapter(parking());
    let event = fixture("eventbridge-order-placed.json");
    assert_eq!(
        adapter.handle(event.clone(), in_a_minute()).await,
        Ok(Outcome::Handled)
    );
    assert_eq!(
        adapter.handle(event, in_a_minute()).await,
        Ok(Outcome::Duplicate)
    );
    assert_eq!(handler.calls(), vec!["e-eb-order"]);
    let ctx = handler.contexts.lock().unwrap()[0].clone();
    assert_eq!(ctx.correlation_id, "corr-eb");
    assert_eq!(ctx.message_id, "6a7e8feb-b491-4cf7-a9f1-bf3703467718");
}

#[tokio::test]
async fn a_transient_failure_fails_the_invocation_for_the_retry_policy() {
    let (adapter, handler, sqs) = adapter(parking());
    let err = adapter
        .handle(with_order_id("FAIL-TRANSIENT"), in_a_minute())
        .await
        .unwrap_err();
    assert!(err.reason.contains("503"), "{err}");
    assert!(sqs.sent().is_empty());
    // the claim was released: EventBridge's retry runs the handler again
    assert!(
        adapter
            .handle(with_order_id("FAIL-TRANSIENT"), in_a_minute())
            .await
            .is_err()
    );
    assert_eq!(handler.calls().len(), 2);
}

#[tokio::test]
async fn a_permanent_failure_is_parked_and_the_invocation_succeeds() {
    let (adapter, _, sqs) = adapter(parking());
    let outcome = adapter.handle(with_order_id("REJECT"), in_a_minute()).await;
    assert_eq!(
        outcome,
        Ok(Outcome::Parked {
            kind: "rejected_by_erp".into()
        })
    );
    let parked = sqs.sent();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].queue_url, PARK_URL);
    assert_eq!(
        parked[0].attributes[attributes::SOURCE],
        "switchyard/crm-webhook/dynamics/contoso"
    );
    assert_eq!(
        parked[0].attributes[attributes::ORIGINAL_MESSAGE_ID],
        "6a7e8feb-b491-4cf7-a9f1-bf3703467718"
    );
    assert!(
        parked[0].body.contains("\"orderId\":\"REJECT\""),
        "the detail is parked"
    );
}

#[tokio::test]
async fn an_undecodable_detail_is_parked_with_its_path() {
    let (adapter, handler, sqs) = adapter(parking());
    let mut event = fixture("eventbridge-order-placed.json");
    event.detail["data"]["total"] = json!(10.0);
    assert_eq!(
        adapter.handle(event, in_a_minute()).await,
        Ok(Outcome::Parked {
            kind: "invalid_payload".into()
        })
    );
    assert!(handler.calls().is_empty());
    assert!(sqs.sent()[0].attributes[attributes::REASON].contains("data.total"));
}

#[tokio::test]
async fn without_a_park_queue_poison_fails_the_invocation_for_the_target_dlq() {
    let (adapter, _, _) = adapter(EventBridgeAdapterConfig::default());
    let mut event = fixture("eventbridge-order-placed.json");
    event.detail = json!({"not": "an envelope"});
    assert!(adapter.handle(event, in_a_minute()).await.is_err());
}

#[tokio::test]
async fn a_failed_park_fails_the_invocation() {
    let (adapter, _, sqs) = adapter(parking());
    sqs.fail_sends(true);
    assert!(
        adapter
            .handle(with_order_id("REJECT"), in_a_minute())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn partner_events_are_mapped_to_the_configured_contract() {
    let config = EventBridgeAdapterConfig {
        partner: Some(BarePayload {
            event_type: "customer.updated".into(),
            version: 1,
            source: String::new(),
        }),
        ..parking()
    };
    let (adapter, handler, _) = adapter(config);
    let event = fixture("eventbridge-partner-customer.json");
    assert_eq!(
        adapter.handle(event.clone(), in_a_minute()).await,
        Ok(Outcome::Handled)
    );
    // a retried delivery of the same EventBridge event is a duplicate
    assert_eq!(
        adapter.handle(event, in_a_minute()).await,
        Ok(Outcome::Duplicate)
    );
    assert_eq!(
        handler.calls(),
        vec!["0d5f3c3e-1b7a-4f0e-8a52-3c1f9b2d7e11"]
    );
}

#[tokio::test]
async fn the_deadline_margin_is_respected() {
    let (adapter, handler, _) = adapter(parking());
    let deadline = SystemTime::now() + Duration::from_millis(200);
    assert!(
        adapter
            .handle(fixture("eventbridge-order-placed.json"), deadline)
            .await
            .is_err()
    );
    assert!(handler.calls().is_empty());
}
