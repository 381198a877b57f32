//! The application's handler through Switchyard's SQS and Service Bus
//! adapters, with idempotency: handled once, duplicates acknowledged without
//! running, a refused invoice and a foreign event type parked with reasons.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use external_handler::BookInvoice;
use serde_json::json;
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_publish::servicebus::{InMemoryServiceBus, ServiceBusSendApi};
use switchyard_triggers::servicebus::{
    InvocationRequest, ServiceBusAdapter, ServiceBusAdapterConfig,
};
use switchyard_triggers::sqs::{InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{Idempotency, Outcome};

fn envelope(id: &str, event_type: &str, version: u32, data: serde_json::Value) -> String {
    json!({
        "specversion": "1.0", "id": id, "source": "billing", "type": event_type,
        "time": "2026-12-01T09:00:00Z", "dataschema": format!("urn:billing:{event_type}:v{version}"),
        "dataversion": version, "correlationid": format!("corr-{id}"), "data": data,
    })
    .to_string()
}

fn invoice(id: &str, amount: u64) -> String {
    envelope(
        id,
        "invoice.issued",
        1,
        json!({"invoiceId": format!("INV-{id}"), "orderId": format!("SO-{id}"), "amountCents": amount}),
    )
}

fn idempotency() -> Idempotency {
    Idempotency {
        config: IdempotencyConfig::for_function("book-invoice"),
        store: Arc::new(MemoryStore::new(StoreOptions::default())),
    }
}

fn batch(bodies: &[(&str, String)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (id, body) in bodies {
        let mut m = SqsMessage::default();
        m.message_id = Some((*id).to_owned());
        m.receipt_handle = Some(format!("rh-{id}"));
        m.body = Some(body.clone());
        m.event_source_arn = Some("arn:aws:sqs:eu-west-1:000000000000:invoices".to_owned());
        event.records.push(m);
    }
    event
}

fn soon() -> SystemTime {
    SystemTime::now() + Duration::from_secs(30)
}

#[tokio::test]
async fn through_the_sqs_adapter() {
    let sqs = InMemorySqs::new();
    let adapter = SqsAdapter::new(
        BookInvoice,
        "book-invoice",
        SqsAdapterConfig {
            park_queue_url: Some("http://127.0.0.1:1/000000000000/invoices-park".to_owned()),
            ..SqsAdapterConfig::default()
        },
        Some(Arc::new(sqs.clone()) as Arc<dyn SqsApi>),
    )
    .with_idempotency(idempotency());
    let v0 = envelope(
        "b",
        "invoice.issued",
        0,
        json!({"invoiceId": "INV-SO-7", "amountCents": 500}),
    );
    let foreign = envelope("d", "order.placed", 2, json!({"orderId": "SO-1"}));
    let (response, report) = adapter
        .handle_with_report(
            batch(&[
                ("m-a", invoice("a", 1200)),
                ("m-b", v0),
                ("m-c", invoice("c", 0)),
                ("m-d", foreign),
            ]),
            soon(),
        )
        .await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let outcomes: Vec<Outcome> = report.outcomes.into_iter().map(|(_, o)| o).collect();
    assert_eq!(
        outcomes,
        vec![
            Outcome::Handled,
            Outcome::Handled,
            Outcome::Parked {
                kind: "zero_amount".into()
            },
            Outcome::Parked {
                kind: "not_subscribed".into()
            },
        ]
    );
    assert_eq!(sqs.sent().len(), 2, "both parked with their bodies");

    // a redelivery of the first invoice is a duplicate: not booked again
    let (_, report) = adapter
        .handle_with_report(batch(&[("m-a2", invoice("a", 1200))]), soon())
        .await;
    assert_eq!(report.outcomes[0].1, Outcome::Duplicate);
}

fn servicebus_request(body: &str, message_id: &str, delivery_count: u32) -> InvocationRequest {
    serde_json::from_value(json!({
        "Data": { "message": body },
        "Metadata": {
            "MessageId": format!("\"{message_id}\""),
            "DeliveryCount": delivery_count.to_string(),
            "ContentType": "\"application/cloudevents+json\"",
        }
    }))
    .unwrap()
}

#[tokio::test]
async fn through_the_service_bus_adapter() {
    let bus = InMemoryServiceBus::new();
    let adapter = ServiceBusAdapter::new(
        BookInvoice,
        "book-invoice",
        ServiceBusAdapterConfig {
            park_queue: Some("park".to_owned()),
            ..ServiceBusAdapterConfig::default()
        },
        Some(Arc::new(bus.clone()) as Arc<dyn ServiceBusSendApi>),
    )
    .with_idempotency(idempotency());

    let first = adapter
        .handle(&servicebus_request(&invoice("e", 900), "e", 1), soon())
        .await;
    assert_eq!((first.status, first.outcome), (200, Some(Outcome::Handled)));
    let again = adapter
        .handle(&servicebus_request(&invoice("e", 900), "e", 2), soon())
        .await;
    assert_eq!(
        (again.status, again.outcome),
        (200, Some(Outcome::Duplicate))
    );

    let refused = adapter
        .handle(&servicebus_request(&invoice("f", 0), "f", 1), soon())
        .await;
    assert_eq!(refused.status, 200, "parked, so the host completes it");
    assert_eq!(
        refused.outcome,
        Some(Outcome::Parked {
            kind: "zero_amount".into()
        })
    );
    assert_eq!(bus.calls().len(), 1, "one message sent to the park queue");
}
