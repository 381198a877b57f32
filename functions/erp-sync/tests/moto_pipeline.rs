//! erp-sync against moto server SQS and DynamoDB, driven by a harness that
//! behaves like Lambda's event source mapping, over a queue whose
//! RedrivePolicy (maxReceiveCount 3) points at a DLQ that is also the park
//! target. 200 messages: 150 distinct orders (20 of which the ERP refuses
//! twice with 503 before accepting), 30 resent duplicates, 20 poison.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use serde_json::json;
use switchyard_config::Settings;
use switchyard_local::erp::ErpStub;
use switchyard_publish::sqs::AwsSqs;
use switchyard_publish::{InMemoryPublisher, Publisher};
use switchyard_testkit::esm::{EventSourceMapping, queue_depth};
use switchyard_triggers::park::attributes;
use switchyard_triggers::registry::{App, Platform, Resources, Trigger};
use switchyard_triggers::sqs::SqsApi;

mod common;
use common::order_envelope;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_messages_through_the_event_source_mapping() {
    let aws = switchyard_testkit::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (queue_url, dlq) = common::queue_with_dlq(&sqs, "erp-sync", 3).await;
    let dlq_url = dlq.url;
    let table = common::idempotency_table(&aws).await;

    let erp = ErpStub::start().await;
    for i in 0..20 {
        erp.fail_times(&format!("O-{i:03}"), 503, 2);
    }
    // the registered function, built by the same code as on Lambda, with
    // the settings a deployment sets
    let function = switchyard_erp_sync::function();
    let settings = Settings::from_pairs([
        ("ERP_BASE_URL", erp.base_url()),
        ("SWITCHYARD_IDEMPOTENCY", format!("dynamodb:{table}")),
        ("SWITCHYARD_PARK_QUEUE_URL", dlq_url.clone()),
    ])
    .scoped(function.name);
    let published = InMemoryPublisher::new();
    let platform = Platform {
        store: Some(
            switchyard_runtime::open_store(&function, &settings, Some(&aws))
                .expect("open the store"),
        ),
        settings,
        publisher: Arc::new(published.clone()) as Arc<dyn Publisher>,
        sqs: Some(Arc::new(AwsSqs::new(aws_sdk_sqs::Client::new(&aws))) as Arc<dyn SqsApi>),
        servicebus: None,
        triggers: vec![Trigger::Sqs],
        resources: Resources::new(),
    };
    let App::Messages(adapter) = function.build(&platform).await.expect("build erp-sync") else {
        panic!("erp-sync is a message function");
    };

    // 150 orders, 30 duplicates of orders 100..130, 20 poison messages
    let mut bodies: Vec<String> = (0..150).map(|i| order_envelope(i).to_string()).collect();
    bodies.extend((100..130).map(|i| order_envelope(i).to_string()));
    let mut poison_kinds = BTreeMap::new();
    for p in 0..20 {
        let (body, kind) = match p % 3 {
            0 => (format!("not json {p}"), "invalid_envelope"),
            1 => {
                let mut e = order_envelope(900 + p);
                e["data"]["currency"] = json!("EURO");
                (e.to_string(), "invalid_payload")
            }
            _ => {
                let mut e = order_envelope(900 + p);
                e["type"] = json!("order.cancelled");
                e["dataschema"] = json!("urn:switchyard:schema:order.cancelled:v2");
                (e.to_string(), "not_subscribed")
            }
        };
        poison_kinds.insert(body.clone(), kind);
        bodies.push(body);
    }
    assert_eq!(bodies.len(), 200);
    for chunk in bodies.chunks(10) {
        let entries = chunk
            .iter()
            .enumerate()
            .map(|(i, b)| {
                SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(b)
                    .build()
                    .unwrap()
            })
            .collect();
        let out = sqs
            .send_message_batch()
            .queue_url(&queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .unwrap();
        assert!(out.failed.is_empty(), "{:?}", out.failed);
    }

    let esm = EventSourceMapping::new(sqs.clone(), &queue_url).await;
    let invocations = esm
        .drain(Duration::from_secs(240), |event| {
            let deadline = SystemTime::now() + Duration::from_secs(30);
            let adapter = &adapter;
            async move {
                adapter
                    .sqs(event.into(), deadline)
                    .await
                    .expect("erp-sync has an SQS trigger")
                    .0
            }
        })
        .await;
    assert!(
        invocations >= 20,
        "at least 200 / 10 invocations, got {invocations}"
    );

    // every good order reached the ERP exactly once
    let mut accepted: BTreeMap<String, usize> = BTreeMap::new();
    for call in erp.accepted() {
        *accepted.entry(call.id).or_default() += 1;
    }
    let expected: BTreeMap<String, usize> = (0..150).map(|i| (format!("O-{i:03}"), 1)).collect();
    assert_eq!(
        accepted, expected,
        "each order accepted by the ERP exactly once"
    );
    // the flaky ones were refused twice first, and every call carried the event id
    assert_eq!(erp.calls().iter().filter(|c| c.status == 503).count(), 40);
    assert!(erp.calls().iter().all(|c| c.idempotency_key.as_deref() == Some(&format!("evt-order-{}", &c.id[2..])[..])));

    // one erp.order-synced per order, caused by the order event, same correlation
    let synced = published.published();
    assert_eq!(synced.len(), 150);
    for e in &synced {
        assert_eq!(e.event_type, "erp.order-synced");
        let cause = e.causationid.as_deref().expect("causation id");
        let n = cause.trim_start_matches("evt-order-");
        assert_eq!(e.correlationid, format!("corr-{n}"));
    }

    // the source queue is empty; the DLQ holds exactly the poison, with reasons
    assert_eq!(queue_depth(&sqs, &queue_url).await, 0);
    let mut parked = Vec::new();
    for _ in 0..20 {
        let out = sqs
            .receive_message()
            .queue_url(&dlq_url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let batch = out.messages.unwrap_or_default();
        if batch.is_empty() {
            break;
        }
        parked.extend(batch);
    }
    assert_eq!(
        parked.len(),
        20,
        "exactly the poison messages are in the DLQ"
    );
    let mut seen = BTreeSet::new();
    for m in &parked {
        let body = m.body.clone().unwrap_or_default();
        let attrs = m.message_attributes.clone().unwrap_or_default();
        let attr = |name: &str| {
            attrs
                .get(name)
                .and_then(|a| a.string_value.clone())
                .unwrap_or_default()
        };
        let kind = poison_kinds
            .get(&body)
            .unwrap_or_else(|| panic!("unexpected message in the DLQ: {body}"));
        assert_eq!(attr(attributes::KIND), *kind);
        assert!(!attr(attributes::REASON).is_empty());
        assert!(!attr(attributes::ORIGINAL_MESSAGE_ID).is_empty());
        assert_eq!(attr(attributes::FUNCTION), "erp-sync");
        assert!(queue_url.ends_with(&attr(attributes::SOURCE)));
        seen.insert(body);
    }
    assert_eq!(seen.len(), 20);

    for url in [&queue_url, &dlq_url] {
        sqs.delete_queue().queue_url(url).send().await.unwrap();
    }
    aws_sdk_dynamodb::Client::new(&aws)
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .unwrap();
}
