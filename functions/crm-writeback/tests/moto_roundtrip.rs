//! The loop closed on moto: CRM orders go through erp-sync (ERP stub), whose
//! `erp.order-synced` is published to a moto EventBridge bus; the rule of
//! `template.yaml` (`CrmWritebackRule`, read from the template) routes the
//! ones that came from a CRM to crm-writeback's queue, drained by a harness
//! that behaves like Lambda's event source mapping; crm-writeback writes
//! the ERP number into the Dataverse and HubSpot stubs, authenticated with
//! OAuth client credentials (Dataverse) and a private app token (HubSpot).
//! Duplicate deliveries and throttled writes included: one write per order.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use switchyard_config::Settings;
use switchyard_local::crm::{DataverseState, DataverseStub, HubSpotStub};
use switchyard_local::erp::ErpStub;
use switchyard_local::oauth::OAuthStub;
use switchyard_publish::{EventBridgeConfig, EventBridgePublisher, InMemoryPublisher, Publisher};
use switchyard_testkit::esm::{EventSourceMapping, queue_depth, sqs_event};
use switchyard_testkit::moto::{BusToQueue, create_queue};
use switchyard_testkit::unique_name;
use switchyard_triggers::registry::{App, Function, MessageApp, Platform, Resources, Trigger};
use switchyard_triggers::sqs::SqsApi;

const ORDERS: usize = 12;
const COLUMN: &str = "new_erpordernumber";
const PROPERTY: &str = "erp_order_number";

fn order(i: usize, origin: Option<Value>) -> String {
    let mut data = json!({
        "orderId": format!("SO-{i:03}"), "customerId": "C-1", "currency": "EUR",
        "lines": [{ "sku": "SKU-1", "quantity": "2", "unitPrice": "5.00", "lineTotal": "10.00" }],
        "total": "10.00", "placedAt": "2026-11-20T08:59:00Z"
    });
    if let Some(origin) = origin {
        data["origin"] = origin;
    }
    json!({
        "specversion": "1.0", "id": format!("evt-order-{i:03}"), "source": "switchyard/tests",
        "type": "order.placed", "time": "2026-11-20T09:00:00Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:order.placed:v2", "dataversion": 2,
        "correlationid": format!("corr-{i:03}"), "data": data,
    })
    .to_string()
}

async fn build(function: Function, platform: &Platform) -> Arc<dyn MessageApp> {
    match function.build(platform).await {
        Ok(App::Messages(app)) => app,
        Ok(_) => panic!("{} is a message function", function.name),
        Err(e) => panic!("build {}: {e}", function.name),
    }
}

/// The template's CrmWritebackRule pattern, as deployed.
fn writeback_pattern() -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec =
        switchyard_local::template::load(&root.join("template.yaml")).expect("template.yaml");
    let rule = spec
        .rules
        .iter()
        .find(|r| r.name == "CrmWritebackRule")
        .expect("template.yaml has CrmWritebackRule");
    rule.pattern.raw().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crm_orders_get_their_erp_number_written_back_once() {
    let aws = switchyard_testkit::aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let eb = aws_sdk_eventbridge::Client::new(&aws);

    // the bus, crm-writeback's queue (DLQ after 5 receives) and the template's rule
    let dlq = create_queue(&sqs, "crm-writeback-dlq", &[]).await;
    let redrive = json!({ "deadLetterTargetArn": dlq.arn, "maxReceiveCount": "5" }).to_string();
    let queue = create_queue(
        &sqs,
        "crm-writeback",
        &[
            (QueueAttributeName::RedrivePolicy, redrive),
            (QueueAttributeName::VisibilityTimeout, "1".to_owned()),
        ],
    )
    .await;
    let wiring = BusToQueue::create_to(&eb, queue, &writeback_pattern()).await;
    let (bus, queue) = (wiring.bus.clone(), wiring.queue.clone());
    let table = unique_name("idempotency");
    switchyard_idempotency::DynamoDbStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        table.clone(),
        switchyard_idempotency::StoreOptions::default(),
    )
    .create_table_if_missing()
    .await
    .expect("idempotency table");

    // the ERP, the token endpoint, Dataverse (accepting only its tokens), HubSpot
    let erp = ErpStub::start().await;
    let oauth = OAuthStub::start().await;
    oauth.state().register_secret("crm-writeback-app", "s3cret");
    let tokens = oauth.state().clone();
    let dataverse = DataverseStub::start_with(
        DataverseState::new().with_token_check(Arc::new(move |t: &str| tokens.accepts(t))),
    )
    .await;
    let hubspot = HubSpotStub::start().await;

    // half the orders from Dynamics salesorders, half from HubSpot deals,
    // and two that came from no CRM
    let mut bodies = Vec::new();
    let mut expected: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for i in 0..ORDERS {
        let (system, object, id) = if i % 2 == 0 {
            let id = dataverse.create("salesorders", json!({ "name": format!("SO-{i:03}") }));
            ("dynamics", "salesorder", id)
        } else {
            let id = hubspot.create("deals", json!({ "dealname": format!("SO-{i:03}") }));
            ("hubspot", "deals", id)
        };
        expected.insert(format!("SO-{i:03}"), (system, id.clone()));
        bodies.push((
            format!("m-{i:03}"),
            order(
                i,
                Some(json!({"system": system, "object": object, "id": id})),
            ),
        ));
    }
    bodies.push(("m-900".to_owned(), order(900, None)));
    bodies.push(("m-901".to_owned(), order(901, None)));
    // one Dataverse record throttled once (429 + Retry-After), one HubSpot deal once (503)
    dataverse.fail_times(&expected["SO-000"].1, 429, 1);
    hubspot.fail_times(&expected["SO-001"].1, 503, 1);

    let platform =
        |function: &Function, settings: Settings, publisher: Arc<dyn Publisher>| Platform {
            store: Some(
                switchyard_runtime::open_store(function, &settings, Some(&aws)).expect("store"),
            ),
            settings,
            publisher,
            sqs: Some(
                Arc::new(switchyard_publish::sqs::AwsSqs::new(sqs.clone())) as Arc<dyn SqsApi>
            ),
            servicebus: None,
            triggers: vec![Trigger::Sqs],
            resources: Resources::new(),
        };

    // erp-sync, publishing to the moto bus; every order delivered twice
    let erp_sync = switchyard_erp_sync::function();
    let erp_settings = Settings::from_pairs([
        ("ERP_BASE_URL", erp.base_url()),
        ("SWITCHYARD_IDEMPOTENCY", format!("dynamodb:{table}")),
    ])
    .scoped(erp_sync.name);
    let publisher = EventBridgePublisher::with_client(eb.clone(), EventBridgeConfig::new(&bus));
    let erp_app = build(
        erp_sync.clone(),
        &platform(&erp_sync, erp_settings, Arc::new(publisher)),
    )
    .await;
    let deadline = || SystemTime::now() + Duration::from_secs(30);
    for round in 0..2 {
        for chunk in bodies.chunks(10) {
            let chunk: Vec<(String, String)> = chunk
                .iter()
                .map(|(id, b)| (format!("{id}-{round}"), b.clone()))
                .collect();
            let (response, _) = erp_app
                .sqs(
                    sqs_event("arn:aws:sqs:us-east-1:000000000000:erp-sync", &chunk).into(),
                    deadline(),
                )
                .await
                .expect("sqs");
            assert!(
                response.batch_item_failures.is_empty(),
                "erp-sync round {round}"
            );
        }
    }
    assert_eq!(erp.accepted().len(), ORDERS + 2, "one ERP upsert per order");

    // the rule let through the CRM orders only
    let esm = EventSourceMapping::new(sqs.clone(), &queue.url).await;
    let mut arrived = 0;
    for _ in 0..50 {
        arrived = queue_depth(&sqs, &queue.url).await;
        if arrived >= ORDERS {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(arrived, ORDERS, "erp.order-synced of CRM orders only");

    // crm-writeback as deployed: Dataverse over OAuth, HubSpot with its token
    let writeback = switchyard_crm_writeback::function();
    let settings = Settings::from_pairs([
        ("DATAVERSE_URL", dataverse.base_url()),
        ("DATAVERSE_CLIENT_ID", "crm-writeback-app".to_owned()),
        ("DATAVERSE_CLIENT_SECRET", "s3cret".to_owned()),
        (
            "DATAVERSE_TOKEN_URL",
            format!("{}/tenant-1/oauth2/v2.0/token", oauth.base_url()),
        ),
        ("HUBSPOT_URL", hubspot.base_url()),
        ("HUBSPOT_ACCESS_TOKEN", "pat-na1-local".to_owned()),
        ("SWITCHYARD_IDEMPOTENCY", format!("dynamodb:{table}")),
        ("SWITCHYARD_PARK_QUEUE_URL", dlq.url.clone()),
    ])
    .scoped(writeback.name);
    let app = build(
        writeback.clone(),
        &platform(&writeback, settings, Arc::new(InMemoryPublisher::new())),
    )
    .await;
    // redelivered copies of the first messages, as at-least-once delivery does
    let peek = sqs
        .receive_message()
        .queue_url(&queue.url)
        .max_number_of_messages(4)
        .visibility_timeout(0)
        .send()
        .await
        .expect("ReceiveMessage");
    let copies: Vec<String> = peek
        .messages()
        .iter()
        .filter_map(|m| m.body().map(str::to_owned))
        .collect();
    assert!(!copies.is_empty());
    for body in &copies {
        sqs.send_message()
            .queue_url(&queue.url)
            .message_body(body)
            .send()
            .await
            .expect("SendMessage");
    }
    esm.drain(Duration::from_secs(120), |event| {
        let app = &app;
        async move { app.sqs(event.into(), deadline()).await.expect("sqs").0 }
    })
    .await;

    // every CRM record holds its ERP number, written exactly once
    let numbers = erp.state().order_numbers();
    let mut seen = BTreeSet::new();
    for (order_id, (system, id)) in &expected {
        let number = numbers
            .get(order_id)
            .unwrap_or_else(|| panic!("ERP number of {order_id}"));
        let (writes, value) = match *system {
            "dynamics" => (dataverse.writes(id), dataverse.field(id, COLUMN)),
            _ => (hubspot.writes(id), hubspot.field(id, PROPERTY)),
        };
        assert_eq!(writes, 1, "{order_id} ({system} {id}) written once");
        assert_eq!(value, Some(Value::String(number.clone())), "{order_id}");
        seen.insert(number.clone());
    }
    assert_eq!(seen.len(), ORDERS);
    assert_eq!(
        oauth.state().requests(),
        1,
        "one token for every Dataverse write"
    );
    assert_eq!(queue_depth(&sqs, &dlq.url).await, 0, "nothing parked");

    wiring.delete(&eb, &sqs).await;
    sqs.delete_queue()
        .queue_url(&dlq.url)
        .send()
        .await
        .expect("DeleteQueue");
}
