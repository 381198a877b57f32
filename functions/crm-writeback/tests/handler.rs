//! crm-writeback's handler through the SQS adapter, over a recording CRM
//! API: one write per order across duplicate deliveries, nothing for orders
//! that did not come from a CRM, parked when the CRM is not configured,
//! retried when the CRM fails transiently.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchyard_contracts::events::{CrmRecord, CrmSystem};
use switchyard_crm_writeback::{CrmApi, CrmWriteback, FUNCTION_NAME, Written};
use switchyard_idempotency::{IdempotencyConfig, MemoryStore, StoreOptions};
use switchyard_testkit::esm::sqs_event;
use switchyard_triggers::sqs::{InMemorySqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{HandlerError, Idempotency, Outcome};

/// A CRM that records its writes and fails the first `fail_first` of them.
#[derive(Default)]
struct Recording {
    writes: Mutex<Vec<(CrmRecord, String)>>,
    fail_first: Mutex<u32>,
}

#[async_trait::async_trait]
impl CrmApi for Recording {
    async fn write_erp_number(
        &self,
        record: &CrmRecord,
        erp_order_number: &str,
        _correlation_id: &str,
    ) -> Result<Written, HandlerError> {
        {
            let mut fail = self.fail_first.lock().unwrap();
            if *fail > 0 {
                *fail -= 1;
                return Err(HandlerError::transient("CRM answered 429, Retry-After 1"));
            }
        }
        self.writes
            .lock()
            .unwrap()
            .push((record.clone(), erp_order_number.to_owned()));
        Ok(Written::Updated)
    }
}

fn synced(id: &str, origin: Option<Value>) -> String {
    let mut data = json!({
        "orderId": format!("SO-{id}"), "erpOrderNumber": format!("ERP-{id}"),
        "outcome": "created", "syncedAt": "2026-11-20T09:16:01Z"
    });
    if let Some(origin) = origin {
        data["origin"] = origin;
    }
    json!({
        "specversion": "1.0", "id": format!("evt-synced-{id}"), "source": "switchyard/erp-sync",
        "type": "erp.order-synced", "time": "2026-11-20T09:16:01Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:erp.order-synced:v1", "dataversion": 1,
        "correlationid": format!("corr-{id}"), "data": data,
    })
    .to_string()
}

fn dynamics(id: &str) -> Option<Value> {
    Some(json!({"system": "dynamics", "object": "salesorder", "id": id}))
}

struct Rig {
    adapter: SqsAdapter<CrmWriteback>,
    parked: InMemorySqs,
}

fn rig(handler: CrmWriteback) -> Rig {
    let parked = InMemorySqs::new();
    let config = SqsAdapterConfig {
        park_queue_url: Some("local:park".to_owned()),
        ..SqsAdapterConfig::default()
    };
    let adapter = SqsAdapter::new(
        handler,
        FUNCTION_NAME,
        config,
        Some(Arc::new(parked.clone()) as Arc<dyn SqsApi>),
    )
    .with_idempotency(Idempotency {
        config: IdempotencyConfig::for_function(FUNCTION_NAME),
        store: Arc::new(MemoryStore::new(StoreOptions::default())),
    });
    Rig { adapter, parked }
}

async fn run(rig: &Rig, bodies: &[(&str, String)]) -> Vec<Outcome> {
    let (_, report) = rig
        .adapter
        .handle_with_report(
            sqs_event("arn:aws:sqs:us-east-1:000000000000:crm-writeback", bodies),
            SystemTime::now() + Duration::from_secs(30),
        )
        .await;
    report.outcomes.into_iter().map(|(_, o)| o).collect()
}

#[tokio::test]
async fn each_order_is_written_once_across_duplicate_deliveries() {
    let crm = Arc::new(Recording::default());
    let rig = rig(CrmWriteback::new().with(CrmSystem::Dynamics, crm.clone()));
    let guid = "5d3e6f1a-8c2b-4e7d-9a10-3f2b1c4d5e6f";
    assert_eq!(
        run(&rig, &[("m1", synced("1", dynamics(guid)))]).await,
        vec![Outcome::Handled]
    );
    // redelivered (another message id, same event): a duplicate, not a second write
    assert_eq!(
        run(&rig, &[("m2", synced("1", dynamics(guid)))]).await,
        vec![Outcome::Duplicate]
    );
    let writes = crm.writes.lock().unwrap().clone();
    assert_eq!(
        writes,
        vec![(
            CrmRecord::new(CrmSystem::Dynamics, "salesorder", guid),
            "ERP-1".to_owned()
        )]
    );
}

#[tokio::test]
async fn an_order_that_did_not_come_from_a_crm_writes_nothing() {
    let crm = Arc::new(Recording::default());
    let rig = rig(CrmWriteback::new().with(CrmSystem::Dynamics, crm.clone()));
    assert_eq!(
        run(&rig, &[("m1", synced("2", None))]).await,
        vec![Outcome::Handled]
    );
    assert!(crm.writes.lock().unwrap().is_empty());
    assert!(rig.parked.sent().is_empty());
}

#[tokio::test]
async fn an_order_from_an_unconfigured_crm_is_parked_with_the_setting_to_set() {
    let rig = rig(CrmWriteback::new().with(CrmSystem::Dynamics, Arc::new(Recording::default())));
    let body = synced(
        "3",
        Some(json!({"system": "hubspot", "object": "deals", "id": "1234567"})),
    );
    let outcomes = run(&rig, &[("m1", body.clone())]).await;
    assert_eq!(
        outcomes,
        vec![Outcome::Parked {
            kind: "crm_not_configured".to_owned()
        }]
    );
    let parked = rig.parked.sent();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].body, body, "parked as received, for a redrive");
    let reason = parked[0]
        .attributes
        .get("switchyard.park.reason")
        .cloned()
        .unwrap_or_default();
    assert!(reason.contains("HUBSPOT_ACCESS_TOKEN"), "{reason}");
}

#[tokio::test]
async fn a_transient_crm_failure_is_retried_and_then_written_once() {
    let crm = Arc::new(Recording::default());
    *crm.fail_first.lock().unwrap() = 1;
    let rig = rig(CrmWriteback::new().with(CrmSystem::Dynamics, crm.clone()));
    let guid = "0b7c8d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e";
    let first = run(&rig, &[("m1", synced("4", dynamics(guid)))]).await;
    assert!(
        matches!(&first[0], Outcome::Retry { reason } if reason.contains("429")),
        "{first:?}"
    );
    assert!(crm.writes.lock().unwrap().is_empty());
    assert_eq!(
        run(&rig, &[("m1", synced("4", dynamics(guid)))]).await,
        vec![Outcome::Handled]
    );
    assert_eq!(crm.writes.lock().unwrap().len(), 1);
}
