//! The ordering guard over the SQS adapter and the in-memory store:
//! reordered `customer.updated` deliveries, in one batch and across
//! batches, with retries; stale ones acknowledged without running.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::json;
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_triggers::sqs::{InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{EntityKey, Idempotency, OrderedBy, OrderingGuard, Outcome, PositionOf};

mod common;
use common::Scripted;

const RULES: &[OrderedBy] = &[OrderedBy::new(
    "customer.updated",
    EntityKey::Field("/customerId"),
    PositionOf::Field("/updatedAt"),
)];

fn update(id: &str, customer: &str, minute: u32) -> String {
    json!({
        "specversion": "1.0", "id": id, "source": "switchyard/tests",
        "type": "customer.updated", "time": "2026-11-20T10:30:00Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:customer.updated:v1",
        "dataversion": 1, "correlationid": id,
        "data": {
            "customerId": customer, "displayName": format!("v{minute}"),
            "changedFields": ["displayName"],
            "updatedAt": format!("2026-11-20T10:{minute:02}:00Z")
        }
    })
    .to_string()
}

/// The position of 10:<minute> on the test day: epoch nanoseconds.
fn at(minute: u32) -> u64 {
    let t =
        chrono::DateTime::parse_from_rfc3339(&format!("2026-11-20T10:{minute:02}:00Z")).unwrap();
    u64::try_from(t.timestamp_nanos_opt().unwrap()).unwrap()
}

fn batch(bodies: &[(&str, String)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (id, body) in bodies {
        let mut m = SqsMessage::default();
        m.message_id = Some((*id).to_owned());
        m.body = Some(body.clone());
        m.event_source_arn = Some("arn:aws:sqs:us-east-1:1:erp-sync".to_owned());
        event.records.push(m);
    }
    event
}

/// An adapter guarded by `rules`, over a fresh in-memory store.
fn adapter(handler: &Scripted, rules: &'static [OrderedBy]) -> SqsAdapter<Scripted> {
    let store = Arc::new(MemoryStore::new(StoreOptions::default()));
    let guard = OrderingGuard {
        rules,
        store: store.clone(),
        prefix: "erp-sync".to_owned(),
        keep_for: Duration::from_secs(3600),
    };
    SqsAdapter::new(
        handler.clone(),
        "erp-sync",
        SqsAdapterConfig {
            park_queue_url: Some("http://127.0.0.1:1/000000000000/park".to_owned()),
            ..SqsAdapterConfig::default()
        },
        Some(Arc::new(InMemorySqs::new()) as Arc<dyn SqsApi>),
    )
    .with_idempotency(Idempotency {
        config: IdempotencyConfig::for_function("erp-sync"),
        store,
    })
    .with_pipeline(|p| p.with_ordering(guard))
}

/// A handler behind an adapter with erp-sync's rule.
fn guarded() -> (Scripted, SqsAdapter<Scripted>) {
    let handler = Scripted::default();
    let adapter = adapter(&handler, RULES);
    (handler, adapter)
}

fn in_a_minute() -> SystemTime {
    SystemTime::now() + Duration::from_secs(60)
}

#[tokio::test]
async fn older_updates_are_stale_in_one_batch_and_across_batches() {
    let (handler, adapter) = guarded();
    let (response, report) = adapter
        .handle_with_report(
            batch(&[
                ("m3", update("e3", "C-1", 3)),
                ("m5", update("e5", "C-1", 5)),
                ("m1", update("e1", "C-2", 1)),
            ]),
            in_a_minute(),
        )
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        report.outcomes[0].1,
        Outcome::Stale {
            entity: "C-1".to_owned(),
            position: at(3),
            newest: at(5),
        },
        "10:03 is older than 10:05 in the same batch"
    );
    assert_eq!(report.outcomes[1].1, Outcome::Handled);
    assert_eq!(report.outcomes[2].1, Outcome::Handled, "another customer");
    assert_eq!(handler.calls(), vec!["e5", "e1"]);

    // A later batch: 10:04 is stale against the stored 10:05 ...
    let (_, report) = adapter
        .handle_with_report(batch(&[("m4", update("e4", "C-1", 4))]), in_a_minute())
        .await;
    assert!(
        matches!(report.outcomes[0].1, Outcome::Stale { newest, .. } if newest == at(5)),
        "{:?}",
        report.outcomes
    );
    // ... 10:06 applies
    let (_, report) = adapter
        .handle_with_report(batch(&[("m6", update("e6", "C-1", 6))]), in_a_minute())
        .await;
    assert_eq!(report.outcomes[0].1, Outcome::Handled);
    // and a redelivery of the stale one is stale again, never applied
    let (_, report) = adapter
        .handle_with_report(batch(&[("m4", update("e4", "C-1", 4))]), in_a_minute())
        .await;
    assert!(matches!(report.outcomes[0].1, Outcome::Stale { .. }));
    assert_eq!(handler.calls(), vec!["e5", "e1", "e6"]);
}

#[tokio::test]
async fn a_newer_update_that_fails_is_retried_and_older_ones_stay_stale() {
    let (handler, adapter) = guarded();
    // Scripted fails customer FAIL-TRANSIENT transiently.
    let (response, _) = adapter
        .handle_with_report(
            batch(&[("m9", update("e9", "FAIL-TRANSIENT", 9))]),
            in_a_minute(),
        )
        .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    let (_, report) = adapter
        .handle_with_report(
            batch(&[("m2", update("e2", "FAIL-TRANSIENT", 2))]),
            in_a_minute(),
        )
        .await;
    assert!(
        matches!(report.outcomes[0].1, Outcome::Stale { .. }),
        "the failed 10:09 keeps its place: 10:02 must not be applied meanwhile"
    );
    // the retry of 10:09 is admitted again (same position) and runs
    let (response, _) = adapter
        .handle_with_report(
            batch(&[("m9", update("e9", "FAIL-TRANSIENT", 9))]),
            in_a_minute(),
        )
        .await;
    assert_eq!(
        response.batch_item_failures.len(),
        1,
        "still failing, still retried"
    );
    assert_eq!(handler.calls(), vec!["e9", "e9"]);
}

#[tokio::test]
async fn an_update_without_its_position_is_parked() {
    let (handler, guarded) = guarded();
    let mut body: serde_json::Value = serde_json::from_str(&update("e1", "C-1", 1)).unwrap();
    body["data"]["updatedAt"] = json!("2026-11-20T10:01:00+01:00");
    // a valid RFC 3339 offset is fine
    let (_, report) = guarded
        .handle_with_report(batch(&[("m1", body.to_string())]), in_a_minute())
        .await;
    assert_eq!(report.outcomes[0].1, Outcome::Handled);
    // a rule reading a field the event lacks parks it with the reason
    const MISSING: &[OrderedBy] = &[OrderedBy::new(
        "customer.updated",
        EntityKey::Field("/customerId"),
        PositionOf::Field("/revision"),
    )];
    let strict = adapter(&handler, MISSING);
    let (_, report) = strict
        .handle_with_report(batch(&[("m2", update("e2", "C-1", 2))]), in_a_minute())
        .await;
    assert_eq!(
        report.outcomes[0].1,
        Outcome::Parked {
            kind: "ordering_key".to_owned()
        }
    );
}
