//! `OPTIONS /webhooks/cloudevents`: the CloudEvents abuse-protection
//! handshake (cloudevents/spec `cloudevents/http-webhook.md` §4), as Azure
//! Event Grid runs it before delivering CloudEvents to a webhook.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use switchyard_webhooks::cloudevents::{
    self, ALLOWED_ORIGIN_HEADER, ALLOWED_RATE_HEADER, HandshakeError,
};
use switchyard_webhooks::{Provider, SignedRequest};

use crate::refusal::Refusal;
use crate::router::AppState;

const ALLOW: HeaderValue = HeaderValue::from_static("POST, OPTIONS");

/// Consent (200 with `WebHook-Allowed-Origin` and `WebHook-Allowed-Rate`)
/// for an allowed origin; 403 without them for another; 400 for a request
/// without `WebHook-Request-Origin`; 404 when CloudEvents is not configured.
/// Every answer carries `Allow: POST, OPTIONS`.
pub(crate) async fn validate(state: &AppState, request: Request) -> Response {
    let Some(keys) = state.providers.cloudevents.as_ref() else {
        return refused(Refusal::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no cloudevents webhook is configured here",
        ));
    };
    let auth = match keys.get().await {
        Ok(auth) => auth,
        Err(e) => return refused(e.into()),
    };
    let (parts, _) = request.into_parts();
    let uri = parts.uri.to_string();
    let signed = SignedRequest {
        method: parts.method.as_str(),
        uri: &uri,
        headers: &parts.headers,
        body: b"",
    };
    match cloudevents::handshake(&signed, &auth) {
        Ok(consent) => {
            tracing::info!(origin = %consent.origin, rate = %consent.rate, "CloudEventsHandshakeAllowed");
            let mut response = StatusCode::OK.into_response();
            let headers = response.headers_mut();
            headers.insert(header::ALLOW, ALLOW);
            for (name, value) in [
                (ALLOWED_ORIGIN_HEADER, consent.origin),
                (ALLOWED_RATE_HEADER, consent.rate),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
            response
        }
        Err(e @ HandshakeError::Malformed(_)) => refused(Refusal::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            e.to_string(),
        )),
        Err(e @ HandshakeError::NotAllowed(_)) => refused(Refusal::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            e.to_string(),
        )),
    }
}

fn refused(refusal: Refusal) -> Response {
    tracing::warn!(
        provider = Provider::CloudEvents.as_str(),
        status = refusal.status.as_u16(),
        error_code = refusal.code,
        message = %refusal.message,
        "CloudEventsHandshakeRefused"
    );
    let mut response = refusal.into_response();
    response.headers_mut().insert(header::ALLOW, ALLOW);
    response
}
