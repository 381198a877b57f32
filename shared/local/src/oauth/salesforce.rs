//! The Salesforce client-credentials token endpoint: no `expires_in`,
//! errors as `{"error", "error_description"}` with 400.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::{OAuthState, form, now_secs};

pub(super) async fn token(
    State(oauth): State<OAuthState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let unavailable = {
        let mut records = oauth.lock();
        records.requests += 1;
        records.unavailable
    };
    if unavailable {
        return (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let error = |error: &str, description: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": error, "error_description": description })),
        )
            .into_response()
    };
    if field("grant_type") != Some("client_credentials") {
        return error("unsupported_grant_type", "grant type not supported");
    }
    let Some(client_id) = field("client_id") else {
        return error("invalid_client_id", "client identifier invalid");
    };
    let registered = oauth.lock().secrets.get(client_id).cloned();
    let Some(secret) = registered else {
        return error("invalid_client_id", "client identifier invalid");
    };
    if field("client_secret") != Some(secret.as_str()) {
        return error("invalid_client", "invalid client credentials");
    }
    let (token, _) = oauth.issue();
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let instance_url = format!("http://{host}");
    let id = format!("{instance_url}/id/00D000000000001EAA/005000000000001AAA");
    let issued_at = (now_secs() * 1000).to_string();
    // Salesforce signs id + issued_at with the client secret (HMAC-SHA256)
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    let signature = STANDARD.encode(aws_lc_rs::hmac::sign(
        &key,
        format!("{id}{issued_at}").as_bytes(),
    ));
    Json(json!({
        "access_token": token,
        "instance_url": instance_url,
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
        "signature": signature,
    }))
    .into_response()
}
