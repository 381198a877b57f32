//! The SQS adapter's rules, over recorded SQS event fixtures, asserting
//! exact `batchItemFailures`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use switchyard_contracts::DecodeOptions;
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_triggers::park::attributes;
use switchyard_triggers::sqs::{BackoffConfig, InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{Idempotency, Outcome};

mod common;
use common::Scripted;

const PARK_URL: &str = "http://127.0.0.1:1/000000000000/erp-sync-dlq";

fn fixture(name: &str) -> SqsEvent {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

fn failures(r: &SqsBatchResponse) -> Vec<String> {
    r.batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect()
}

struct Setup {
    adapter: SqsAdapter<Scripted>,
    handler: Scripted,
    sqs: InMemorySqs,
}

fn setup(config: SqsAdapterConfig, idempotent: bool) -> Setup {
    let handler = Scripted::default();
    let sqs = InMemorySqs::new();
    let api: Arc<dyn SqsApi> = Arc::new(sqs.clone());
    let mut adapter = SqsAdapter::new(handler.clone(), "erp-sync", config, Some(api));
    if idempotent {
        adapter = adapter.with_idempotency(Idempotency {
            config: IdempotencyConfig::for_function("erp-sync"),
            store: Arc::new(MemoryStore::new(StoreOptions::default())),
        });
    }
    Setup {
        adapter,
        handler,
        sqs,
    }
}

fn parking() -> SqsAdapterConfig {
    SqsAdapterConfig {
        park_queue_url: Some(PARK_URL.to_owned()),
        ..SqsAdapterConfig::default()
    }
}

#[tokio::test]
async fn standard_batch_reports_exactly_the_messages_to_retry() {
    let s = setup(parking(), true);
    let (response, report) = s
        .adapter
        .handle_with_report(fixture("sqs-standard.json"), in_a_minute())
        .await;
    // transient, in-batch duplicate of an in-progress event, panic
    assert_eq!(failures(&response), vec!["m-transient", "m-dup", "m-panic"]);
    let outcome = |id: &str| {
        report
            .outcomes
            .iter()
            .find(|(m, _)| m == id)
            .map(|(_, o)| o.clone())
            .unwrap()
    };
    assert_eq!(outcome("m-ok"), Outcome::Handled);
    assert_eq!(outcome("m-customer"), Outcome::Handled);
    assert_eq!(
        outcome("m-poison"),
        Outcome::Parked {
            kind: "invalid_envelope".into()
        }
    );
    assert_eq!(
        outcome("m-permanent"),
        Outcome::Parked {
            kind: "rejected_by_erp".into()
        }
    );
    assert_eq!(
        outcome("m-v1"),
        Outcome::Parked {
            kind: "upcast_failed".into()
        }
    );
    // the handler never ran for undecodable messages or the duplicate
    let calls: BTreeSet<String> = s.handler.calls().into_iter().collect();
    let expected: BTreeSet<String> = [
        "e-ok",
        "e-transient",
        "e-permanent",
        "e-panic",
        "e-customer",
    ]
    .map(String::from)
    .into();
    assert_eq!(calls, expected);
}

#[tokio::test]
async fn parked_messages_carry_their_reason_attributes() {
    let s = setup(parking(), false);
    s.adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    let parked = s.sqs.sent();
    let ids: Vec<&str> = parked
        .iter()
        .map(|m| m.attributes[attributes::ORIGINAL_MESSAGE_ID].as_str())
        .collect();
    assert_eq!(
        ids.iter().copied().collect::<BTreeSet<_>>(),
        BTreeSet::from(["m-poison", "m-permanent", "m-v1"])
    );
    for m in &parked {
        assert_eq!(m.queue_url, PARK_URL);
        assert_eq!(m.attributes[attributes::SOURCE], "erp-sync");
        assert_eq!(m.attributes[attributes::FUNCTION], "erp-sync");
        assert!(!m.attributes[attributes::REASON].is_empty());
        assert_eq!(m.group_id, None, "standard park queue");
    }
    let poison = parked
        .iter()
        .find(|m| m.attributes[attributes::ORIGINAL_MESSAGE_ID] == "m-poison")
        .unwrap();
    assert_eq!(
        poison.body, "this is not json",
        "the original body is parked unchanged"
    );
    assert_eq!(poison.attributes[attributes::KIND], "invalid_envelope");
    let v1 = parked
        .iter()
        .find(|m| m.attributes[attributes::ORIGINAL_MESSAGE_ID] == "m-v1")
        .unwrap();
    assert!(
        v1.attributes[attributes::REASON].contains("no currency"),
        "{:?}",
        v1.attributes
    );
    let rejected = parked
        .iter()
        .find(|m| m.attributes[attributes::ORIGINAL_MESSAGE_ID] == "m-permanent")
        .unwrap();
    assert!(rejected.attributes[attributes::REASON].contains("422"));
}

#[tokio::test]
async fn a_failed_park_reports_the_message_failed_instead_of_dropping_it() {
    let s = setup(parking(), false);
    s.sqs.fail_sends(true);
    let response = s
        .adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    let f: BTreeSet<String> = failures(&response).into_iter().collect();
    for id in ["m-poison", "m-permanent", "m-v1", "m-transient", "m-panic"] {
        assert!(f.contains(id), "{id} missing from {f:?}");
    }
    assert!(!f.contains("m-ok"));
}

#[tokio::test]
async fn without_a_park_target_permanent_failures_are_retried_for_the_redrive_policy() {
    let s = setup(SqsAdapterConfig::default(), false);
    let response = s
        .adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    let f: BTreeSet<String> = failures(&response).into_iter().collect();
    assert!(f.contains("m-poison") && f.contains("m-permanent"));
    assert!(s.sqs.sent().is_empty());
}

#[tokio::test]
async fn completed_duplicates_are_acknowledged_without_running() {
    let s = setup(parking(), true);
    s.adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    let first_calls = s.handler.calls().len();
    // redelivery of the whole batch: m-ok and m-dup (same event e-ok) and
    // m-customer are completed duplicates now; failures run again
    let response = s
        .adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    assert_eq!(failures(&response), vec!["m-transient", "m-panic"]);
    let again: Vec<String> = s.handler.calls()[first_calls..].to_vec();
    assert!(
        !again.contains(&"e-ok".to_owned()) && !again.contains(&"e-customer".to_owned()),
        "{again:?}"
    );
    assert!(
        again.contains(&"e-transient".to_owned()),
        "released claims run again: {again:?}"
    );
}

#[tokio::test]
async fn fifo_stops_a_group_at_its_first_failure_and_other_groups_continue() {
    let s = setup(parking(), true);
    let response = s
        .adapter
        .handle(fixture("sqs-fifo.json"), in_a_minute())
        .await;
    assert_eq!(failures(&response), vec!["m-a2", "m-a3"]);
    let calls = s.handler.calls();
    assert!(
        !calls.contains(&"e-a3".to_owned()),
        "a3 must not run after a2 failed: {calls:?}"
    );
    let a: Vec<&String> = calls.iter().filter(|c| c.starts_with("e-a")).collect();
    let b: Vec<&String> = calls.iter().filter(|c| c.starts_with("e-b")).collect();
    assert_eq!(a, vec!["e-a1", "e-a2"]);
    assert_eq!(b, vec!["e-b1", "e-b2"]);
    // a3's claim was released: on redelivery it runs
    s.adapter
        .handle(fixture("sqs-fifo.json"), in_a_minute())
        .await;
    assert!(
        !s.handler.calls().contains(&"e-a3".to_owned()),
        "a2 still fails, so a3 still waits"
    );
}

#[tokio::test]
async fn fifo_parks_keep_the_message_group() {
    let handler = Scripted::default();
    let sqs = InMemorySqs::new();
    let config = SqsAdapterConfig {
        park_queue_url: Some(format!("{PARK_URL}.fifo")),
        ..SqsAdapterConfig::default()
    };
    let adapter = SqsAdapter::new(
        handler,
        "erp-sync",
        config,
        Some(Arc::new(sqs.clone()) as Arc<dyn SqsApi>),
    );
    let mut event = fixture("sqs-fifo.json");
    event.records[1].body = Some("{}".into());
    let response = adapter.handle(event, in_a_minute()).await;
    assert_eq!(failures(&response), vec!["m-a2", "m-a3"]);
    let parked = sqs.sent();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].group_id.as_deref(), Some("customer-b"));
    assert_eq!(parked[0].deduplication_id.as_deref(), Some("m-b1"));
}

#[tokio::test]
async fn a_panic_fails_only_its_own_message() {
    let s = setup(parking(), false);
    let response = s
        .adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    assert!(failures(&response).contains(&"m-panic".to_owned()));
    assert!(!failures(&response).contains(&"m-ok".to_owned()));
}

#[tokio::test]
async fn deadline_near_starts_nothing_and_reports_everything_decodable_failed() {
    let s = setup(parking(), true);
    let deadline = SystemTime::now() + Duration::from_millis(500); // under the 2 s margin
    let response = s
        .adapter
        .handle(fixture("sqs-standard.json"), deadline)
        .await;
    assert!(s.handler.calls().is_empty());
    // decodable messages are reported; poison is still parked (no handler needed)
    let f: BTreeSet<String> = failures(&response).into_iter().collect();
    assert!(
        f.contains("m-ok") && f.contains("m-customer") && !f.contains("m-poison"),
        "{f:?}"
    );
    // their claims were released: a later invocation runs them
    let response = s
        .adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    assert!(!failures(&response).contains(&"m-ok".to_owned()));
    assert!(s.handler.calls().contains(&"e-ok".to_owned()));
}

#[tokio::test]
async fn a_slow_handler_is_cut_off_before_the_deadline() {
    let s = setup(
        SqsAdapterConfig {
            deadline_margin_ms: 100,
            ..parking()
        },
        false,
    );
    let mut event = fixture("sqs-standard.json");
    event.records.truncate(1);
    event.records[0].body = event.records[0]
        .body
        .as_ref()
        .map(|b| b.replace("SO-1", "SLOW"));
    let started = std::time::Instant::now();
    let deadline = SystemTime::now() + Duration::from_millis(250);
    let response = s.adapter.handle(event, deadline).await;
    assert_eq!(failures(&response), vec!["m-ok"]);
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "returned before the deadline"
    );
}

#[tokio::test]
async fn transient_failures_back_off_by_receive_count() {
    let config = SqsAdapterConfig {
        backoff: Some(BackoffConfig {
            base_secs: 5,
            factor: 2,
            cap_secs: 600,
        }),
        ..parking()
    };
    let s = setup(config, false);
    s.adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    let changes = s.sqs.visibility_changes();
    let by_receipt: Vec<(String, u64)> = changes
        .iter()
        .map(|(_, c)| (c.receipt_handle.clone(), c.timeout.as_secs()))
        .collect();
    // m-transient is on its 3rd receive: 5 × 2² = 20 s; m-panic on its 1st: 5 s
    assert_eq!(
        by_receipt,
        vec![
            ("rh-m-transient".to_owned(), 20),
            ("rh-m-panic".to_owned(), 5)
        ]
    );
    assert!(
        changes
            .iter()
            .all(|(arn, _)| arn == "arn:aws:sqs:us-east-1:123456789012:erp-sync")
    );
}

#[tokio::test]
async fn the_context_carries_attempt_correlation_and_deadline() {
    let s = setup(parking(), false);
    let deadline = in_a_minute();
    s.adapter
        .handle(fixture("sqs-standard.json"), deadline)
        .await;
    let contexts = s.handler.contexts.lock().unwrap().clone();
    let transient = contexts
        .iter()
        .find(|c| c.message_id == "m-transient")
        .unwrap();
    assert_eq!(transient.delivery_attempt, 3);
    assert_eq!(transient.correlation_id, "corr-e-transient");
    assert_eq!(transient.deadline, deadline);
    assert_eq!(&*transient.function_name, "erp-sync");
}

#[tokio::test]
async fn v1_orders_are_upcast_when_the_currency_is_configured() {
    let s = setup(parking(), false);
    let adapter = s.adapter.with_decode_options(DecodeOptions {
        order_placed_v1_currency: Some("EUR".parse().unwrap()),
    });
    let response = adapter
        .handle(fixture("sqs-standard.json"), in_a_minute())
        .await;
    assert!(!failures(&response).contains(&"m-v1".to_owned()));
    assert!(s.handler.calls().contains(&"e-v1".to_owned()));
}

#[tokio::test]
async fn bare_payloads_are_accepted_per_config_and_deduplicated_by_content() {
    let config = SqsAdapterConfig {
        bare_payload: Some(switchyard_triggers::BarePayload {
            event_type: "customer.updated".into(),
            version: 1,
            source: "legacy-crm".into(),
        }),
        ..parking()
    };
    let s = setup(config, true);
    let mut event = fixture("sqs-standard.json");
    event.records.truncate(2);
    let body = r#"{"customerId":"C-9","displayName":"Grace","updatedAt":"2026-11-20T08:59:00Z"}"#;
    event.records[0].body = Some(body.into());
    event.records[1].body = Some(body.into());
    let response = s.adapter.handle(event, in_a_minute()).await;
    // same content → same event id → the second is an in-progress duplicate
    assert_eq!(failures(&response), vec!["m-poison"]);
    assert_eq!(s.handler.calls().len(), 1);
    assert!(s.handler.calls()[0].starts_with("bare-"));
}

#[tokio::test]
async fn an_unreachable_idempotency_store_fails_closed() {
    let handler = Scripted::default();
    // a real Redis client pointed at a closed loopback port
    let store = switchyard_idempotency::RedisStore::open(
        "redis://127.0.0.1:1/",
        StoreOptions::default(),
        switchyard_idempotency::RedisOptions::default(),
    )
    .unwrap();
    let adapter = SqsAdapter::new(handler.clone(), "erp-sync", parking(), None).with_idempotency(
        Idempotency {
            config: IdempotencyConfig::for_function("erp-sync"),
            store: Arc::new(store),
        },
    );
    let mut event = fixture("sqs-standard.json");
    event.records.truncate(1);
    let response = adapter.handle(event, in_a_minute()).await;
    assert_eq!(failures(&response), vec!["m-ok"]);
    assert!(
        handler.calls().is_empty(),
        "nothing runs when the store cannot say it is new"
    );
}

#[tokio::test]
async fn events_delivered_by_an_eventbridge_rule_are_unwrapped() {
    let s = setup(parking(), false);
    let mut event = fixture("sqs-standard.json");
    event.records.truncate(1);
    let envelope: serde_json::Value =
        serde_json::from_str(event.records[0].body.as_deref().unwrap()).unwrap();
    let wrapped = serde_json::json!({
        "version": "0", "id": "eb-1", "detail-type": "order.placed", "source": "switchyard/tests",
        "account": "123456789012", "time": "2026-11-20T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": envelope
    });
    event.records[0].body = Some(wrapped.to_string());
    let response = s.adapter.handle(event, in_a_minute()).await;
    assert!(failures(&response).is_empty());
    assert_eq!(s.handler.calls(), vec!["e-ok"]);
}
