//! audit-log against moto DynamoDB and SQS: one record per event, with its
//! ids and digest; a duplicate event writes once; an event audit-log is not
//! subscribed to is parked.

use std::time::{Duration, SystemTime};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use switchyard_audit_log::dynamodb::DynamoDbAuditStore;
use switchyard_audit_log::{AuditRecord, AuditStore, Recorded};
use switchyard_config::Settings;
use switchyard_publish::sqs::AwsSqs;
use switchyard_triggers::Outcome;
use switchyard_triggers::eventbridge::EventBridgeRetry;
use switchyard_triggers::registry::{App, MessageApp, Platform, Resources, Trigger};
use switchyard_triggers::sqs::SqsApi;

/// The registered audit-log, built by the same code as on Lambda from the
/// settings a deployment sets (idempotency in memory).
async fn audit_log(
    aws: &aws_config::SdkConfig,
    vars: &[(&str, &str)],
) -> std::sync::Arc<dyn MessageApp> {
    let function = switchyard_audit_log::function();
    let mut pairs: Vec<(String, String)> = vec![("SWITCHYARD_IDEMPOTENCY".into(), "memory".into())];
    pairs.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let settings = Settings::from_pairs(pairs).scoped(function.name);
    let platform = Platform {
        store: Some(switchyard_runtime::open_store(&function, &settings, Some(aws)).unwrap()),
        settings,
        publisher: std::sync::Arc::new(switchyard_runtime::NoPublisher),
        sqs: Some(
            std::sync::Arc::new(AwsSqs::new(aws_sdk_sqs::Client::new(aws)))
                as std::sync::Arc<dyn SqsApi>,
        ),
        servicebus: None,
        triggers: vec![Trigger::EventBridge],
        resources: Resources::new(),
    };
    match function.build(&platform).await.expect("build audit-log") {
        App::Messages(app) => app,
        App::Http(_) => panic!("audit-log is a message function"),
    }
}

async fn handle(
    app: &dyn MessageApp,
    event: EventBridgeEvent,
    deadline: SystemTime,
) -> Result<Outcome, EventBridgeRetry> {
    app.eventbridge(event.into(), deadline)
        .await
        .expect("audit-log has an EventBridge trigger")
}

fn fixture(name: &str) -> EventBridgeEvent {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    switchyard_testkit::moto::create_pk_table(client, name).await;
}

async fn items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    client
        .scan()
        .table_name(table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

fn s<'a>(item: &'a std::collections::HashMap<String, AttributeValue>, key: &str) -> &'a str {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or("")
}

#[tokio::test]
async fn each_event_is_recorded_once_with_its_ids_and_digest() {
    let aws = switchyard_testkit::aws_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let table = switchyard_testkit::unique_name("audit");
    create_table(&dynamo, &table).await;
    let park = sqs
        .create_queue()
        .queue_name(switchyard_testkit::unique_name("audit-park"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let store = format!("dynamodb:{table}");
    let adapter = audit_log(
        &aws,
        &[
            ("AUDIT_STORE", &store),
            ("SWITCHYARD_PARK_QUEUE_URL", &park),
        ],
    )
    .await;
    let deadline = || SystemTime::now() + Duration::from_secs(30);

    let synced = fixture("eventbridge-erp-order-synced.json");
    assert_eq!(
        handle(adapter.as_ref(), synced.clone(), deadline()).await,
        Ok(Outcome::Handled)
    );
    assert_eq!(
        handle(adapter.as_ref(), synced, deadline()).await,
        Ok(Outcome::Duplicate)
    );
    assert_eq!(
        handle(
            adapter.as_ref(),
            fixture("eventbridge-customer-updated.json"),
            deadline()
        )
        .await,
        Ok(Outcome::Handled)
    );

    let mut all = items(&dynamo, &table).await;
    all.sort_by(|a, b| s(a, "pk").cmp(s(b, "pk")));
    assert_eq!(all.len(), 2, "one record per event");
    let customer = &all[0];
    let order = &all[1];
    assert_eq!(s(order, "pk"), "evt-synced-1");
    assert_eq!(s(order, "event_type"), "erp.order-synced");
    assert_eq!(s(order, "correlation_id"), "corr-1001");
    assert_eq!(s(order, "causation_id"), "evt-order-1001");
    assert_eq!(s(order, "time"), "2026-11-20T09:16:02+00:00");
    assert_eq!(s(order, "data_digest").len(), 64);
    assert_eq!(s(customer, "pk"), "evt-customer-42");
    assert!(!customer.contains_key("causation_id"));

    // an event audit-log is not subscribed to is parked, not retried
    let mut order_placed = fixture("eventbridge-erp-order-synced.json");
    order_placed.detail = json!({
        "specversion": "1.0", "id": "evt-order-9", "source": "x", "type": "order.placed",
        "time": "2026-11-20T09:00:00Z", "dataschema": "urn:switchyard:schema:order.placed:v2", "dataversion": 2,
        "correlationid": "c", "data": { "orderId": "O-9", "customerId": "C", "currency": "EUR", "lines": [], "total": "1.00", "placedAt": "2026-11-20T09:00:00Z" }
    });
    assert_eq!(
        handle(adapter.as_ref(), order_placed, deadline()).await,
        Ok(Outcome::Parked {
            kind: "not_subscribed".into()
        })
    );
    let parked = sqs
        .receive_message()
        .queue_url(&park)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(parked.len(), 1);
    assert_eq!(items(&dynamo, &table).await.len(), 2);

    dynamo
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    sqs.delete_queue().queue_url(&park).send().await.unwrap();
}

#[tokio::test]
async fn the_conditional_write_alone_keeps_duplicates_out() {
    let aws = switchyard_testkit::aws_config().await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let table = switchyard_testkit::unique_name("audit");
    create_table(&dynamo, &table).await;
    let store = DynamoDbAuditStore::new(dynamo.clone(), table.clone());
    let record = AuditRecord {
        event_id: "evt-1".into(),
        event_type: "customer.updated".into(),
        source: "test".into(),
        correlation_id: "c-1".into(),
        causation_id: None,
        time: Some("2026-11-20T10:00:00Z".parse().unwrap()),
        data_digest: "00".repeat(32),
    };
    assert_eq!(store.record(&record).await.unwrap(), Recorded::Written);
    assert_eq!(
        store.record(&record).await.unwrap(),
        Recorded::AlreadyPresent
    );
    assert_eq!(items(&dynamo, &table).await.len(), 1);
    dynamo
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreachable_table_is_a_transient_failure() {
    let aws = switchyard_testkit::aws_config().await;
    let store = format!(
        "dynamodb:{}",
        switchyard_testkit::unique_name("no-such-table")
    );
    let adapter = audit_log(&aws, &[("AUDIT_STORE", &store)]).await;
    let err = handle(
        adapter.as_ref(),
        fixture("eventbridge-customer-updated.json"),
        SystemTime::now() + Duration::from_secs(30),
    )
    .await
    .unwrap_err();
    assert!(err.reason.contains("audit store unavailable"), "{err}");
}
