//! Refusals: the HTTP answers for a request that is not accepted
//! ([`Refusal`], its status, code and message), and the content-type check.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use switchyard_webhooks::{MapError, Provider, VerifyError};

/// A refusal: status, a bounded code and a message that names what is wrong.
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    retry_after_secs: Option<u64>,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
        match e {
            MapError::UnsupportedMediaType(_) => Refusal::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                e.to_string(),
            ),
            _ => Refusal::new(StatusCode::BAD_REQUEST, "bad_request", e.to_string()),
        }
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

pub(crate) fn content_type_ok(provider: Provider, headers: &HeaderMap) -> bool {
    if provider == Provider::CloudEvents {
        // the content mode decides (structured, batched, or binary with any
        // JSON data or none); `cloudevents::parse` answers 415 itself
        return true;
    }
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
        Provider::CloudEvents => true,
    }
}

pub(crate) fn unavailable(message: impl Into<String>, retry_after_secs: u64) -> Refusal {
    Refusal {
        retry_after_secs: Some(retry_after_secs),
        ..Refusal::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
}
