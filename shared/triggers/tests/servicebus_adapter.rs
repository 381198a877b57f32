//! The Service Bus (custom handler) adapter over recorded invocation
//! fixtures: outcome → status mapping, parking with reasons, idempotency,
//! delivery counts and the host's encoding quirks.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::Scripted;
use serde_json::{Value, json};
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_publish::CallError;
use switchyard_publish::ScriptedResponse;
use switchyard_publish::servicebus::InMemoryServiceBus;
use switchyard_triggers::park::attributes;
use switchyard_triggers::servicebus::{
    InvocationRequest, ServiceBusAdapter, ServiceBusAdapterConfig, request,
};
use switchyard_triggers::{Idempotency, Outcome};

fn fixture(name: &str) -> InvocationRequest {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

struct Setup {
    adapter: ServiceBusAdapter<Scripted>,
    handler: Scripted,
    park: InMemoryServiceBus,
}

fn setup(park_queue: Option<&str>, idempotent: bool) -> Setup {
    let handler = Scripted::default();
    let park = InMemoryServiceBus::new();
    let config = ServiceBusAdapterConfig {
        park_queue: park_queue.map(str::to_owned),
        source: "integration/subscriptions/erp-sync".to_owned(),
        ..ServiceBusAdapterConfig::default()
    };
    let mut adapter = ServiceBusAdapter::new(
        handler.clone(),
        "erp-sync",
        config,
        Some(Arc::new(park.clone())),
    );
    if idempotent {
        adapter = adapter.with_idempotency(Idempotency {
            config: IdempotencyConfig::for_function("erp-sync"),
            store: Arc::new(MemoryStore::new(StoreOptions::default())),
        });
    }
    Setup {
        adapter,
        handler,
        park,
    }
}

/// `fixture` with its envelope's `data.orderId` replaced (the scripted
/// handler's behaviour is chosen by it).
fn order_with_id(order_id: &str) -> InvocationRequest {
    let mut r = fixture("functions-host-servicebus-order-placed.json");
    let body = r.data["message"].as_str().unwrap();
    let mut envelope: Value = serde_json::from_str(body).unwrap();
    envelope["data"]["orderId"] = json!(order_id);
    envelope["id"] = json!(format!("e-{order_id}"));
    r.data.insert("message".into(), json!(envelope.to_string()));
    r
}

#[test]
fn fixtures_round_trip() {
    for name in [
        "functions-host-servicebus-order-placed.json",
        "functions-host-servicebus-redelivery.json",
        "functions-host-servicebus-binary.json",
    ] {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let parsed: InvocationRequest = serde_json::from_value(raw.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), raw, "{name}");
    }
}

#[test]
fn metadata_quirks_are_read() {
    let m = request::service_bus_message(
        &fixture("functions-host-servicebus-order-placed.json"),
        "message",
        false,
    )
    .unwrap();
    assert_eq!(m.message_id.as_deref(), Some("e-sb-1"));
    assert_eq!(m.correlation_id.as_deref(), Some("corr-sb-1"));
    assert_eq!(m.delivery_count, 1);
    assert_eq!(m.sequence_number, Some(11));
    assert_eq!(m.label.as_deref(), Some("order.placed"));
    assert_eq!(
        m.content_type.as_deref(),
        Some("application/cloudevents+json")
    );
    assert_eq!(
        m.enqueued_time_utc.as_deref(),
        Some("2026-11-20T09:00:01.123+00:00")
    );
    assert_eq!(m.application_properties["type"], "order.placed");
    assert!(m.body.starts_with("{\"specversion\""));

    let r = request::service_bus_message(
        &fixture("functions-host-servicebus-redelivery.json"),
        "message",
        false,
    )
    .unwrap();
    assert_eq!(r.message_id.as_deref(), Some("e-sb-2"), "encoded twice");
    assert_eq!(r.delivery_count, 3);
    assert_eq!(r.sequence_number, Some(4_294_967_312));
    assert_eq!(r.correlation_id, None);
    assert_eq!(
        r.correlation().as_deref(),
        Some("corr-sb-2"),
        "from the properties"
    );
    assert!(
        r.body.starts_with("{\"specversion\""),
        "double-encoded body decoded: {}",
        r.body
    );

    let b = request::service_bus_message(
        &fixture("functions-host-servicebus-binary.json"),
        "message",
        true,
    )
    .unwrap();
    assert_eq!(b.body, m.body);
    assert_eq!(b.delivery_count, 2);
}

#[tokio::test]
async fn success_answers_200_with_the_custom_handler_shape() {
    let s = setup(Some("park"), false);
    let inv = s
        .adapter
        .handle(
            &fixture("functions-host-servicebus-order-placed.json"),
            in_a_minute(),
        )
        .await;
    assert_eq!(inv.status, 200);
    assert_eq!(inv.outcome, Some(Outcome::Handled));
    let body = serde_json::to_value(&inv.response).unwrap();
    assert_eq!(body["Outputs"], json!({}));
    assert_eq!(body["ReturnValue"], Value::Null);
    assert!(
        body["Logs"][0].as_str().unwrap().contains("e-sb-1"),
        "{body}"
    );
    let ctx = s.handler.contexts.lock().unwrap()[0].clone();
    assert_eq!(ctx.message_id, "e-sb-1");
    assert_eq!(ctx.delivery_attempt, 1);
    assert_eq!(ctx.correlation_id, "corr-sb-1");
    assert!(s.park.calls().is_empty());
}

#[tokio::test]
async fn delivery_count_reaches_the_handler() {
    let s = setup(Some("park"), false);
    let inv = s
        .adapter
        .handle(
            &fixture("functions-host-servicebus-redelivery.json"),
            in_a_minute(),
        )
        .await;
    assert_eq!(inv.status, 200, "{:?}", inv.response);
    let ctx = s.handler.contexts.lock().unwrap()[0].clone();
    assert_eq!(ctx.delivery_attempt, 3);
    assert_eq!(ctx.message_id, "e-sb-2");
}

#[tokio::test]
async fn transient_failures_answer_non_2xx_so_the_host_abandons() {
    let s = setup(Some("park"), true);
    let inv = s
        .adapter
        .handle(&order_with_id("FAIL-TRANSIENT"), in_a_minute())
        .await;
    assert_eq!(inv.status, 500);
    assert!(!inv.completes());
    assert!(matches!(inv.outcome, Some(Outcome::Retry { .. })));
    // The claim was released: the redelivery runs the handler again.
    let again = s
        .adapter
        .handle(&order_with_id("FAIL-TRANSIENT"), in_a_minute())
        .await;
    assert_eq!(again.status, 500);
    assert_eq!(s.handler.calls().len(), 2);
}

#[tokio::test]
async fn permanent_failures_and_poison_are_parked_with_their_reason() {
    let s = setup(Some("park"), false);
    let inv = s
        .adapter
        .handle(&order_with_id("REJECT"), in_a_minute())
        .await;
    assert_eq!(inv.status, 200);
    assert_eq!(
        inv.outcome,
        Some(Outcome::Parked {
            kind: "rejected_by_erp".into()
        })
    );
    let mut poison = fixture("functions-host-servicebus-order-placed.json");
    poison
        .data
        .insert("message".into(), json!("this is not json"));
    let inv = s.adapter.handle(&poison, in_a_minute()).await;
    assert_eq!(inv.status, 200);
    assert!(matches!(inv.outcome, Some(Outcome::Parked { .. })));

    let calls = s.park.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.target == "park"));
    let rejected = &calls[0].entries[0];
    assert_eq!(rejected.property(attributes::KIND), Some("rejected_by_erp"));
    assert!(
        rejected
            .property(attributes::REASON)
            .unwrap()
            .contains("422")
    );
    assert_eq!(rejected.property(attributes::FUNCTION), Some("erp-sync"));
    assert_eq!(
        rejected.property(attributes::SOURCE),
        Some("integration/subscriptions/erp-sync")
    );
    let poisoned = &calls[1].entries[0];
    assert_eq!(poisoned.body, "this is not json");
    assert_eq!(poisoned.message_id, "e-sb-1");
    assert_eq!(
        poisoned.property(attributes::ORIGINAL_MESSAGE_ID),
        Some("e-sb-1")
    );
    assert_eq!(
        poisoned.property(attributes::KIND),
        Some("invalid_envelope")
    );
}

#[tokio::test]
async fn a_failed_park_answers_non_2xx_instead_of_dropping() {
    let s = setup(Some("park"), false);
    s.park.script(ScriptedResponse::FailCall(CallError {
        code: "Http410".into(),
        message: "no such queue".into(),
        retryable: false,
    }));
    let inv = s
        .adapter
        .handle(&order_with_id("REJECT"), in_a_minute())
        .await;
    assert_eq!(inv.status, 500);
    assert!(matches!(inv.outcome, Some(Outcome::Retry { .. })));
}

#[tokio::test]
async fn without_a_park_queue_permanent_failures_are_retried_into_the_dlq() {
    let s = setup(None, false);
    let inv = s
        .adapter
        .handle(&order_with_id("REJECT"), in_a_minute())
        .await;
    assert_eq!(inv.status, 500);
}

#[tokio::test]
async fn duplicates_are_acknowledged_without_running() {
    let s = setup(Some("park"), true);
    let request = fixture("functions-host-servicebus-order-placed.json");
    assert_eq!(s.adapter.handle(&request, in_a_minute()).await.status, 200);
    let again = s.adapter.handle(&request, in_a_minute()).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.outcome, Some(Outcome::Duplicate));
    assert_eq!(s.handler.calls().len(), 1);
}

#[tokio::test]
async fn an_unreadable_request_is_not_acknowledged() {
    let s = setup(Some("park"), false);
    let mut request = fixture("functions-host-servicebus-order-placed.json");
    request.data.clear();
    let inv = s.adapter.handle(&request, in_a_minute()).await;
    assert_eq!(inv.status, 400);
    assert!(inv.response.logs[0].contains("Data.message"));
}
