//! The crm-webhook routes of the local stack: the function's own axum
//! `app()`, publishing onto the local bus and deduplicating in the stack's
//! embedded store.

use axum::Router;

use crate::stack::StackHandle;

/// Secrets and settings used when the environment does not set them —
/// for local runs only, documented in the README, never for a deployment.
pub const LOCAL_DEFAULTS: &[(&str, &str)] = &[
    ("SWITCHYARD_DYNAMICS_WEBHOOK_KEY", "local-dynamics-key"),
    ("SWITCHYARD_HUBSPOT_CLIENT_SECRET", "local-hubspot-secret"),
    (
        "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
        "whsec_bG9jYWwtc3RhbmRhcmQtd2ViaG9vay1zZWNyZXQ=",
    ),
    ("SWITCHYARD_STRIPE_WEBHOOK_SECRET", "whsec_local_stripe"),
    ("SWITCHYARD_SALESFORCE_ORG_IDS", "00D000000000001EAA"),
    ("SWITCHYARD_DEFAULT_CURRENCY", "EUR"),
    // the stack passes its own store; this only satisfies the config reader
    ("SWITCHYARD_IDEMPOTENCY", "memory"),
];

/// A local default (`LOCAL_DEFAULTS`) by variable name.
pub fn local_default(var: &str) -> Option<&'static str> {
    LOCAL_DEFAULTS
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| *v)
}

/// The webhook routes, configured from the environment over the local
/// defaults; `public_base_url` is what clients call (for URI signatures).
pub fn router(handle: &StackHandle, public_base_url: &str) -> Result<Router, String> {
    let lookup = |var: &str| -> Option<String> {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .or_else(|| (var == "SWITCHYARD_PUBLIC_BASE_URL").then(|| public_base_url.to_owned()))
            .or_else(|| local_default(var).map(str::to_owned))
    };
    let config = switchyard_crm_webhook::Config::from_lookup(&lookup).map_err(|e| e.to_string())?;
    let state = switchyard_crm_webhook::AppState::new(
        config,
        handle.publisher.clone(),
        handle.store.clone(),
    );
    Ok(switchyard_crm_webhook::app(state))
}
