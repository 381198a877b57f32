//! The Function App serves every registered function with an Azure
//! trigger — audit-log included — each built with its own settings: its
//! idempotency expiry is its own, not crm-webhook's dedupe window.

mod common;

use std::time::Duration;

use common::*;
use switchyard_config::Settings;
use switchyard_triggers::registry::{Trigger, idempotency_expiry};

#[test]
fn every_registered_function_with_an_azure_trigger_is_hosted() {
    let hosted: Vec<&str> = switchyard_azure_app::functions()
        .iter()
        .map(|f| f.name)
        .collect();
    let expected: Vec<&str> = switchyard_registry::functions()
        .iter()
        .filter(|f| f.has(Trigger::ServiceBus) || f.has(Trigger::Http))
        .map(|f| f.name)
        .collect();
    assert_eq!(hosted, expected);
    assert!(hosted.contains(&"audit-log"), "{hosted:?}");
}

#[tokio::test]
async fn audit_log_runs_in_the_function_app_on_its_own_subscription() {
    let stack = stack().await;
    call_webhook(
        &stack,
        &webhook_invocation("msg_a1", Some(&order_body("SO-A1"))),
    )
    .await;
    let erp_sync = stack.host.drain(10).await;
    assert_eq!(erp_sync.len(), 1);
    assert_eq!(
        stack.fake.messages(AUDIT).len(),
        1,
        "erp.order-synced reached the audit subscription"
    );

    let audit = FunctionsHost::new(&stack.fake, &stack.base_url, "audit-log", AUDIT);
    let deliveries = audit.drain(10).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, 200, "{:?}", deliveries[0].response);
    assert_eq!(deliveries[0].settled, Settled::Completed);
    let log = deliveries[0].response["Logs"][0]
        .as_str()
        .unwrap_or_default();
    assert!(
        log.starts_with("audit-log: ") && log.contains("handled"),
        "{log}"
    );
    assert!(stack.fake.messages(AUDIT).is_empty());
}

#[test]
fn each_function_keeps_its_own_idempotency_expiry() {
    let shared = Settings::from_pairs([("SWITCHYARD_IDEMPOTENCY", "memory")]);
    let expiry = |name: &str, settings: &Settings| {
        let f = switchyard_registry::find(name).unwrap();
        idempotency_expiry(&f, &settings.scoped(name)).unwrap()
    };
    // the drift this guards against: erp-sync on Azure used crm-webhook's 3-day window
    assert_eq!(expiry("erp-sync", &shared), Duration::from_secs(3600));
    assert_eq!(
        expiry("crm-webhook", &shared),
        Duration::from_secs(3 * 24 * 3600)
    );
    let tuned = Settings::from_pairs([("ERP_SYNC__SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS", "60")]);
    assert_eq!(expiry("erp-sync", &tuned), Duration::from_secs(60));
    assert_eq!(
        expiry("crm-webhook", &tuned),
        Duration::from_secs(3 * 24 * 3600)
    );
}
