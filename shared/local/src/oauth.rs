//! The OAuth 2.0 token endpoint stub of the local stack (and of tests):
//! client-credentials grants as Entra ID v2 and Salesforce answer them,
//! and a record of the tokens it issued so a resource stub can check them.
//!
//! `POST /{tenant}/oauth2/v2.0/token` (Entra ID v2): a registered client's
//! `client_secret`, or a `client_assertion` (RS256 JWT, RFC 7523) signed by
//! a registered certificate's key; success is
//! `{"token_type":"Bearer","expires_in":N,"ext_expires_in":N,"access_token":..}`,
//! errors carry Entra's `error`, `error_description` (with its AADSTS code),
//! `error_codes`, `timestamp`, `trace_id`, `correlation_id`, with 400, or
//! 401 for `invalid_client`.
//!
//! `POST /services/oauth2/token` (Salesforce's client-credentials flow):
//! success has `access_token`, `instance_url`, `id`, `token_type`,
//! `issued_at`, `signature` and no `expires_in`; errors are
//! `{"error":..,"error_description":..}` with 400.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

/// `client_assertion_type` of a JWT assertion (RFC 7523 §2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock skew the assertion's `nbf`/`exp` are allowed.
const SKEW_SECS: u64 = 300;

struct Certificate {
    thumbprint_sha256: [u8; 32],
    public_key_der: Vec<u8>,
}

struct Records {
    secrets: HashMap<String, String>,
    certificates: HashMap<String, Certificate>,
    /// token → when it expires
    issued: HashMap<String, Instant>,
    lifetime: Duration,
    unavailable: bool,
    requests: usize,
}

impl Default for Records {
    fn default() -> Self {
        Records {
            secrets: HashMap::new(),
            certificates: HashMap::new(),
            issued: HashMap::new(),
            lifetime: Duration::from_secs(3599),
            unavailable: false,
            requests: 0,
        }
    }
}

/// The stub's routes and records, to mount in another server. Clones share
/// the records.
#[derive(Clone, Default)]
pub struct OAuthState {
    records: Arc<Mutex<Records>>,
}

impl OAuthState {
    /// New records: no client, tokens valid for 3599 s.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The routes: `POST /{tenant}/oauth2/v2.0/token` and
    /// `POST /services/oauth2/token`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(entra_token))
            .route("/services/oauth2/token", post(salesforce_token))
            .with_state(self.clone())
    }

    /// `client_id` authenticates with `secret`.
    pub fn register_secret(&self, client_id: &str, secret: &str) {
        self.lock()
            .secrets
            .insert(client_id.to_owned(), secret.to_owned());
    }

    /// `client_id` authenticates with assertions signed by the key of
    /// `certificate_der` (its SHA-256 thumbprint is expected in `x5t#S256`),
    /// whose public key is `public_key_der` (SubjectPublicKeyInfo or PKCS#1).
    pub fn register_certificate(
        &self,
        client_id: &str,
        certificate_der: &[u8],
        public_key_der: &[u8],
    ) {
        let mut thumbprint_sha256 = [0u8; 32];
        thumbprint_sha256
            .copy_from_slice(digest::digest(&digest::SHA256, certificate_der).as_ref());
        self.lock().certificates.insert(
            client_id.to_owned(),
            Certificate {
                thumbprint_sha256,
                public_key_der: public_key_der.to_vec(),
            },
        );
    }

    /// Tokens issued from now on are valid for `lifetime`.
    pub fn set_lifetime(&self, lifetime: Duration) {
        self.lock().lifetime = lifetime;
    }

    /// While `true`, every token request is answered 503.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.lock().unavailable = unavailable;
    }

    /// True when `token` was issued here, is not revoked and has not expired.
    pub fn accepts(&self, token: &str) -> bool {
        self.lock()
            .issued
            .get(token)
            .is_some_and(|expires| Instant::now() < *expires)
    }

    /// Revokes every token issued so far.
    pub fn revoke_all(&self) {
        self.lock().issued.clear();
    }

    /// How many token requests arrived (answered or refused).
    pub fn requests(&self) -> usize {
        self.lock().requests
    }

    fn issue(&self) -> (String, Duration) {
        let mut records = self.lock();
        let token = format!("stub-{}", uuid::Uuid::new_v4().simple());
        let lifetime = records.lifetime;
        records
            .issued
            .insert(token.clone(), Instant::now() + lifetime);
        (token, lifetime)
    }
}

/// A running stub on its own port; stops when dropped.
pub struct OAuthStub {
    addr: SocketAddr,
    oauth: OAuthState,
    task: tokio::task::JoinHandle<()>,
}

impl OAuthStub {
    /// Starts the stub on a free 127.0.0.1 port.
    pub async fn start() -> OAuthStub {
        let oauth = OAuthState::new();
        let app = oauth.router();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OAuth stub");
        let addr = listener.local_addr().expect("stub address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        OAuthStub { addr, oauth, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Entra ID v2 token URL of `tenant` on this stub.
    pub fn entra_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url())
    }

    /// The Salesforce token URL on this stub.
    pub fn salesforce_token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.base_url())
    }

    /// The records.
    pub fn state(&self) -> &OAuthState {
        &self.oauth
    }
}

impl Drop for OAuthStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

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

async fn entra_token(
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

async fn salesforce_token(
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
