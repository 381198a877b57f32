//! One record that `aws_lambda_events` cannot read does not fail its batch:
//! the invocation payload is read record by record ([`Invocation::read`]),
//! the unreadable record is parked with its reason and the others run.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchyard_triggers::eventbridge::{EventBridgeAdapter, EventBridgeAdapterConfig};
use switchyard_triggers::lambda::Invocation;
use switchyard_triggers::park::attributes;
use switchyard_triggers::sqs::{InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi, SqsBatch};
use switchyard_triggers::{Outcome, Unreadable};

mod common;
use common::Scripted;

const PARK_URL: &str = "http://127.0.0.1:1/000000000000/erp-sync-dlq";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

/// The standard fixture's first (good) record, copied under `id` with a
/// binary message attribute that is not base64.
fn bad_attribute_record(batch: &Value, id: &str) -> Value {
    let mut record = batch["Records"][0].clone();
    record["messageId"] = json!(id);
    record["messageAttributes"] = json!({
        "blob": {"dataType": "Binary", "binaryValue": "%%% not base64 %%%"}
    });
    record
}

fn read_sqs(payload: &Value) -> SqsBatch {
    match Invocation::read(&payload.to_string()) {
        Ok(Invocation::Sqs(batch)) => batch,
        other => panic!("an SQS batch: {other:?}"),
    }
}

fn adapter(sqs: &InMemorySqs, handler: &Scripted, fifo: bool) -> SqsAdapter<Scripted> {
    let park = if fifo {
        format!("{PARK_URL}.fifo")
    } else {
        PARK_URL.to_owned()
    };
    SqsAdapter::new(
        handler.clone(),
        "erp-sync",
        SqsAdapterConfig {
            park_queue_url: Some(park),
            ..SqsAdapterConfig::default()
        },
        Some(Arc::new(sqs.clone()) as Arc<dyn SqsApi>),
    )
}

fn failures(response: &aws_lambda_events::event::sqs::SqsBatchResponse) -> Vec<String> {
    response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test]
async fn a_record_with_an_unreadable_attribute_is_parked_and_the_batch_runs() {
    let mut payload = fixture("sqs-standard.json");
    let bad = bad_attribute_record(&payload, "m-bad-attribute");
    payload["Records"].as_array_mut().unwrap().insert(1, bad);
    let sqs = InMemorySqs::new();
    let handler = Scripted::default();
    let (response, report) = adapter(&sqs, &handler, false)
        .handle_with_report(read_sqs(&payload), in_a_minute())
        .await;

    // The same failures as the fixture alone: the unreadable record is not one.
    let mut f = failures(&response);
    f.sort();
    assert_eq!(f, vec!["m-panic", "m-transient"]);
    assert_eq!(
        report.outcomes[1],
        (
            "m-bad-attribute".to_owned(),
            Outcome::Parked {
                kind: Unreadable::KIND.to_owned()
            }
        )
    );
    assert_eq!(report.outcomes[0].1, Outcome::Handled, "m-ok still ran");
    let parked = sqs.sent();
    let bad = parked
        .iter()
        .find(|m| m.attributes[attributes::ORIGINAL_MESSAGE_ID] == "m-bad-attribute")
        .expect("the unreadable record is parked");
    assert_eq!(bad.attributes[attributes::KIND], "unreadable_record");
    assert!(
        bad.attributes[attributes::REASON].contains("not an SQS message"),
        "{:?}",
        bad.attributes
    );
    assert_eq!(
        bad.body,
        payload["Records"][0]["body"].as_str().unwrap(),
        "its body is parked unchanged"
    );
    assert!(!handler.calls().is_empty());
}

#[tokio::test]
async fn an_unreadable_record_that_cannot_be_parked_is_reported_failed() {
    let mut payload = fixture("sqs-standard.json");
    let bad = bad_attribute_record(&payload, "m-bad-attribute");
    let mut no_id = bad.clone();
    no_id.as_object_mut().unwrap().remove("messageId");
    payload["Records"] = json!([payload["Records"][0].clone(), bad]);
    let sqs = InMemorySqs::new();
    sqs.fail_sends(true);
    let handler = Scripted::default();
    let adapter = adapter(&sqs, &handler, false);
    let response = adapter.handle(read_sqs(&payload), in_a_minute()).await;
    assert_eq!(failures(&response), vec!["m-bad-attribute"]);

    // Without a message id it cannot be named: an empty identifier makes
    // Lambda fail (and redeliver) the whole batch, so nothing is lost.
    payload["Records"] = json!([payload["Records"][0].clone(), no_id]);
    let response = adapter.handle(read_sqs(&payload), in_a_minute()).await;
    assert_eq!(failures(&response), vec![String::new()]);
}

#[tokio::test]
async fn in_a_fifo_batch_the_records_after_an_unparked_unreadable_one_wait() {
    let mut payload = fixture("sqs-fifo.json");
    let first = payload["Records"][0].clone();
    let mut bad = first.clone();
    bad["messageId"] = json!("m-a0");
    bad["messageAttributes"] = json!({"blob": {"dataType": "Binary", "binaryValue": "%%%"}});
    let records = payload["Records"].as_array_mut().unwrap();
    let total = records.len() + 1;
    records.insert(1, bad);
    let sqs = InMemorySqs::new();
    sqs.fail_sends(true);
    let handler = Scripted::default();
    let (response, report) = adapter(&sqs, &handler, true)
        .handle_with_report(read_sqs(&payload), in_a_minute())
        .await;
    assert_eq!(failures(&response).len(), total - 1, "all but the first");
    assert_eq!(failures(&response)[0], "m-a0");
    assert!(matches!(report.outcomes[2].1, Outcome::NotStarted { .. }));
    assert_eq!(handler.calls(), vec!["e-a1"]);
}

#[tokio::test]
async fn an_eventbridge_payload_that_is_not_an_event_is_parked() {
    let sqs = InMemorySqs::new();
    let handler = Scripted::default();
    let adapter = EventBridgeAdapter::new(
        handler.clone(),
        "audit-log",
        EventBridgeAdapterConfig {
            park_queue_url: Some(PARK_URL.to_owned()),
            ..EventBridgeAdapterConfig::default()
        },
        Some(Arc::new(sqs.clone()) as Arc<dyn SqsApi>),
    );
    let payload = json!({
        "version": "0", "id": "eb-1", "detail-type": "order.placed",
        "source": "switchyard.crm", "time": "yesterday", "detail": {}
    })
    .to_string();
    let Ok(Invocation::EventBridge(input)) = Invocation::read(&payload) else {
        panic!("an EventBridge invocation");
    };
    let outcome = adapter.handle(input, in_a_minute()).await;
    assert_eq!(
        outcome,
        Ok(Outcome::Parked {
            kind: "unreadable_record".to_owned()
        })
    );
    let parked = sqs.sent();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body, payload, "the whole payload is parked");
    assert_eq!(
        parked[0].attributes[attributes::ORIGINAL_MESSAGE_ID],
        "eb-1"
    );
    assert_eq!(parked[0].attributes[attributes::SOURCE], "switchyard.crm");
    assert!(handler.calls().is_empty());

    // Nowhere to park it: the invocation fails, so EventBridge retries it
    // and then dead-letters it.
    sqs.fail_sends(true);
    let Ok(Invocation::EventBridge(input)) = Invocation::read(&payload) else {
        panic!("an EventBridge invocation");
    };
    let retried = adapter.handle(input, in_a_minute()).await;
    assert!(matches!(retried, Err(e) if e.event_id == "eb-1"));
}
