//! The router (`app`) and the state it runs on: [`AppState`], built from a
//! [`Config`] with the publisher and store given.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::routing::{options, post};
use switchyard_idempotency::IdempotencyStore;
use switchyard_publish::Publisher;
use switchyard_webhooks::{MapOptions, Provider};

use crate::config::{Config, Providers};
use crate::handshake::validate;
use crate::receive::handle;

/// Everything a request needs: where events go, the dedupe store, the
/// verified provider settings and the limits.
#[derive(Clone)]
pub struct AppState {
    /// Where mapped events are published.
    pub publisher: Arc<dyn Publisher>,
    /// The dedupe store (key prefix [`FUNCTION_NAME`](crate::FUNCTION_NAME)).
    pub store: Arc<dyn IdempotencyStore>,
    /// The providers with a secret; the others answer 404.
    pub providers: Providers,
    /// What CRM payloads cannot say (currencies).
    pub map_options: MapOptions,
    /// Larger bodies are refused with 413.
    pub body_limit_bytes: usize,
    /// The URL the CRM calls (for schemes that sign the URI); `None`: `https://<Host>`.
    pub public_base_url: Option<String>,
    /// How long one delivery's claim holds if this invocation dies.
    pub claim_ttl: Duration,
}

impl AppState {
    /// A state from a config, with the publisher and store given.
    pub fn new(
        config: Config,
        publisher: Arc<dyn Publisher>,
        store: Arc<dyn IdempotencyStore>,
    ) -> Self {
        AppState {
            publisher,
            store,
            providers: config.providers,
            map_options: config.map_options,
            body_limit_bytes: config.body_limit_bytes,
            public_base_url: config.public_base_url,
            claim_ttl: config.claim_ttl,
        }
    }
}

/// The routes: `POST /webhooks/{dynamics,hubspot,salesforce,standard,stripe,cloudevents}`,
/// and `OPTIONS /webhooks/cloudevents` (the CloudEvents abuse-protection handshake).
/// The same router runs on Lambda and Azure (as [`WebhookApp`](crate::WebhookApp)), in the local stack and in tests.
pub fn app(state: AppState) -> Router {
    let state = Arc::new(state);
    let route = |provider: Provider| {
        post(
            move |State(state): State<Arc<AppState>>, request: Request| async move {
                handle(&state, provider, request).await
            },
        )
    };
    Router::new()
        .route("/webhooks/dynamics", route(Provider::Dynamics))
        .route("/webhooks/hubspot", route(Provider::HubSpot))
        .route("/webhooks/salesforce", route(Provider::Salesforce))
        .route("/webhooks/standard", route(Provider::Standard))
        .route("/webhooks/stripe", route(Provider::Stripe))
        .route(
            "/webhooks/cloudevents",
            route(Provider::CloudEvents).merge(options(
                |State(state): State<Arc<AppState>>, request: Request| async move {
                    validate(&state, request).await
                },
            )),
        )
        .with_state(state)
}
