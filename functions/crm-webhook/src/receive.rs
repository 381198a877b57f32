//! The request flow up to delivery: the provider is configured, the
//! content type and size are acceptable, the body is read, verified and
//! mapped; then [`deliver`] dedupes and publishes. Refusals are logged here.

use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use switchyard_webhooks::{
    Mapped, Provider, SignedRequest, cloudevents, dynamics, hubspot, public_uri, salesforce,
    standard, stripe,
};

use crate::delivery::deliver;
use crate::refusal::{Refusal, content_type_ok};
use crate::router::AppState;

fn configured(state: &AppState, provider: Provider) -> bool {
    let p = &state.providers;
    match provider {
        Provider::Dynamics => p.dynamics.is_some(),
        Provider::HubSpot => p.hubspot.is_some(),
        Provider::Salesforce => p.salesforce.is_some(),
        Provider::Standard => p.standard.is_some(),
        Provider::Stripe => p.stripe.is_some(),
        Provider::CloudEvents => p.cloudevents.is_some(),
    }
}

pub(crate) async fn handle(state: &AppState, provider: Provider, request: Request) -> Response {
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
    let mapped = verify_and_map(state, provider, &signed).await?;
    deliver(state, provider, mapped).await
}

async fn verify_and_map(
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
            let auth = p
                .dynamics
                .as_ref()
                .ok_or_else(not_configured)?
                .get()
                .await?;
            dynamics::verify(request, &auth)?;
            let ctx = dynamics::parse(request.body)?;
            let size_exceeded = request.headers.contains_key(dynamics::SIZE_EXCEEDED_HEADER);
            dynamics::map(&ctx, size_exceeded, &state.map_options)?
        }
        Provider::HubSpot => {
            let auth = p.hubspot.as_ref().ok_or_else(not_configured)?.get().await?;
            hubspot::verify(request, &auth, now)?;
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
            let id = standard::verify(request, &*config.auth.get().await?, now)?;
            standard::map(
                &id,
                standard::parse(request.body)?,
                config.event_type.as_deref(),
                &state.map_options,
            )?
        }
        Provider::CloudEvents => {
            let auth = p
                .cloudevents
                .as_ref()
                .ok_or_else(not_configured)?
                .get()
                .await?;
            cloudevents::verify(request, &auth)?;
            cloudevents::map(cloudevents::parse(request)?, &state.map_options)?
        }
        Provider::Stripe => {
            let config = p.stripe.as_ref().ok_or_else(not_configured)?;
            stripe::verify(request, &*config.auth.get().await?, now)?;
            stripe::map(
                stripe::parse(request.body)?,
                config.event_type.as_deref(),
                &state.map_options,
            )?
        }
    })
}
