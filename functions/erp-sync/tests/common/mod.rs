//! Shared by erp-sync's tests: the order envelopes they send, the
//! idempotency table they run on, and a handler context for direct calls.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchyard_contracts::Envelope;
use switchyard_erp_sync::ErpSyncEvent;
use switchyard_idempotency::{DynamoDbStore, StoreOptions};
use switchyard_triggers::Context;

/// `order.placed` v2 number `i`: id `evt-order-<i>`, order `O-<i>`,
/// correlation `corr-<i>` (three digits).
pub fn order_envelope(i: usize) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("evt-order-{i:03}"),
        "source": "switchyard/tests",
        "type": "order.placed",
        "time": "2026-11-20T09:00:00Z",
        "subject": format!("O-{i:03}"),
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:order.placed:v2",
        "dataversion": 2,
        "correlationid": format!("corr-{i:03}"),
        "data": {
            "orderId": format!("O-{i:03}"),
            "customerId": "C-1",
            "currency": "EUR",
            "lines": [{ "sku": "SKU-1", "quantity": "2", "unitPrice": "5.00", "lineTotal": "10.00" }],
            "total": "10.00",
            "placedAt": "2026-11-20T08:59:00Z"
        }
    })
}

/// A fresh idempotency table on moto's DynamoDB; its name.
pub async fn idempotency_table(aws: &aws_config::SdkConfig) -> String {
    let table = switchyard_testkit::unique_name("idempotency");
    DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        table.clone(),
        StoreOptions::default(),
    )
    .create_table_if_missing()
    .await
    .expect("create the idempotency table");
    table
}

/// A source queue (visibility timeout 1 s) whose RedrivePolicy moves a
/// message to a fresh DLQ after `max_receive` receives: (queue URL, DLQ).
pub async fn queue_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    max_receive: u32,
) -> (String, switchyard_testkit::moto::TestQueue) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let dlq = switchyard_testkit::moto::create_queue(sqs, &format!("{name}-dlq"), &[]).await;
    let redrive =
        json!({ "deadLetterTargetArn": dlq.arn, "maxReceiveCount": max_receive.to_string() })
            .to_string();
    let queue = switchyard_testkit::moto::create_queue(
        sqs,
        name,
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (QueueAttributeName::VisibilityTimeout, "1".to_owned()),
        ],
    )
    .await;
    (queue.url, dlq)
}

/// The payload of [`order_envelope`] `i`, as a fresh event for a direct
/// `Handler::handle` call.
pub fn order_event(i: usize) -> Envelope<ErpSyncEvent> {
    let order = serde_json::from_value(order_envelope(i)["data"].clone())
        .expect("the order envelope's data is an order.placed v2");
    Envelope::new("switchyard/tests", ErpSyncEvent::OrderPlaced(order))
}

/// A context for a direct call: erp-sync, 30 s to go, first delivery.
pub fn context() -> Context {
    Context {
        function_name: "erp-sync".into(),
        deadline: SystemTime::now() + Duration::from_secs(30),
        correlation_id: "corr-1".into(),
        causation_id: None,
        delivery_attempt: 1,
        message_id: "m-1".into(),
    }
}
