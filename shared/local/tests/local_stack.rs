//! The local stack over real HTTP: signed deliveries in, the ERP stub
//! records exactly one call per order, the duplicate is suppressed, the
//! poison order is in the DLQ with its reason, `/_switchyard/status` agrees;
//! then a restart with the same state keeps dedupe and undelivered messages.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};
use switchyard_config::Settings;
use switchyard_local::stack::local_default;
use switchyard_local::stack::{self, RunningStack, StackConfig};
use switchyard_publish::OutgoingEvent;

fn template() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

fn config(state: &Path, vars: &[(&str, &str)]) -> StackConfig {
    StackConfig {
        template: Some(template()),
        // only what the test sets, over the local defaults
        settings: Settings::from_pairs(vars.iter().copied()),
        ..StackConfig::new(state)
    }
}

async fn start(state: &Path) -> RunningStack {
    stack::start(config(state, &[]))
        .await
        .expect("the stack starts")
}

/// A signed Standard Webhooks delivery of an `order.placed` for `order_id`.
async fn deliver(base: &str, webhook_id: &str, order_id: &str) -> (u16, Value) {
    deliver_with(base, webhook_id, order_id, None).await
}

async fn status(base: &str) -> Value {
    reqwest::get(format!("{base}/_switchyard/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_flow_through_and_a_restart_keeps_dedupe_and_messages() {
    let state = tempfile::tempdir().unwrap();
    let stack = start(state.path()).await;
    let base = stack.base_url();
    stack.handle.erp.fail_always("O-POISON", 422);
    stack.handle.erp.fail_always("O-LATER", 503); // the ERP is down for this one until the restart

    assert_eq!(deliver(&base, "msg_1", "O-1").await.0, 202);
    assert_eq!(deliver(&base, "msg_2", "O-2").await.0, 202);
    let (dup_status, dup_body) = deliver(&base, "msg_1", "O-1").await;
    assert_eq!(
        dup_status, 200,
        "a duplicate delivery is answered 200: {dup_body}"
    );
    assert_eq!(dup_body["status"], "duplicate");
    assert_eq!(deliver(&base, "msg_poison", "O-POISON").await.0, 202);
    assert_eq!(deliver(&base, "msg_later", "O-LATER").await.0, 202);

    let erp = stack.handle.erp.clone();
    wait_until(
        "O-1, O-2 accepted and O-POISON parked",
        Duration::from_secs(30),
        || {
            let accepted: Vec<String> = erp.accepted().into_iter().map(|c| c.id).collect();
            accepted.contains(&"O-1".to_owned())
                && accepted.contains(&"O-2".to_owned())
                && stack
                    .handle
                    .queues
                    .names()
                    .iter()
                    .any(|q| q == "ErpSyncDlq")
                && stack
                    .handle
                    .queues
                    .messages("ErpSyncDlq")
                    .map(|m| m.len())
                    .unwrap_or(0)
                    == 1
        },
    )
    .await;
    // exactly one ERP call per accepted order
    let mut ids: Vec<String> = erp.accepted().into_iter().map(|c| c.id).collect();
    ids.sort();
    assert_eq!(ids, vec!["O-1", "O-2"]);
    // the poison order is in the DLQ with its reason
    let parked = stack.handle.queues.messages("ErpSyncDlq").unwrap();
    assert_eq!(
        parked[0].attributes["switchyard.park.kind"],
        "rejected_by_erp"
    );
    assert!(parked[0].attributes["switchyard.park.reason"].contains("422"));
    // the ERP stub lists the accepted orders
    let orders: Value = reqwest::get(format!("{base}/_erp/orders"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["orders"].as_array().map(Vec::len), Some(2));
    // the status endpoint agrees
    let s = status(&base).await;
    assert_eq!(s["queues"]["ErpSyncQueue"]["dlq_depth"], 1, "{s}");
    assert_eq!(s["erp"]["accepted"], 2, "{s}");
    assert_eq!(s["functions"]["erp-sync"]["parked"], 1, "{s}");
    assert!(
        s["functions"]["erp-sync"]["successes"].as_u64().unwrap() >= 2,
        "{s}"
    );
    assert!(s["rules"]["ErpSyncRule"].as_u64().unwrap() >= 4, "{s}");
    assert!(
        s["functions"]["erp-sync"]["failures"].as_u64().unwrap() >= 1,
        "O-LATER keeps failing: {s}"
    );
    stack.stop().await;

    // restart on the same state: the ERP is back (a fresh stub)
    let stack = start(state.path()).await;
    let base = stack.base_url();
    let (status_again, body_again) = deliver(&base, "msg_1", "O-1").await;
    assert_eq!(
        status_again, 200,
        "dedupe survived the restart: {body_again}"
    );
    let erp = stack.handle.erp.clone();
    wait_until(
        "O-LATER delivered after the restart",
        Duration::from_secs(30),
        || erp.accepted().iter().any(|c| c.id == "O-LATER"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = erp.calls().into_iter().map(|c| c.id).collect();
    assert_eq!(
        ids,
        vec!["O-LATER"],
        "no new ERP call for the re-sent delivery; the kept message was delivered"
    );
    stack.stop().await;
}

#[tokio::test]
async fn rules_route_to_their_targets_per_the_template() {
    let state = tempfile::tempdir().unwrap();
    let stack = start(state.path()).await;
    let spec = &stack.handle.spec;
    let erp_rule = spec
        .rules
        .iter()
        .find(|r| r.name == "ErpSyncRule")
        .expect("ErpSyncRule");
    assert!(
        erp_rule
            .pattern
            .matches(&json!({ "detail-type": "order.placed", "detail": {} }))
    );
    assert!(
        !erp_rule
            .pattern
            .matches(&json!({ "detail-type": "erp.order-synced", "detail": {} }))
    );
    let q = &spec.queues["ErpSyncQueue"];
    assert_eq!(
        q.redrive.as_ref().map(|(d, n)| (d.as_str(), *n)),
        Some(("ErpSyncDlq", 5))
    );
    stack.stop().await;
}

/// The local stack builds erp-sync with the cloud's settings code: the
/// upcaster's currency is read (it used to be dropped locally, so every v1
/// order was parked).
#[tokio::test]
async fn order_placed_v1_is_upcast_with_the_configured_currency_locally() {
    let state = tempfile::tempdir().unwrap();
    let stack = stack::start(config(
        state.path(),
        &[("SWITCHYARD_ORDER_V1_CURRENCY", "EUR")],
    ))
    .await
    .expect("the stack starts");
    let v1: OutgoingEvent = serde_json::from_value(json!({
        "specversion": "1.0", "id": "evt-v1-order", "source": "legacy-crm", "type": "order.placed",
        "time": "2026-11-23T09:00:00Z", "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:order.placed:v1", "dataversion": 1,
        "correlationid": "corr-v1",
        "data": { "orderId": "O-V1", "customerId": "C-1", "totalAmount": "12.50", "placedAt": "2026-11-23T08:59:00Z" }
    }))
    .unwrap();
    stack.handle.publisher.publish_all(vec![v1]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while stack.handle.erp.accepted().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let accepted = stack.handle.erp.accepted();
    assert_eq!(accepted.len(), 1, "{}", stack.handle.status());
    assert!(
        stack
            .handle
            .queues
            .messages("ErpSyncDlq")
            .unwrap()
            .is_empty(),
        "nothing parked"
    );
    stack.stop().await;
}

/// The local stack reads erp-sync's ERP timeout like the cloud (it used to
/// hard-code 5 s): a malformed value stops the start, naming the variable.
#[tokio::test]
async fn the_erp_timeout_is_read_from_the_settings_locally() {
    let state = tempfile::tempdir().unwrap();
    let err = match stack::start(config(state.path(), &[("ERP_TIMEOUT_MS", "soon")])).await {
        Ok(_) => panic!("a malformed ERP_TIMEOUT_MS must stop the stack"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("erp-sync") && err.contains("ERP_TIMEOUT_MS"),
        "{err}"
    );
    // per-function values win, as on Azure
    let stack = stack::start(config(
        state.path(),
        &[
            ("ERP_TIMEOUT_MS", "soon"),
            ("ERP_SYNC__ERP_TIMEOUT_MS", "2000"),
        ],
    ))
    .await
    .expect("erp-sync's own value is used");
    stack.stop().await;
}

/// The loop closed locally: a Dynamics salesorder (the Dynamics webhook) and
/// a HubSpot deal (an order whose `origin` names it) go to the ERP, and
/// crm-writeback writes each ERP number back into the CRM stub — once,
/// though the deliveries are repeated, an `erp.order-synced` arrives twice,
/// and each CRM fails the first write (Dataverse 429, HubSpot 503). The
/// Dataverse writes carry tokens of the local OAuth endpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erp_numbers_are_written_back_to_the_crm_once() {
    const SALESORDER: &str = "2d7e9a1b-5c6d-e711-8118-000d3a1a0e11"; // the demo webhook's
    const OTHER: &str = "7f1c2e3d-4b5a-4c6d-8e7f-9a0b1c2d3e4f";
    let state = tempfile::tempdir().unwrap();
    let stack = start(state.path()).await;
    let base = stack.base_url();
    let h = &stack.handle;
    h.dataverse
        .insert("salesorders", SALESORDER, json!({ "name": "SO Dynamics" }));
    h.dataverse
        .insert("salesorders", OTHER, json!({ "name": "SO synced twice" }));
    let deal = h
        .hubspot
        .create("deals", json!({ "dealname": "HubSpot deal" }));
    h.dataverse.fail_times(SALESORDER, 429, 1);
    h.hubspot.fail_times(&deal, 503, 1);

    // the Dynamics webhook, delivered twice
    let key = local_default("SWITCHYARD_DYNAMICS_WEBHOOK_KEY").unwrap();
    let dynamics = include_str!("../demo/dynamics-salesorder-create.json");
    for expected in [202, 200] {
        let resp = reqwest::Client::new()
            .post(format!("{base}/webhooks/dynamics"))
            .header("content-type", "application/json")
            .header("x-switchyard-key", key)
            .body(dynamics)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), expected);
    }
    // a HubSpot deal's order, delivered twice (Standard Webhooks)
    let origin = json!({ "system": "hubspot", "object": "deals", "id": deal });
    assert_eq!(
        deliver_with(&base, "msg_deal", "O-DEAL", Some(&origin))
            .await
            .0,
        202
    );
    assert_eq!(
        deliver_with(&base, "msg_deal", "O-DEAL", Some(&origin))
            .await
            .0,
        200
    );
    // one erp.order-synced published twice (at-least-once delivery upstream)
    let synced: OutgoingEvent = serde_json::from_value(json!({
        "specversion": "1.0", "id": "evt-synced-twice", "source": "switchyard/erp-sync",
        "type": "erp.order-synced", "time": "2026-11-23T09:00:00Z",
        "datacontenttype": "application/json",
        "dataschema": "urn:switchyard:schema:erp.order-synced:v1", "dataversion": 1,
        "correlationid": "corr-twice",
        "data": { "orderId": "O-TWICE", "erpOrderNumber": "ERP-777777", "outcome": "created",
                  "syncedAt": "2026-11-23T09:00:00Z",
                  "origin": { "system": "dynamics", "object": "salesorder", "id": OTHER } }
    }))
    .unwrap();
    for _ in 0..2 {
        h.publisher.publish_all(vec![synced.clone()]).await.unwrap();
    }

    let numbers = || h.erp.order_numbers();
    let column = "new_erpordernumber";
    wait_until(
        "the ERP numbers in the CRMs",
        Duration::from_secs(40),
        || {
            h.dataverse.field(SALESORDER, column).is_some()
                && h.hubspot.field(&deal, "erp_order_number").is_some()
                && h.dataverse.field(OTHER, column).is_some()
                && h.drained()
        },
    )
    .await;
    let expect = |v: Option<&String>| v.map(|n| Value::String(n.clone()));
    assert_eq!(
        h.dataverse.field(SALESORDER, column),
        expect(numbers().get(SALESORDER))
    );
    assert_eq!(
        h.hubspot.field(&deal, "erp_order_number"),
        expect(numbers().get("O-DEAL"))
    );
    assert_eq!(h.dataverse.field(OTHER, column), Some(json!("ERP-777777")));
    for (what, writes) in [
        ("salesorder", h.dataverse.writes(SALESORDER)),
        ("deal", h.hubspot.writes(&deal)),
        ("salesorder synced twice", h.dataverse.writes(OTHER)),
    ] {
        assert_eq!(writes, 1, "{what} written once: {}", h.status());
    }
    assert!(
        h.oauth.requests() >= 1,
        "Dataverse writes carry OAuth tokens"
    );
    assert!(
        h.queues.messages("CrmWritebackDlq").unwrap().is_empty(),
        "nothing parked"
    );
    stack.stop().await;
}

/// A signed Standard Webhooks delivery of an `order.placed` for `order_id`,
/// with an optional `origin` (the CRM record it was placed as).
async fn deliver_with(
    base: &str,
    webhook_id: &str,
    order_id: &str,
    origin: Option<&Value>,
) -> (u16, Value) {
    let secret = local_default("SWITCHYARD_STANDARD_WEBHOOK_SECRET").unwrap();
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut body = json!({
        "type": "order.placed",
        "timestamp": "2026-11-23T09:00:00Z",
        "data": { "orderId": order_id, "customerId": "C-1", "currency": "EUR", "lines": [], "total": "10.00", "placedAt": "2026-11-23T08:59:00Z" }
    });
    if let Some(origin) = origin {
        body["data"]["origin"] = origin.clone();
    }
    let body = body.to_string();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = switchyard_webhooks::standard::sign(&key, webhook_id, ts, body.as_bytes());
    let resp = reqwest::Client::new()
        .post(format!("{base}/webhooks/standard"))
        .header("content-type", "application/json")
        .header("webhook-id", webhook_id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}
