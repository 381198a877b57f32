//! erp-sync publishes `erp.order-synced` once per batch: a batch of 10
//! handled orders makes exactly one `PutEvents` call to moto's EventBridge,
//! and when one entry of that call is refused only its order is retried —
//! the others complete, and the retry publishes the missing event alone,
//! with the same id. The events arrive through a rule on a queue, each once.
//! Needs moto (AWS_ENDPOINT_URL).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::Value;
use switchyard_config::Settings;
use switchyard_local::erp::ErpStub;
use switchyard_publish::eventbridge::{EventBridgeEntry, PutEventsApi};
use switchyard_publish::{
    CallError, EntryFailure, EntryResult, EventBridgeConfig, EventBridgePublisher, Publisher,
};
use switchyard_testkit::moto::{BusToQueue, receive};
use switchyard_triggers::registry::{App, MessageApp, Platform, Resources, Trigger};

mod common;

/// The real client on moto, counting calls; refuses (without sending) the
/// entries whose detail names a cause in `refuse`.
#[derive(Clone)]
struct Counted {
    client: aws_sdk_eventbridge::Client,
    calls: Arc<Mutex<Vec<usize>>>,
    refuse: Arc<Mutex<Vec<String>>>,
}

#[async_trait::async_trait]
impl PutEventsApi for Counted {
    async fn put_events(
        &self,
        bus: &str,
        entries: Vec<EventBridgeEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        self.calls.lock().unwrap().push(entries.len());
        let refuse = self.refuse.lock().unwrap().clone();
        let refused = |e: &EventBridgeEntry| {
            refuse
                .iter()
                .any(|cause| e.detail.contains(&format!("\"causationid\":\"{cause}\"")))
        };
        let (send, positions): (Vec<EventBridgeEntry>, Vec<usize>) = entries
            .iter()
            .enumerate()
            .filter(|(_, e)| !refused(e))
            .map(|(i, e)| (e.clone(), i))
            .unzip();
        let mut sent = if send.is_empty() {
            Vec::new()
        } else {
            PutEventsApi::put_events(&self.client, bus, send).await?
        }
        .into_iter();
        let mut results = Vec::with_capacity(entries.len());
        for i in 0..entries.len() {
            if positions.contains(&i) {
                results.push(sent.next().unwrap_or(Ok(None)));
            } else {
                results.push(Err(EntryFailure::permanent(
                    "ValidationException",
                    "refused by the test",
                )));
            }
        }
        Ok(results)
    }
}

fn batch(orders: impl IntoIterator<Item = usize>, receive_count: u32) -> SqsEvent {
    let mut event = SqsEvent::default();
    for i in orders {
        let mut m = SqsMessage::default();
        m.message_id = Some(format!("m-{i:03}"));
        m.receipt_handle = Some(format!("rh-{i:03}"));
        m.body = Some(common::order_envelope(i).to_string());
        m.event_source_arn = Some("arn:aws:sqs:us-east-1:123456789012:erp-sync".to_owned());
        m.attributes.insert(
            "ApproximateReceiveCount".to_owned(),
            receive_count.to_string(),
        );
        event.records.push(m);
    }
    event
}

async fn run(app: &Arc<dyn MessageApp>, event: SqsEvent) -> Vec<String> {
    let deadline = SystemTime::now() + Duration::from_secs(30);
    let (response, _) = app
        .sqs(event.into(), deadline)
        .await
        .expect("an SQS trigger");
    response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_put_events_call_per_batch_and_a_refused_entry_retries_only_its_order() {
    let aws = switchyard_testkit::aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&aws);
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let wiring = BusToQueue::create(&eb, &sqs, r#"{"detail-type": ["erp.order-synced"]}"#).await;
    let table = common::idempotency_table(&aws).await;
    let erp = ErpStub::start().await;

    let client = Counted {
        client: eb.clone(),
        calls: Arc::default(),
        refuse: Arc::default(),
    };
    let function = switchyard_erp_sync::function();
    let settings = Settings::from_pairs([
        ("ERP_BASE_URL", erp.base_url()),
        ("SWITCHYARD_IDEMPOTENCY", format!("dynamodb:{table}")),
    ])
    .scoped(function.name);
    let publisher =
        EventBridgePublisher::with_client(client.clone(), EventBridgeConfig::new(&wiring.bus));
    let platform = Platform {
        store: Some(
            switchyard_runtime::open_store(&function, &settings, Some(&aws))
                .expect("open the store"),
        ),
        settings,
        publisher: Arc::new(publisher) as Arc<dyn Publisher>,
        sqs: None,
        servicebus: None,
        triggers: vec![Trigger::Sqs],
        resources: Resources::new(),
    };
    let App::Messages(app) = function.build(&platform).await.expect("build erp-sync") else {
        panic!("erp-sync is a message function");
    };

    // a batch of 10 orders: one PutEvents call with 10 entries
    assert!(run(&app, batch(0..10, 1)).await.is_empty());
    assert_eq!(*client.calls.lock().unwrap(), vec![10]);

    // the next batch: order 13's entry is refused; only m-013 is retried
    client
        .refuse
        .lock()
        .unwrap()
        .push("evt-order-013".to_owned());
    assert_eq!(run(&app, batch(10..20, 1)).await, ["m-013"]);
    assert_eq!(*client.calls.lock().unwrap(), vec![10, 10]);

    // the redelivery of the whole batch (as after a crash): nine duplicates,
    // and order 13 publishes its event alone
    client.refuse.lock().unwrap().clear();
    assert!(run(&app, batch(10..20, 2)).await.is_empty());
    assert_eq!(*client.calls.lock().unwrap(), vec![10, 10, 1]);

    // 20 events arrived, one per order, each caused by its order, ids stable
    let messages = receive(
        &sqs,
        &wiring.queue.url,
        20,
        Duration::from_secs(2),
        Duration::from_secs(30),
    )
    .await;
    wiring.delete(&eb, &sqs).await;
    let mut by_cause: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for m in &messages {
        let event: Value = serde_json::from_str(m.body().unwrap_or_default()).unwrap();
        let detail = event["detail"].clone();
        let cause = detail["causationid"].as_str().unwrap().to_owned();
        by_cause.entry(cause).or_default().push(detail);
    }
    let expected: Vec<String> = (0..20).map(|i| format!("evt-order-{i:03}")).collect();
    assert_eq!(by_cause.keys().cloned().collect::<Vec<_>>(), expected);
    assert!(by_cause.values().all(|v| v.len() == 1), "each event once");
    // the ERP saw order 13 twice (same Idempotency-Key), every other once
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for call in erp.calls() {
        *accepted.entry(call.id).or_default() += 1;
    }
    assert_eq!(accepted.get("O-013"), Some(&2));
    assert_eq!(accepted.values().filter(|n| **n == 1).count(), 19);
}
