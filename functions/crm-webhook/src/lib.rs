#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod config;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_idempotency::{
    ClaimOutcome, ClaimRequest, Completion, IdempotencyStore, StoreOptions,
};
use switchyard_publish::{EventBridgeConfig, EventBridgePublisher, Publisher, to_outgoing};
use switchyard_webhooks::{
    MapError, MapOptions, Mapped, Provider, SignedRequest, VerifyError, dynamics, hubspot,
    public_uri, salesforce, standard, stripe,
};

pub use config::{
    Config, ConfigError, DEFAULT_BODY_LIMIT_BYTES, DEFAULT_CLAIM_SECS, DEFAULT_DEDUPE_SECS,
    PassThroughConfig, Providers,
};

/// The function's name: the idempotency key prefix and log field.
pub const FUNCTION_NAME: &str = "crm-webhook";

/// The header that carries the published event ids on Salesforce answers
/// (whose body must be the SOAP Ack).
pub const EVENT_IDS_HEADER: &str = "x-switchyard-event-ids";

/// Everything a request needs: where events go, the dedupe store, the
/// verified provider settings and the limits.
#[derive(Clone)]
pub struct AppState {
    /// Where mapped events are published.
    pub publisher: Arc<dyn Publisher>,
    /// The dedupe store (key prefix [`FUNCTION_NAME`]).
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

/// Reads the environment and builds the state as `main` does: EventBridge
/// (`EVENT_BUS_NAME`) and the `SWITCHYARD_IDEMPOTENCY` store.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn state_from_env() -> Result<AppState, ConfigError> {
    let config = Config::from_env()?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let publisher = Arc::new(EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&aws),
        EventBridgeConfig::from_env()?,
    ));
    let store = config.store.open(
        StoreOptions::default().with_expiry(config.dedupe_window),
        || aws_sdk_dynamodb::Client::new(&aws),
    )?;
    Ok(AppState::new(config, publisher, store))
}

/// The routes: `POST /webhooks/{dynamics,hubspot,salesforce,standard,stripe}`.
/// The same router runs on Lambda (`lambda_http::run`), in the local stack and in tests.
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
        .with_state(state)
}

/// What is stored per completed delivery and answered to duplicates.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDelivery {
    event_ids: Vec<String>,
}

/// A refusal: status, a bounded code and a message that names what is wrong.
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after_secs: Option<u64>,
}

impl Refusal {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Refusal {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }
}

impl From<VerifyError> for Refusal {
    fn from(e: VerifyError) -> Self {
        Refusal::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string())
    }
}

impl From<MapError> for Refusal {
    fn from(e: MapError) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({ "error": self.code, "message": self.message })),
        )
            .into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

fn content_type_ok(provider: Provider, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match provider {
        Provider::Salesforce => media == "text/xml" || media == "application/soap+xml",
        Provider::Standard | Provider::Stripe => {
            media == "application/json" || media == "application/cloudevents+json"
        }
        Provider::Dynamics | Provider::HubSpot => media == "application/json",
    }
}

fn configured(state: &AppState, provider: Provider) -> bool {
    let p = &state.providers;
    match provider {
        Provider::Dynamics => p.dynamics.is_some(),
        Provider::HubSpot => p.hubspot.is_some(),
        Provider::Salesforce => p.salesforce.is_some(),
        Provider::Standard => p.standard.is_some(),
        Provider::Stripe => p.stripe.is_some(),
    }
}

async fn handle(state: &AppState, provider: Provider, request: Request) -> Response {
    match receive(state, provider, request).await {
        Ok(response) => response,
        Err(refusal) => {
            tracing::warn!(
                provider = provider.as_str(),
                status = refusal.status.as_u16(),
                error_code = refusal.code,
                message = %refusal.message,
                "CrmWebhookRefused"
            );
            refusal.into_response()
        }
    }
}

async fn receive(
    state: &AppState,
    provider: Provider,
    request: Request,
) -> Result<Response, Refusal> {
    if !configured(state, provider) {
        return Err(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no {provider} webhook is configured here"),
        ));
    }
    let (parts, body) = request.into_parts();
    if !content_type_ok(provider, &parts.headers) {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            match provider {
                Provider::Salesforce => "expected Content-Type text/xml",
                _ => "expected Content-Type application/json",
            },
        ));
    }
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body is over the {}-byte limit", state.body_limit_bytes),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > state.body_limit_bytes as u64) {
        return Err(too_large());
    }
    // In-memory and Lambda bodies fail only on the limit.
    let body = to_bytes(body, state.body_limit_bytes)
        .await
        .map_err(|_| too_large())?;
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = public_uri(
        state.public_base_url.as_deref(),
        &parts.headers,
        path_and_query,
    );
    let signed = SignedRequest {
        method: parts.method.as_str(),
        uri: &uri,
        headers: &parts.headers,
        body: &body,
    };
    let mapped = verify_and_map(state, provider, &signed)?;
    deliver(state, provider, mapped).await
}

fn verify_and_map(
    state: &AppState,
    provider: Provider,
    request: &SignedRequest<'_>,
) -> Result<Mapped, Refusal> {
    let p = &state.providers;
    let now = Utc::now();
    let not_configured = || {
        Refusal::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "provider not configured",
        )
    };
    Ok(match provider {
        Provider::Dynamics => {
            dynamics::verify(request, p.dynamics.as_ref().ok_or_else(not_configured)?)?;
            let ctx = dynamics::parse(request.body)?;
            let size_exceeded = request.headers.contains_key(dynamics::SIZE_EXCEEDED_HEADER);
            dynamics::map(&ctx, size_exceeded, &state.map_options)?
        }
        Provider::HubSpot => {
            hubspot::verify(request, p.hubspot.as_ref().ok_or_else(not_configured)?, now)?;
            hubspot::map(&hubspot::parse(request.body)?)?
        }
        Provider::Salesforce => {
            // Outbound messages carry their proof (the organisation) in the body.
            let message = salesforce::parse(request.body)?;
            salesforce::verify(&message, p.salesforce.as_ref().ok_or_else(not_configured)?)?;
            salesforce::map(&message, &state.map_options)?
        }
        Provider::Standard => {
            let config = p.standard.as_ref().ok_or_else(not_configured)?;
            let id = standard::verify(request, &config.auth, now)?;
            standard::map(
                &id,
                standard::parse(request.body)?,
                config.event_type.as_deref(),
                &state.map_options,
            )?
        }
        Provider::Stripe => {
            let config = p.stripe.as_ref().ok_or_else(not_configured)?;
            stripe::verify(request, &config.auth, now)?;
            stripe::map(
                stripe::parse(request.body)?,
                config.event_type.as_deref(),
                &state.map_options,
            )?
        }
    })
}

fn key(provider: Provider, delivery: &str) -> String {
    format!("{FUNCTION_NAME}#{provider}:{delivery}")
}

fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Refusal {
    Refusal {
        retry_after_secs: Some(retry_after_secs),
        ..Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}

async fn release(state: &AppState, keys: Vec<String>) {
    if keys.is_empty() {
        return;
    }
    if let Err(e) = state.store.release_many(&keys).await {
        // The claims run out at their deadline anyway.
        tracing::warn!(error = %e, "CrmWebhookReleaseFailed");
    }
}

/// Dedupe, publish, record. Nothing is published unless the whole request
/// verified and mapped (the caller got here only then).
async fn deliver(
    state: &AppState,
    provider: Provider,
    mapped: Mapped,
) -> Result<Response, Refusal> {
    for u in &mapped.unmapped {
        tracing::info!(provider = provider.as_str(), delivery_id = %u.delivery_id, kind = %u.kind, reason = u.reason, "CrmEventUnmapped");
    }
    let keys: Vec<String> = mapped.deliveries.iter().map(|d| key(provider, d)).collect();
    let until = SystemTime::now() + state.claim_ttl;
    let requests: Vec<ClaimRequest> = keys
        .iter()
        .map(|k| ClaimRequest::new(k.clone(), until))
        .collect();
    // No payload hash: HubSpot's retries differ in `attemptNumber`, so the
    // delivery id alone is the identity.
    let outcomes = if requests.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .claim_many(&requests)
            .await
            .map_err(|e| unavailable(format!("the dedupe store is unavailable: {e}"), 5))?
    };
    let claimed: Vec<bool> = outcomes
        .iter()
        .map(|o| matches!(o, ClaimOutcome::Claimed))
        .collect();
    let claimed_keys = || -> Vec<String> {
        keys.iter()
            .zip(&claimed)
            .filter(|(_, c)| **c)
            .map(|(k, _)| k.clone())
            .collect()
    };
    let mut busy_until = None;
    let mut prior_ids: Vec<String> = Vec::new();
    for outcome in &outcomes {
        match outcome {
            // PayloadMismatch cannot happen without payload hashes; treat it as busy.
            ClaimOutcome::InProgress { .. } | ClaimOutcome::PayloadMismatch => {
                let until = match outcome {
                    ClaimOutcome::InProgress { until } => *until,
                    _ => SystemTime::now(),
                };
                busy_until = Some(busy_until.map_or(until, |b: SystemTime| b.max(until)));
            }
            ClaimOutcome::Completed { response } => {
                if let Ok(stored) = serde_json::from_str::<StoredDelivery>(response) {
                    prior_ids.extend(stored.event_ids);
                }
            }
            ClaimOutcome::Claimed => {}
        }
    }
    if let Some(until) = busy_until {
        release(state, claimed_keys()).await;
        let secs = until
            .duration_since(SystemTime::now())
            .map_or(1, |d| d.as_secs() + 1)
            .clamp(1, 60);
        return Err(unavailable(
            "another invocation is processing this delivery; retry later",
            secs,
        ));
    }
    let to_publish: Vec<_> = mapped
        .events
        .iter()
        .filter(|e| e.deliveries.iter().any(|d| claimed[*d]))
        .collect();
    let mut outgoing = Vec::with_capacity(to_publish.len());
    for event in &to_publish {
        match to_outgoing(&event.envelope) {
            Ok(o) => outgoing.push(o),
            Err(e) => {
                release(state, claimed_keys()).await;
                return Err(Refusal::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "encode_failed",
                    e.to_string(),
                ));
            }
        }
    }
    let published = outgoing.len();
    if published > 0 {
        if let Err(e) = state.publisher.publish_all(outgoing).await {
            release(state, claimed_keys()).await;
            tracing::error!(provider = provider.as_str(), error = %e, error_code = e.code(), "CrmWebhookPublishFailed");
            return Err(unavailable(
                "the event bus did not accept the events; retry",
                5,
            ));
        }
    }
    let completions: Vec<Completion> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| claimed[*i])
        .map(|(i, k)| {
            let event_ids = mapped
                .events
                .iter()
                .filter(|e| e.deliveries.contains(&i))
                .map(|e| e.envelope.id.clone())
                .collect();
            Completion::new(
                k.clone(),
                serde_json::to_string(&StoredDelivery { event_ids }).unwrap_or_default(),
            )
        })
        .collect();
    if !completions.is_empty() {
        if let Err(e) = state.store.complete_many(&completions).await {
            // Published but not recorded: a retry after the claim runs out
            // republishes the same (deterministic) event ids.
            tracing::warn!(error = %e, "CrmWebhookCompleteFailed");
        }
    }
    let mut seen = BTreeSet::new();
    let event_ids: Vec<String> = prior_ids
        .into_iter()
        .chain(to_publish.iter().map(|e| e.envelope.id.clone()))
        .filter(|id| seen.insert(id.clone()))
        .collect();
    let duplicates = claimed.iter().filter(|c| !**c).count();
    tracing::info!(
        provider = provider.as_str(),
        published,
        duplicates,
        unmapped = mapped.unmapped.len(),
        "CrmWebhookAccepted"
    );
    let status = if published > 0 {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    if provider == Provider::Salesforce {
        // Salesforce needs 200 and the SOAP Ack, or it retries for 24 hours.
        let mut response = Response::new(Body::from(salesforce::ACK));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&event_ids.join(",")) {
            response.headers_mut().insert(EVENT_IDS_HEADER, v);
        }
        return Ok(response);
    }
    let status_text = if published > 0 {
        "published"
    } else if duplicates > 0 {
        "duplicate"
    } else {
        "acknowledged"
    };
    let unmapped: Vec<_> = mapped
        .unmapped
        .iter()
        .map(|u| json!({ "id": u.delivery_id, "kind": u.kind, "reason": u.reason }))
        .collect();
    Ok((
        status,
        axum::Json(json!({
            "status": status_text,
            "eventIds": event_ids,
            "published": published,
            "duplicates": duplicates,
            "unmapped": unmapped,
        })),
    )
        .into_response())
}
