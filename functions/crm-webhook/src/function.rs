//! crm-webhook's one declaration: an HTTP function whose app is the
//! webhook router over the platform's publisher and dedupe store.

use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use switchyard_contracts::Event;
use switchyard_contracts::events::{CustomerUpdatedV1, OrderPlacedV2};
use switchyard_secrets::SecretResolver;
use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{AuthLevel, Function, HttpApp, HttpMethod, Setting, Trigger};
use tower::ServiceExt;

use crate::FUNCTION_NAME;
use crate::config::{Config, DEFAULT_DEDUPE_SECS};
use crate::router::{AppState, app};

/// Largest answer read back from the router (answers are small JSON or a SOAP Ack).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// The settings crm-webhook reads besides the platform's.
pub const SETTINGS: &[Setting] = &[
    Setting::optional(
        "SWITCHYARD_DYNAMICS_WEBHOOK_KEY",
        "Dynamics 365 webhook keys (comma-separated)",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_DYNAMICS_WEBHOOK_HEADER",
        "the header Dynamics sends the key in",
        "x-switchyard-key",
    ),
    Setting::optional(
        "SWITCHYARD_HUBSPOT_CLIENT_SECRET",
        "HubSpot app client secrets",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_HUBSPOT_ACCEPT_LEGACY_SIGNATURES",
        "accept HubSpot v1/v2 signatures",
        "false",
    ),
    Setting::optional(
        "SWITCHYARD_SALESFORCE_ORG_IDS",
        "Salesforce org ids whose outbound messages are accepted",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
        "Standard Webhooks secrets (whsec_...)",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_STANDARD_WEBHOOK_EVENT_TYPE",
        "the contract type of Standard Webhooks payloads",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_STRIPE_WEBHOOK_SECRET",
        "Stripe-style webhook secrets",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_STRIPE_WEBHOOK_EVENT_TYPE",
        "the contract type of Stripe-style payloads",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN",
        "CloudEvents access tokens (Bearer or access_token)",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS",
        "origins the CloudEvents handshake consents to (comma-separated, or *)",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_CLOUDEVENTS_ALLOWED_RATE",
        "the rate the CloudEvents handshake grants (requests per minute, or *)",
        "*",
    ),
    Setting::optional(
        "SWITCHYARD_DEFAULT_CURRENCY",
        "the currency of CRM amounts that carry none",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_DYNAMICS_CURRENCIES",
        "<transactioncurrencyid>=<ISO>,...",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_PUBLIC_BASE_URL",
        "the URL the CRM calls (schemes that sign the URI)",
        "",
    ),
    Setting::optional(
        "SWITCHYARD_WEBHOOK_BODY_LIMIT_BYTES",
        "larger bodies are refused with 413",
        "1048576",
    ),
    Setting::optional(
        "SWITCHYARD_WEBHOOK_CLAIM_SECS",
        "how long one delivery's claim holds",
        "30",
    ),
];

/// The webhook router as an [`HttpApp`].
pub struct WebhookApp {
    router: Router,
}

impl WebhookApp {
    /// The app over a state.
    pub fn new(state: AppState) -> Self {
        WebhookApp { router: app(state) }
    }
}

#[async_trait::async_trait]
impl HttpApp for WebhookApp {
    async fn call(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
        let response = match self.router.clone().oneshot(request.map(Body::from)).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let (parts, body) = response.into_parts();
        match to_bytes(body, MAX_ANSWER_BYTES).await {
            Ok(bytes) => http::Response::from_parts(parts, bytes.to_vec()),
            Err(e) => {
                tracing::error!(error = %e, "WebhookAnswerReadError");
                let mut response = http::Response::new(Vec::new());
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }
}

/// The registration: a Function URL on Lambda, an HTTP trigger on Azure
/// (`POST` and `OPTIONS` — the CloudEvents validation handshake — on
/// `api/webhooks/{provider}`, anonymous: every provider's signature is
/// verified here), `/webhooks/*` locally. Its dedupe store is the
/// platform's idempotency store; records live 3 days by default (HubSpot's
/// retry horizon).
pub fn function() -> Function {
    Function::http(FUNCTION_NAME, &[Trigger::Http], |ctx, store| async move {
        // a secret may be a secret store reference when the host gives a
        // resolver (Lambda); without one, plain values only
        let secrets = ctx.resources.get::<SecretResolver>().unwrap_or_default();
        let config = Config::load(&ctx.settings, &secrets).await?;
        let store = store.ok_or_else(|| {
            ConfigError::missing(
                ctx.settings.describe("SWITCHYARD_IDEMPOTENCY"),
                "the dedupe store",
            )
        })?;
        Ok(WebhookApp::new(AppState::new(config, ctx.publisher, store)))
    })
    .summary(
        "verifies signed CRM webhooks, dedupes deliveries, maps them to contracts and publishes",
    )
    .publishes(&[OrderPlacedV2::TYPE, CustomerUpdatedV1::TYPE])
    .settings(SETTINGS)
    .idempotency_expiry(Duration::from_secs(DEFAULT_DEDUPE_SECS))
    .route("webhooks/{provider}")
    .methods(&[HttpMethod::Post, HttpMethod::Options])
    .auth_level(AuthLevel::Anonymous)
}
