//! Reordered `customer.updated` deliveries through moto SQS and DynamoDB
//! (the idempotency table keeps the ordering guard's positions), driven by
//! the event source mapping harness: updates of one customer sent out of
//! order, the newest one refused twice by the ERP (so it is retried while
//! older ones arrive), a redelivered duplicate. The ERP stub must end with
//! the newest state and never see an older update after a newer one; the
//! stale deliveries are counted.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchyard_config::Settings;
use switchyard_local::erp::ErpStub;
use switchyard_publish::sqs::AwsSqs;
use switchyard_publish::{InMemoryPublisher, Publisher};
use switchyard_testkit::esm::EventSourceMapping;
use switchyard_triggers::Outcome;
use switchyard_triggers::registry::{App, Platform, Resources, Trigger};
use switchyard_triggers::sqs::SqsApi;

mod common;

fn update(customer: &str, minute: u32) -> Value {
    json!({
        "specversion": "1.0",
        "id": format!("evt-{customer}-{minute:02}"),
        "source": "switchyard/tests",
        "type": "customer.updated",
        "time": "2026-11-20T11:00:00Z",
        "subject": customer,
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:customer.updated:v1",
        "dataversion": 1,
        "correlationid": format!("corr-{customer}-{minute:02}"),
        "data": {
            "customerId": customer,
            "displayName": format!("{customer} as of 10:{minute:02}"),
            "changedFields": ["displayName"],
            "updatedAt": format!("2026-11-20T10:{minute:02}:00Z")
        }
    })
}

async fn send(sqs: &aws_sdk_sqs::Client, queue_url: &str, bodies: &[Value]) {
    for body in bodies {
        sqs.send_message()
            .queue_url(queue_url)
            .message_body(body.to_string())
            .send()
            .await
            .expect("SendMessage");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_customer_updates_end_with_the_newest_state() {
    let aws = switchyard_testkit::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let (queue_url, dlq) = common::queue_with_dlq(&sqs, "erp-sync-order", 5).await;
    let table = common::idempotency_table(&aws).await;
    let erp = ErpStub::start().await;
    // the newest update of C-7 is refused twice: it is retried while
    // older ones are delivered
    erp.fail_times("C-7", 503, 2);

    let function = switchyard_erp_sync::function();
    let settings = Settings::from_pairs([
        ("ERP_BASE_URL", erp.base_url()),
        ("SWITCHYARD_IDEMPOTENCY", format!("dynamodb:{table}")),
        ("SWITCHYARD_PARK_QUEUE_URL", dlq.url.clone()),
    ])
    .scoped(function.name);
    let platform = Platform {
        store: Some(
            switchyard_runtime::open_store(&function, &settings, Some(&aws))
                .expect("open the store"),
        ),
        settings,
        publisher: Arc::new(InMemoryPublisher::new()) as Arc<dyn Publisher>,
        sqs: Some(Arc::new(AwsSqs::new(aws_sdk_sqs::Client::new(&aws))) as Arc<dyn SqsApi>),
        servicebus: None,
        triggers: vec![Trigger::Sqs],
        resources: Resources::new(),
    };
    let App::Messages(app) = function.build(&platform).await.expect("build erp-sync") else {
        panic!("erp-sync is a message function");
    };
    let outcomes: Arc<Mutex<Vec<(String, Outcome)>>> = Arc::default();
    let invoke = |event| {
        let app = app.clone();
        let outcomes = outcomes.clone();
        async move {
            let deadline = SystemTime::now() + Duration::from_secs(30);
            let (response, report) = app
                .sqs(event, deadline)
                .await
                .expect("erp-sync has an SQS trigger");
            outcomes.lock().unwrap().extend(report.outcomes);
            response
        }
    };
    let esm = EventSourceMapping::new(sqs.clone(), &queue_url).await;

    // 1. the newest update of C-7 first (refused by the ERP: retried), and
    //    two updates of C-8 in one batch (only the newer one is applied)
    send(
        &sqs,
        &queue_url,
        &[update("C-7", 5), update("C-8", 1), update("C-8", 2)],
    )
    .await;
    esm.poll_once(|e| invoke(e.into())).await;
    // 2. older updates of C-7 arrive while 10:05 waits for its retry, one of
    //    them twice; then 10:05 itself is delivered again by a resend
    send(
        &sqs,
        &queue_url,
        &[
            update("C-7", 1),
            update("C-7", 3),
            update("C-7", 3),
            update("C-7", 4),
            update("C-8", 3),
        ],
    )
    .await;
    esm.poll_once(|e| invoke(e.into())).await;
    send(&sqs, &queue_url, &[update("C-7", 2), update("C-7", 5)]).await;
    esm.drain(Duration::from_secs(120), |e| invoke(e.into()))
        .await;

    // the ERP holds the newest state of each customer ...
    let accepted = erp.accepted();
    let last = |customer: &str| {
        accepted
            .iter()
            .filter(|c| c.resource == "customers" && c.id == customer)
            .map(|c| c.body["updatedAt"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        last("C-7"),
        vec!["2026-11-20T10:05:00Z"],
        "only the newest C-7 update reached the ERP, once"
    );
    assert_eq!(
        last("C-8"),
        vec!["2026-11-20T10:02:00Z", "2026-11-20T10:03:00Z"],
        "a newer update in a later batch applies; the older one of a batch does not"
    );
    // ... and every older delivery was acknowledged as stale, not dropped
    // into the DLQ and not retried
    let outcomes = outcomes.lock().unwrap().clone();
    let stale = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Stale { entity, .. } if entity == "C-7"))
        .count();
    assert_eq!(stale, 5, "10:01, 10:03 twice, 10:04, 10:02: {outcomes:?}");
    let stale_c8 = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Stale { entity, .. } if entity == "C-8"))
        .count();
    assert_eq!(stale_c8, 1, "C-8's 10:01, older than 10:02 in its batch");
    let duplicates = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Duplicate)
        .count();
    assert_eq!(
        duplicates, 1,
        "the resent 10:05 is a duplicate: {outcomes:?}"
    );
    assert_eq!(
        switchyard_testkit::esm::queue_depth(&sqs, &dlq.url).await,
        0,
        "nothing dead-lettered"
    );
}
