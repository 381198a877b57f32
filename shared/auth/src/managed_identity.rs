//! The App Service / Azure Functions managed identity, as Microsoft
//! documents its REST protocol ("How to use managed identities for App
//! Service and Azure Functions"):
//!
//! ```text
//! GET {IDENTITY_ENDPOINT}?resource=<resource>&api-version=2019-08-01[&client_id=<user-assigned>]
//! X-IDENTITY-HEADER: {IDENTITY_HEADER}
//!
//! 200 {"access_token": "...", "expires_on": "1586984735", "resource": "...",
//!      "token_type": "Bearer", "client_id": "..."}
//! ```
//!
//! The platform sets `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` in the app's
//! environment when an identity is assigned; the header value is a secret
//! that rotates with the host and is never logged.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::Deserialize;
use switchyard_config::{ConfigError, Settings};

use crate::{REFRESH_MARGIN_DIVISOR, REFRESH_MARGIN_MAX, TokenError, TokenSource};

/// The protocol version this client speaks.
pub const API_VERSION: &str = "2019-08-01";

/// The variable holding the local token endpoint.
pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";

/// The variable holding the secret the endpoint expects in `X-IDENTITY-HEADER`.
pub const IDENTITY_HEADER: &str = "IDENTITY_HEADER";

/// Where the identity endpoint is and which token to ask it for.
/// `Debug` never shows the header secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ManagedIdentityConfig {
    /// `IDENTITY_ENDPOINT`, e.g. `http://127.0.0.1:41741/msi/token/`.
    pub endpoint: String,
    /// `IDENTITY_HEADER`, sent as `X-IDENTITY-HEADER`.
    pub header: String,
    /// The resource (audience) the token is for, e.g. `https://servicebus.azure.net`.
    pub resource: String,
    /// The client id of a user-assigned identity; `None` for the
    /// system-assigned one.
    pub client_id: Option<String>,
}

impl fmt::Debug for ManagedIdentityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentityConfig")
            .field("endpoint", &self.endpoint)
            .field("header", &"<redacted>")
            .field("resource", &self.resource)
            .field("client_id", &self.client_id)
            .finish()
    }
}

impl ManagedIdentityConfig {
    /// Reads `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` (both set by the
    /// platform) and, for a user-assigned identity, the client id from
    /// `client_id_var`. `Ok(None)` when `IDENTITY_ENDPOINT` is not set.
    ///
    /// # Errors
    /// [`ConfigError`] when the endpoint is not an http(s) URL or
    /// `IDENTITY_HEADER` is missing.
    pub fn from_settings(
        settings: &Settings,
        resource: &str,
        client_id_var: &str,
    ) -> Result<Option<ManagedIdentityConfig>, ConfigError> {
        let Some(endpoint) = settings.optional(IDENTITY_ENDPOINT) else {
            return Ok(None);
        };
        let parsed = reqwest::Url::parse(&endpoint)
            .map_err(|e| ConfigError::invalid(settings.source_of(IDENTITY_ENDPOINT), e))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError::invalid(
                settings.source_of(IDENTITY_ENDPOINT),
                "expected an http(s) URL",
            ));
        }
        let header = settings.required(
            IDENTITY_HEADER,
            "the managed identity endpoint's secret (set by the platform with IDENTITY_ENDPOINT)",
        )?;
        Ok(Some(ManagedIdentityConfig {
            endpoint,
            header,
            resource: resource.to_owned(),
            client_id: settings.optional(client_id_var),
        }))
    }
}

/// The endpoint's answer (the fields this client reads).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    /// Unix seconds; the platform sends a string, some hosts a number.
    expires_on: ExpiresOn,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresOn {
    Number(u64),
    Text(String),
}

impl ExpiresOn {
    fn unix_secs(&self) -> Option<u64> {
        match self {
            ExpiresOn::Number(n) => Some(*n),
            ExpiresOn::Text(s) => s.trim().parse().ok(),
        }
    }
}

struct Cached {
    token: Arc<str>,
    refresh_at: Instant,
}

/// Tokens from the managed identity endpoint, cached until shortly before
/// they expire (the grant's rule: a tenth of the lifetime before, at most
/// [`REFRESH_MARGIN_MAX`]); one request at a time however many callers wait.
pub struct ManagedIdentity {
    config: ManagedIdentityConfig,
    http: reqwest::Client,
    cached: Mutex<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    requests: AtomicU64,
}

impl fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentity {
    /// An identity over `config`, asking with `http`.
    pub fn new(config: ManagedIdentityConfig, http: reqwest::Client) -> Self {
        ManagedIdentity {
            config,
            http,
            cached: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(()),
            requests: AtomicU64::new(0),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ManagedIdentityConfig {
        &self.config
    }

    /// How many token requests this identity has made.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    fn fresh(&self) -> Option<Arc<str>> {
        let cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        cached
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// A valid access token: the cached one, or a new one.
    ///
    /// # Errors
    /// [`TokenError::Unavailable`] when the endpoint cannot be reached,
    /// answers 5xx or 429, or answers something unreadable;
    /// [`TokenError::Refused`] for any other 4xx.
    pub async fn token(&self) -> Result<Arc<str>, TokenError> {
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let _single_flight = self.refresh.lock().await;
        // Whoever held the lock before may have fetched one meanwhile.
        if let Some(token) = self.fresh() {
            return Ok(token);
        }
        let sent = Instant::now();
        let (token, expires_on) = self.fetch().await?;
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let lifetime = Duration::from_secs(expires_on.saturating_sub(now_unix));
        let margin = (lifetime / REFRESH_MARGIN_DIVISOR).min(REFRESH_MARGIN_MAX);
        let refresh_at = sent + (lifetime - margin);
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some(Cached {
            token: token.clone(),
            refresh_at,
        });
        Ok(token)
    }

    /// Drops `token` from the cache if it is still the cached one.
    pub fn invalidate(&self, token: &str) {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if cached.as_ref().is_some_and(|c| &*c.token == token) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<(Arc<str>, u64), TokenError> {
        let mut url = reqwest::Url::parse(&self.config.endpoint)
            .map_err(|e| TokenError::Refused(format!("invalid identity endpoint: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("resource", &self.config.resource)
                .append_pair("api-version", API_VERSION);
            if let Some(client_id) = &self.config.client_id {
                query.append_pair("client_id", client_id);
            }
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = self
            .http
            .get(url)
            .header("X-IDENTITY-HEADER", &self.config.header)
            .send()
            .await
            .map_err(|e| TokenError::Unavailable(format!("managed identity endpoint: {e}")))?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            TokenError::Unavailable(format!("reading the managed identity answer: {e}"))
        })?;
        if !status.is_success() {
            let detail = describe_error(&body);
            let message = format!("managed identity endpoint answered {status}: {detail}");
            tracing::warn!(status = status.as_u16(), %detail, "managed identity token request failed");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                TokenError::Unavailable(message)
            } else {
                TokenError::Refused(message)
            });
        }
        let answer: TokenResponse = serde_json::from_slice(&body).map_err(|e| {
            TokenError::Unavailable(format!("unreadable managed identity answer: {e}"))
        })?;
        let expires_on = answer.expires_on.unix_secs().ok_or_else(|| {
            TokenError::Unavailable("managed identity answer: expires_on is not a number".into())
        })?;
        if answer.access_token.is_empty() {
            return Err(TokenError::Unavailable(
                "managed identity answer without an access_token".into(),
            ));
        }
        Ok((Arc::from(answer.access_token), expires_on))
    }
}

/// What an error answer says, briefly: its `error`/`message` fields when it
/// is JSON, else the first 200 characters of the text.
fn describe_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorBody {
        #[serde(default)]
        error: Option<serde_json::Value>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        error_description: Option<String>,
    }
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        let parts: Vec<String> = [
            e.error.map(|v| match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
            e.error_description,
            e.message,
        ]
        .into_iter()
        .flatten()
        .collect();
        if !parts.is_empty() {
            return parts.join(": ");
        }
    }
    String::from_utf8_lossy(body).chars().take(200).collect()
}

#[async_trait]
impl TokenSource for ManagedIdentity {
    async fn token(&self) -> Result<Arc<str>, TokenError> {
        ManagedIdentity::token(self).await
    }

    fn invalidate(&self, token: &str) {
        ManagedIdentity::invalidate(self, token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_on_as_number_or_string() {
        let a: TokenResponse =
            serde_json::from_str(r#"{"access_token":"t","expires_on":"1586984735"}"#).unwrap();
        let b: TokenResponse =
            serde_json::from_str(r#"{"access_token":"t","expires_on":1586984735}"#).unwrap();
        assert_eq!(a.expires_on.unix_secs(), Some(1_586_984_735));
        assert_eq!(b.expires_on.unix_secs(), Some(1_586_984_735));
    }

    #[test]
    fn settings_need_the_header_with_the_endpoint() {
        let none = Settings::from_fn(|_| None);
        assert!(
            ManagedIdentityConfig::from_settings(&none, "r", "X_CLIENT_ID")
                .unwrap()
                .is_none()
        );
        let no_header = Settings::from_pairs([(IDENTITY_ENDPOINT, "http://127.0.0.1:1/msi")]);
        let err = ManagedIdentityConfig::from_settings(&no_header, "r", "X_CLIENT_ID").unwrap_err();
        assert!(err.to_string().contains(IDENTITY_HEADER), "{err}");
        let full = Settings::from_pairs([
            (IDENTITY_ENDPOINT, "http://127.0.0.1:1/msi"),
            (IDENTITY_HEADER, "secret-header"),
            ("X_CLIENT_ID", "user-assigned"),
        ]);
        let c = ManagedIdentityConfig::from_settings(&full, "r", "X_CLIENT_ID")
            .unwrap()
            .unwrap();
        assert_eq!(c.client_id.as_deref(), Some("user-assigned"));
        assert!(!format!("{c:?}").contains("secret-header"));
    }
}
