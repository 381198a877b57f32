//! The Entra ID v2 token endpoint: client secrets and RS256 certificate
//! assertions, errors in Entra's shape with their AADSTS codes.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{OAuthState, form, now_secs};

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew the assertion's `nbf`/`exp` are allowed.
const SKEW_SECS: u64 = 300;

/// An error in Entra ID's shape.
fn entra_error(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    let timestamp = chrono::Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace_id = uuid::Uuid::new_v4().to_string();
    let correlation_id = uuid::Uuid::new_v4().to_string();
    let body = json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    });
    (status, Json(body)).into_response()
}

fn invalid_client(code: u32, message: &str) -> Response {
    entra_error(StatusCode::UNAUTHORIZED, "invalid_client", code, message)
}

pub(super) async fn token(
    State(oauth): State<OAuthState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let unavailable = {
        let mut records = oauth.lock();
        records.requests += 1;
        records.unavailable
    };
    if unavailable {
        return entra_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        );
    }
    let form = form(&body);
    let field = |name: &str| form.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let bad_request = |error: &str, code: u32, message: &str| {
        entra_error(StatusCode::BAD_REQUEST, error, code, message)
    };
    if field("grant_type") != Some("client_credentials") {
        return bad_request(
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    let Some(client_id) = field("client_id") else {
        return bad_request(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    let Some(scope) = field("scope") else {
        return bad_request(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    if !scope.ends_with("/.default") {
        return bad_request(
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    }
    let known = {
        let records = oauth.lock();
        records.secrets.contains_key(client_id) || records.certificates.contains_key(client_id)
    };
    if !known {
        return bad_request(
            "unauthorized_client",
            700016,
            "Application was not found in the directory.",
        );
    }
    if let Some(secret) = field("client_secret") {
        let matches = oauth
            .lock()
            .secrets
            .get(client_id)
            .is_some_and(|s| s == secret);
        if !matches {
            return invalid_client(7000215, "Invalid client secret provided.");
        }
    } else if let Some(jwt) = field("client_assertion") {
        if field("client_assertion_type") != Some(JWT_BEARER) {
            return bad_request(
                "invalid_request",
                70011,
                "The client_assertion_type is not supported.",
            );
        }
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        let path = format!("/{tenant}/oauth2/v2.0/token");
        if let Err((code, message)) = check_assertion(&oauth, client_id, jwt, host, &path) {
            return invalid_client(code, message);
        }
    } else {
        return invalid_client(
            7000216,
            "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        );
    }
    let (token, lifetime) = oauth.issue();
    let secs = lifetime.as_secs();
    Json(json!({
        "token_type": "Bearer",
        "expires_in": secs,
        "ext_expires_in": secs,
        "access_token": token,
    }))
    .into_response()
}

/// Checks a `client_assertion`: the registered thumbprint in `x5t#S256`,
/// the RS256 signature, `aud` (this endpoint), `iss`/`sub`, `nbf`/`exp`.
fn check_assertion(
    oauth: &OAuthState,
    client_id: &str,
    jwt: &str,
    host: &str,
    path: &str,
) -> Result<(), (u32, &'static str)> {
    let malformed = || (50027, "Invalid JWT token. The token is malformed.");
    let mut parts = jwt.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let decode = |part: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let (Some(head), Some(body), Ok(signature)) = (
        decode(header),
        decode(claims),
        URL_SAFE_NO_PAD.decode(signature),
    ) else {
        return Err(malformed());
    };
    if head["alg"] != "RS256" {
        return Err((5002738, "The JWT is not signed with RS256."));
    }
    let public_key = {
        let records = oauth.lock();
        let Some(cert) = records.certificates.get(client_id) else {
            return Err((700027, "No certificate is registered for this client."));
        };
        if head["x5t#S256"].as_str()
            != Some(URL_SAFE_NO_PAD.encode(cert.thumbprint_sha256).as_str())
        {
            return Err((
                700027,
                "Client assertion failed signature validation: the key was not found.",
            ));
        }
        cert.public_key_der.clone()
    };
    let signed = &jwt[..header.len() + 1 + claims.len()];
    if UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public_key)
        .verify(signed.as_bytes(), &signature)
        .is_err()
    {
        return Err((700027, "Client assertion failed signature validation."));
    }
    let audience_ok = body["aud"]
        .as_str()
        .and_then(|aud| url::Url::parse(aud).ok())
        .is_some_and(|aud| {
            let authority = match aud.port() {
                Some(port) => format!("{}:{port}", aud.host_str().unwrap_or("")),
                None => aud.host_str().unwrap_or("").to_owned(),
            };
            // mounted under a prefix (`/_oauth` in the local stack) the
            // endpoint's path ends with the route's
            authority == host && aud.path().ends_with(path)
        });
    if !audience_ok {
        return Err((
            700212,
            "No matching federated identity record found for presented assertion audience.",
        ));
    }
    if body["iss"].as_str() != Some(client_id) || body["sub"].as_str() != Some(client_id) {
        return Err((
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter.",
        ));
    }
    if body["jti"].as_str().is_none_or(str::is_empty) {
        return Err(malformed());
    }
    let now = now_secs();
    let exp = body["exp"].as_u64().unwrap_or(0);
    let nbf = body["nbf"].as_u64().unwrap_or(0);
    if exp.saturating_add(SKEW_SECS) <= now || nbf > now + SKEW_SECS {
        return Err((
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}
