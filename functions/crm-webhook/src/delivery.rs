//! Delivering a verified, mapped request: claim its delivery ids in the
//! dedupe store, publish the events of claimed deliveries, record each
//! delivery's event ids ([`StoredDelivery`]) and answer.

use std::collections::BTreeSet;
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchyard_idempotency::{ClaimOutcome, ClaimRequest, Completion};
use switchyard_publish::to_outgoing;
use switchyard_webhooks::{Mapped, Provider, salesforce};

use crate::refusal::{Refusal, unavailable};
use crate::router::AppState;
use crate::{EVENT_IDS_HEADER, FUNCTION_NAME};

/// What is stored per completed delivery and answered to duplicates.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredDelivery {
    event_ids: Vec<String>,
}

fn key(provider: Provider, delivery: &str) -> String {
    format!("{FUNCTION_NAME}#{provider}:{delivery}")
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
pub(crate) async fn deliver(
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
