//! `switchyard demo`: the reference scenario against a fresh local stack —
//! signed Dynamics, HubSpot and Standard Webhooks deliveries, one duplicate
//! delivery, one poison order the ERP rejects, one transient ERP failure,
//! and the ERP numbers of a Dynamics salesorder and a HubSpot deal written
//! back into the CRM stubs — then a summary, and success only if the results
//! match expectations.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use switchyard_config::Settings;

use crate::stack::{RunningStack, StackHandle};

/// The Dynamics 365 salesorder of the demo webhook (its `PrimaryEntityId`).
const DYNAMICS_ORDER: &str = "2d7e9a1b-5c6d-e711-8118-000d3a1a0e11";

/// One line of the summary: what was expected and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What is counted.
    pub what: String,
    /// Expected.
    pub expected: String,
    /// Observed.
    pub actual: String,
}

impl Check {
    fn new(what: &str, expected: impl ToString, actual: impl ToString) -> Self {
        Check {
            what: what.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        }
    }

    /// True when observed = expected.
    pub fn ok(&self) -> bool {
        self.expected == self.actual
    }
}

/// The demo's outcome.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// Parked messages: (kind, reason).
    pub parked: Vec<(String, String)>,
}

impl DemoReport {
    /// True when every check passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(Check::ok)
    }

    /// The summary table.
    pub fn table(&self) -> String {
        let width = self.checks.iter().map(|c| c.what.len()).max().unwrap_or(10);
        let mut out = format!("{:width$}  {:>8}  {:>8}\n", "", "expected", "actual");
        for c in &self.checks {
            out.push_str(&format!(
                "{:width$}  {:>8}  {:>8}  {}\n",
                c.what,
                c.expected,
                c.actual,
                if c.ok() { "ok" } else { "MISMATCH" }
            ));
        }
        for (kind, reason) in &self.parked {
            out.push_str(&format!("parked ({kind}): {reason}\n"));
        }
        out
    }
}

struct Delivery {
    name: &'static str,
    path: &'static str,
    headers: Vec<(String, String)>,
    body: String,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The first of a comma-separated list of secrets crm-webhook runs with.
fn secret(settings: &Settings, var: &str) -> String {
    settings
        .optional(var)
        .and_then(|k| k.split(',').next().map(str::to_owned))
        .unwrap_or_default()
}

fn standard(
    settings: &Settings,
    id: &str,
    order_id: &str,
    name: &'static str,
    origin: Option<Value>,
) -> Result<Delivery, String> {
    let secret = secret(settings, "SWITCHYARD_STANDARD_WEBHOOK_SECRET");
    let key = base64_decode(secret.trim_start_matches("whsec_"))
        .ok_or("the Standard Webhooks secret is not whsec_<base64>")?;
    let mut body = json!({
        "type": "order.placed",
        "timestamp": "2026-11-23T09:00:00Z",
        "data": {
            "orderId": order_id, "customerId": "C-42", "currency": "EUR",
            "lines": [{ "sku": "BIKE-1", "quantity": "2", "unitPrice": "500.00", "lineTotal": "1000.00" }],
            "total": "1000.00", "placedAt": "2026-11-23T08:59:00Z"
        }
    });
    if let Some(origin) = origin {
        body["data"]["origin"] = origin;
    }
    let body = body.to_string();
    let ts = now_secs();
    let signature = switchyard_webhooks::standard::sign(&key, id, ts, body.as_bytes());
    Ok(Delivery {
        name,
        path: "/webhooks/standard",
        headers: vec![
            ("webhook-id".into(), id.into()),
            ("webhook-timestamp".into(), ts.to_string()),
            ("webhook-signature".into(), signature),
        ],
        body,
    })
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

fn dynamics(settings: &Settings) -> Delivery {
    let key = secret(settings, "SWITCHYARD_DYNAMICS_WEBHOOK_KEY");
    let header = settings
        .optional("SWITCHYARD_DYNAMICS_WEBHOOK_HEADER")
        .unwrap_or_else(|| "x-switchyard-key".to_owned());
    Delivery {
        name: "Dynamics 365 salesorder Create",
        path: "/webhooks/dynamics",
        headers: vec![(header, key)],
        body: include_str!("../demo/dynamics-salesorder-create.json").to_owned(),
    }
}

fn hubspot(settings: &Settings, base: &str) -> Delivery {
    let secret = secret(settings, "SWITCHYARD_HUBSPOT_CLIENT_SECRET");
    let body = include_str!("../demo/hubspot-contact-propertychange.json")
        .trim()
        .to_owned();
    let ts = (now_secs() * 1000).to_string();
    let uri = format!("{base}/webhooks/hubspot");
    let signature = switchyard_webhooks::hubspot::sign_v3(
        secret.as_bytes(),
        "POST",
        &uri,
        body.as_bytes(),
        &ts,
    );
    Delivery {
        name: "HubSpot contact.propertyChange",
        path: "/webhooks/hubspot",
        headers: vec![
            ("x-hubspot-signature-v3".into(), signature),
            ("x-hubspot-request-timestamp".into(), ts),
        ],
        body,
    }
}

async fn send(client: &reqwest::Client, base: &str, d: &Delivery) -> Result<(u16, Value), String> {
    let mut req = client
        .post(format!("{base}{}", d.path))
        .header("content-type", "application/json")
        .body(d.body.clone());
    for (k, v) in &d.headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let resp = req.send().await.map_err(|e| format!("{}: {e}", d.name))?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

fn event_ids(body: &Value) -> Vec<String> {
    body.get("eventIds")
        .or_else(|| body.get("event_ids"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the scenario against a running stack and waits until it drains.
pub async fn run(stack: &RunningStack, timeout: Duration) -> Result<DemoReport, String> {
    let base = stack.base_url();
    let handle: &StackHandle = &stack.handle;
    let client = reqwest::Client::new();
    // the ERP stub: one order it rejects (poison), one it fails once (transient)
    handle.erp.fail_always("O-REJECT", 422);
    handle.erp.fail_times("O-FLAKY", 503, 1);
    // the CRM records the orders were placed as, for the ERP numbers to come back to:
    // the Dynamics salesorder of the demo webhook, and a HubSpot deal
    handle.dataverse.insert(
        "salesorders",
        DYNAMICS_ORDER,
        json!({ "name": "Demo order (Dynamics 365)" }),
    );
    let deal = handle
        .hubspot
        .create("deals", json!({ "dealname": "Demo order (HubSpot)" }));

    // signed with the secrets crm-webhook runs with
    let settings = handle.settings.scoped("crm-webhook");
    let deliveries = vec![
        dynamics(&settings),
        hubspot(&settings, &base),
        standard(
            &settings,
            "msg_demo_order_1001",
            "O-1001",
            "Standard Webhooks order O-1001",
            None,
        )?,
        standard(
            &settings,
            "msg_demo_order_flaky",
            "O-FLAKY",
            "Standard Webhooks order O-FLAKY (ERP fails once)",
            None,
        )?,
        standard(
            &settings,
            "msg_demo_order_reject",
            "O-REJECT",
            "Standard Webhooks order O-REJECT (ERP rejects)",
            None,
        )?,
        standard(
            &settings,
            "msg_demo_order_hubspot",
            "O-HUBSPOT",
            "Standard Webhooks order O-HUBSPOT (a HubSpot deal)",
            Some(json!({ "system": "hubspot", "object": "deals", "id": deal })),
        )?,
    ];
    let mut published: Vec<String> = Vec::new();
    let mut answers = Vec::new();
    let mut accepted = 0;
    for d in &deliveries {
        let (status, body) = send(&client, &base, d).await?;
        tracing::info!(delivery = d.name, status, "DemoDeliverySent");
        if status == 202 {
            accepted += 1;
            published.extend(event_ids(&body));
        } else {
            return Err(format!("{} was answered {status}: {body}", d.name));
        }
        answers.push(body);
    }
    // the duplicate: the first Standard Webhooks delivery again, same
    // webhook-id: answered with the original event ids, nothing published
    let (dup_status, dup_body) = send(&client, &base, &deliveries[2]).await?;
    let duplicate_suppressed = dup_status == 200
        && !event_ids(&dup_body).is_empty()
        && event_ids(&dup_body) == event_ids(&answers[2]);

    // wait until every queue is drained
    let started = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if handle.drained() {
            break;
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "queues did not drain within {timeout:?}: {}",
                handle.status()
            ));
        }
    }

    let erp_calls = handle.erp.calls();
    let mut orders_accepted: BTreeMap<String, usize> = BTreeMap::new();
    for c in erp_calls
        .iter()
        .filter(|c| c.resource == "orders" && c.status < 300)
    {
        *orders_accepted.entry(c.id.clone()).or_default() += 1;
    }
    let customers_accepted = erp_calls
        .iter()
        .filter(|c| c.resource == "customers" && c.status < 300)
        .count();
    let order_events = 5; // Dynamics + four Standard Webhooks orders
    let customer_events = published.len().saturating_sub(order_events);
    let dlq = handle
        .spec
        .functions
        .values()
        .find(|f| f.binary == "erp-sync")
        .and_then(|f| f.sqs.as_ref())
        .and_then(|t| handle.spec.queues.get(&t.queue))
        .and_then(|q| q.redrive.as_ref())
        .map(|(d, _)| d.clone())
        .ok_or("the template has no DLQ for erp-sync's queue")?;
    let parked: Vec<(String, String)> = handle
        .queues
        .messages(&dlq)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|m| {
            (
                m.attributes
                    .get("switchyard.park.kind")
                    .cloned()
                    .unwrap_or_default(),
                m.attributes
                    .get("switchyard.park.reason")
                    .cloned()
                    .unwrap_or_default(),
            )
        })
        .collect();
    // the ERP numbers written back into the CRM records the orders came from,
    // where crm-writeback is set to write them
    let numbers = handle.erp.order_numbers();
    let writeback_settings = handle
        .settings
        .scoped(switchyard_crm_writeback::FUNCTION_NAME);
    let column = writeback_settings
        .optional("DATAVERSE_ERP_NUMBER_COLUMN")
        .unwrap_or_else(|| switchyard_crm_writeback::dataverse::DEFAULT_COLUMN.to_owned());
    let property = writeback_settings
        .optional("HUBSPOT_ERP_NUMBER_PROPERTY")
        .unwrap_or_else(|| switchyard_crm_writeback::hubspot::DEFAULT_PROPERTY.to_owned());
    let writeback = [
        (
            handle
                .dataverse
                .field(DYNAMICS_ORDER, &column)
                .and_then(|v| v.as_str().map(str::to_owned)),
            numbers.get(DYNAMICS_ORDER),
            handle.dataverse.writes(DYNAMICS_ORDER),
        ),
        (
            handle
                .hubspot
                .field(&deal, &property)
                .and_then(|v| v.as_str().map(str::to_owned)),
            numbers.get("O-HUBSPOT"),
            handle.hubspot.writes(&deal),
        ),
    ];
    let written_back = writeback
        .iter()
        .filter(|(field, number, _)| field.is_some() && field.as_ref() == *number)
        .count();
    let functions = handle.stats.functions();
    let transient_retries: u64 = functions.values().map(|f| f.failures).sum();

    let checks = vec![
        Check::new("deliveries accepted (202)", 6, accepted),
        Check::new("duplicate delivery suppressed", true, duplicate_suppressed),
        Check::new(
            "events published",
            order_events + customer_events,
            published.len(),
        ),
        Check::new("ERP orders accepted", 4, orders_accepted.len()),
        Check::new(
            "ERP calls per accepted order",
            1,
            orders_accepted.values().max().copied().unwrap_or(0),
        ),
        Check::new("ERP customer upserts", customer_events, customers_accepted),
        Check::new("transient failures retried", true, transient_retries >= 1),
        Check::new("parked in the DLQ", 1, parked.len()),
        Check::new(
            "parked because the ERP rejected it",
            true,
            parked
                .iter()
                .any(|(k, r)| k == "rejected_by_erp" && r.contains("422")),
        ),
        Check::new("audit records", 4 + customer_events, handle.audit.len()),
        Check::new("ERP numbers written back to the CRM", 2, written_back),
        Check::new(
            "CRM writes per written-back order",
            1,
            writeback.iter().map(|w| w.2).max().unwrap_or(0),
        ),
    ];
    Ok(DemoReport { checks, parked })
}
