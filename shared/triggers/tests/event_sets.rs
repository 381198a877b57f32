//! The open handler seam: a closure over one event type, the per-function
//! policy for events outside the set, and events returned for publishing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::SqsEvent;
use switchyard_contracts::events::{ErpOrderSyncedV1, OrderPlacedV2, SyncOutcome};
use switchyard_contracts::{DecodeOptions, Envelope};
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_publish::{
    InMemoryPublisher, OutgoingEvent, PublishError, PublishOutcome, Publisher, to_outgoing,
};
use switchyard_testkit::esm::sqs_event;
use switchyard_triggers::sqs::{InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{
    Context, Handled, Handler, HandlerError, Idempotency, Outcome, Unsubscribed, handler_fn,
};

/// The source queue of the test batches.
const ORDERS_QUEUE: &str = "arn:aws:sqs:us-east-1:000000000000:orders";

fn envelope(id: &str, event_type: &str, version: u32, data: serde_json::Value) -> String {
    serde_json::json!({
        "specversion": "1.0", "id": id, "source": "test", "type": event_type,
        "time": "2026-11-20T09:00:00Z", "datacontenttype": "application/json",
        "dataschema": format!("urn:switchyard:schema:{event_type}:v{version}"),
        "dataversion": version, "correlationid": format!("corr-{id}"), "data": data,
    })
    .to_string()
}

fn order(id: &str) -> String {
    envelope(
        id,
        "order.placed",
        2,
        serde_json::json!({"orderId": format!("O-{id}"), "customerId": "C-1", "currency": "EUR",
            "lines": [], "total": "10.00", "placedAt": "2026-11-20T08:59:00Z"}),
    )
}

fn order_v1(id: &str) -> String {
    envelope(
        id,
        "order.placed",
        1,
        serde_json::json!({"orderId": format!("O-{id}"), "customerId": "C-1",
            "totalAmount": "10.00", "placedAt": "2026-11-20T08:59:00Z"}),
    )
}

fn customer(id: &str) -> String {
    envelope(
        id,
        "customer.updated",
        1,
        serde_json::json!({"customerId": "C-1", "displayName": "Contoso", "changedFields": [],
            "updatedAt": "2026-11-20T08:59:00Z"}),
    )
}

fn soon() -> SystemTime {
    SystemTime::now() + Duration::from_secs(30)
}

fn idempotency() -> Idempotency {
    Idempotency {
        config: IdempotencyConfig::for_function("orders"),
        store: Arc::new(MemoryStore::new(StoreOptions::default())),
    }
}

fn parking(sqs: &InMemorySqs) -> (SqsAdapterConfig, Option<Arc<dyn SqsApi>>) {
    (
        SqsAdapterConfig {
            park_queue_url: Some("local:park".to_owned()),
            ..SqsAdapterConfig::default()
        },
        Some(Arc::new(sqs.clone()) as Arc<dyn SqsApi>),
    )
}

#[tokio::test]
async fn a_closure_over_one_event_type_is_a_handler_and_reads_upcast_versions() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let handler = handler_fn(move |event: Envelope<OrderPlacedV2>, ctx: Context| {
        let record = record.clone();
        async move {
            record
                .lock()
                .unwrap()
                .push((event.data.order_id.clone(), ctx.function_name.to_string()));
            Ok::<_, HandlerError>(event.data.total.to_string())
        }
    });
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(handler, "orders", config, api)
        .with_decode_options(DecodeOptions {
            order_placed_v1_currency: Some("EUR".parse().unwrap()),
        })
        .with_idempotency(idempotency());
    let (response, report) = adapter
        .handle_with_report(
            sqs_event(
                ORDERS_QUEUE,
                &[("a", order("a")), ("b", order_v1("b")), ("a2", order("a"))],
            ),
            soon(),
        )
        .await;
    let outcomes: Vec<Outcome> = report.outcomes.into_iter().map(|(_, o)| o).collect();
    assert_eq!(outcomes[0], Outcome::Handled);
    assert_eq!(outcomes[1], Outcome::Handled);
    // the same envelope id twice in one batch: the second is not run but retried
    assert!(
        matches!(outcomes[2], Outcome::Retry { .. }),
        "{:?}",
        outcomes[2]
    );
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![
            ("O-a".to_owned(), "orders".to_owned()),
            ("O-b".to_owned(), "orders".to_owned())
        ]
    );
}

#[tokio::test]
async fn events_outside_the_set_are_parked_by_default_with_their_reason() {
    let handler = handler_fn(
        |_event: Envelope<OrderPlacedV2>, _ctx: Context| async move { Ok::<_, HandlerError>(()) },
    );
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(handler, "orders", config, api);
    let (response, report) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &[("c", customer("c"))]), soon())
        .await;
    assert!(
        response.batch_item_failures.is_empty(),
        "parked, not retried"
    );
    assert_eq!(
        report.outcomes[0].1,
        Outcome::Parked {
            kind: "not_subscribed".into()
        }
    );
    let parked = sqs.sent();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body, customer("c"), "the original body is kept");
}

#[tokio::test]
async fn events_outside_the_set_are_acknowledged_when_the_policy_is_ignore() {
    let calls = Arc::new(Mutex::new(0));
    let counter = calls.clone();
    let handler = handler_fn(move |_event: Envelope<OrderPlacedV2>, _ctx: Context| {
        let counter = counter.clone();
        async move {
            *counter.lock().unwrap() += 1;
            Ok::<_, HandlerError>(())
        }
    });
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(handler, "orders", config, api)
        .with_pipeline(|p| p.with_unsubscribed(Unsubscribed::Ignore));
    let (response, report) = adapter
        .handle_with_report(
            sqs_event(ORDERS_QUEUE, &[("c", customer("c")), ("o", order("o"))]),
            soon(),
        )
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        report.outcomes[0].1,
        Outcome::Ignored {
            event_type: "customer.updated".into()
        }
    );
    assert_eq!(report.outcomes[1].1, Outcome::Handled);
    assert_eq!(*calls.lock().unwrap(), 1);
    assert!(sqs.sent().is_empty(), "nothing parked");
}

/// An `erp.order-synced` for `order` with id `id`, ready to publish.
fn synced(order: &OrderPlacedV2, id: String) -> Result<OutgoingEvent, HandlerError> {
    let synced = Envelope::new(
        "test/syncs",
        ErpOrderSyncedV1 {
            order_id: order.order_id.clone(),
            erp_order_number: format!("ERP-{}", order.order_id),
            outcome: SyncOutcome::Created,
            synced_at: chrono::Utc::now(),
            origin: order.origin.clone(),
        },
    )
    .with_id(id);
    to_outgoing(&synced).map_err(|e| HandlerError::permanent("encode", e.to_string()))
}

/// Returns `erp.order-synced` for publishing instead of publishing inline.
struct Syncs;

#[async_trait::async_trait]
impl Handler for Syncs {
    type Event = OrderPlacedV2;
    type Output = String;

    async fn handle(
        &self,
        event: Envelope<OrderPlacedV2>,
        _ctx: Context,
    ) -> Result<Handled<String>, HandlerError> {
        let outgoing = synced(&event.data, format!("synced-{}", event.id))?;
        Ok(Handled::new(outgoing.id.clone()).publishing(outgoing))
    }
}

#[tokio::test]
async fn returned_events_are_published_with_the_cause_before_the_message_is_done() {
    let publisher = InMemoryPublisher::new();
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(Syncs, "orders", config, api)
        .with_idempotency(idempotency())
        .with_pipeline(|p| p.with_publisher(Arc::new(publisher.clone())));

    // the first publish fails: the message is retried, not completed
    publisher.fail_next(1, "ThrottlingException");
    let (response, _) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &[("a", order("a"))]), soon())
        .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(publisher.published().is_empty());

    // the retry publishes the same event id once, caused by the order
    let (response, _) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &[("a", order("a"))]), soon())
        .await;
    assert!(response.batch_item_failures.is_empty());
    let published = publisher.published();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].id, "synced-a");
    assert_eq!(published[0].causationid.as_deref(), Some("a"));
    assert_eq!(published[0].correlationid, "corr-a");

    // a redelivery after completion is a duplicate: nothing published again
    let (_, report) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &[("a", order("a"))]), soon())
        .await;
    assert_eq!(report.outcomes[0].1, Outcome::Duplicate);
    assert_eq!(publisher.published().len(), 1);
}

#[tokio::test]
async fn returned_events_without_a_publisher_are_retried_not_lost() {
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(Syncs, "orders", config, api);
    let (response, report) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &[("a", order("a"))]), soon())
        .await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert!(
        matches!(&report.outcomes[0].1, Outcome::Retry { reason } if reason.contains("no publisher"))
    );
}

/// Counts the calls made to the publisher it wraps.
#[derive(Clone, Default)]
struct Counting {
    inner: InMemoryPublisher,
    calls: Arc<Mutex<Vec<usize>>>,
}

#[async_trait::async_trait]
impl Publisher for Counting {
    async fn publish(
        &self,
        events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        self.calls.lock().unwrap().push(events.len());
        self.inner.publish(events).await
    }
}

/// Returns two events per order: `synced-<id>` and `noted-<id>`.
struct TwoEvents;

#[async_trait::async_trait]
impl Handler for TwoEvents {
    type Event = OrderPlacedV2;
    type Output = String;

    async fn handle(
        &self,
        event: Envelope<OrderPlacedV2>,
        _ctx: Context,
    ) -> Result<Handled<String>, HandlerError> {
        let mut handled = Handled::new(event.id.clone());
        for prefix in ["synced", "noted"] {
            let out = synced(&event.data, format!("{prefix}-{}", event.id))?;
            handled = handled.publishing(out);
        }
        Ok(handled)
    }
}

fn redelivered(mut event: SqsEvent) -> SqsEvent {
    for m in &mut event.records {
        m.attributes
            .insert("ApproximateReceiveCount".to_owned(), "2".to_owned());
    }
    event
}

fn ids(publisher: &InMemoryPublisher) -> Vec<String> {
    publisher.published().into_iter().map(|e| e.id).collect()
}

#[tokio::test]
async fn a_batch_of_ten_publishes_in_one_call_each_event_caused_by_its_message() {
    let publisher = Counting::default();
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(Syncs, "orders", config, api)
        .with_idempotency(idempotency())
        .with_pipeline(|p| p.with_publisher(Arc::new(publisher.clone())));
    let names: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    let bodies: Vec<(&str, String)> = names.iter().map(|n| (n.as_str(), order(n))).collect();

    let (response, report) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &bodies), soon())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert!(report.outcomes.iter().all(|(_, o)| *o == Outcome::Handled));
    assert_eq!(
        *publisher.calls.lock().unwrap(),
        vec![10],
        "one call of 10 events"
    );
    for event in publisher.inner.published() {
        let cause = event.id.strip_prefix("synced-").unwrap();
        assert_eq!(event.causationid.as_deref(), Some(cause));
        assert_eq!(event.correlationid, format!("corr-{cause}"));
    }

    // every claim was completed: the redelivery runs nothing and publishes nothing
    let (_, report) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &bodies), soon())
        .await;
    assert!(
        report
            .outcomes
            .iter()
            .all(|(_, o)| *o == Outcome::Duplicate)
    );
    assert_eq!(publisher.calls.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_event_retries_only_its_message_and_the_retry_skips_what_was_accepted() {
    let publisher = InMemoryPublisher::new();
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(TwoEvents, "orders", config, api)
        .with_idempotency(idempotency())
        .with_pipeline(|p| p.with_publisher(Arc::new(publisher.clone())));
    let bodies = [("a", order("a")), ("b", order("b")), ("c", order("c"))];

    // the first event of the flush (a's `synced-a`) is refused
    publisher.fail_next(1, "ThrottlingException");
    let (response, report) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &bodies), soon())
        .await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["a"],
        "only the message with a refused event is retried"
    );
    assert!(
        matches!(&report.outcomes[0].1, Outcome::Retry { reason } if reason.contains("1 of 2 events") && reason.contains("ThrottlingException")),
        "{:?}",
        report.outcomes[0]
    );
    assert_eq!(
        ids(&publisher),
        ["noted-a", "synced-b", "noted-b", "synced-c", "noted-c"]
    );

    // the retry publishes only the refused event; `noted-a` is not sent twice
    let (response, report) = adapter
        .handle_with_report(redelivered(sqs_event(ORDERS_QUEUE, &bodies[..1])), soon())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(report.outcomes[0].1, Outcome::Handled);
    assert_eq!(
        ids(&publisher),
        [
            "noted-a", "synced-b", "noted-b", "synced-c", "noted-c", "synced-a"
        ]
    );
}

#[tokio::test]
async fn a_publisher_that_is_down_retries_every_message_that_has_events() {
    let publisher = InMemoryPublisher::new();
    let sqs = InMemorySqs::new();
    let (config, api) = parking(&sqs);
    let adapter = SqsAdapter::new(TwoEvents, "orders", config, api)
        .with_idempotency(idempotency())
        .with_pipeline(|p| p.with_publisher(Arc::new(publisher.clone())));
    let bodies = [("a", order("a")), ("b", order("b"))];
    publisher.fail_next(4, "InternalException");
    let (response, _) = adapter
        .handle_with_report(sqs_event(ORDERS_QUEUE, &bodies), soon())
        .await;
    assert_eq!(response.batch_item_failures.len(), 2);
    // the claims were released: the retry runs and publishes everything once
    let (response, _) = adapter
        .handle_with_report(redelivered(sqs_event(ORDERS_QUEUE, &bodies)), soon())
        .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        ids(&publisher),
        ["synced-a", "noted-a", "synced-b", "noted-b"]
    );
}
