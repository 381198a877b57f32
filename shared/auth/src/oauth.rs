//! OAuth 2.0 client credentials (RFC 6749 §4.4), in the form Entra ID v2
//! documents (a client secret, or a certificate's signed assertion per
//! RFC 7523), against any token endpoint that speaks it (Salesforce too).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_config::{ConfigError, Settings};
use switchyard_secrets::{Secret, SecretResolver};

mod assertion;
mod exchange;

pub(crate) use exchange::token_error;

/// Refresh no later than this long before a token expires...
pub const REFRESH_MARGIN_MAX: Duration = Duration::from_secs(5 * 60);
/// ...or when this fraction (1/N) of its lifetime remains, whichever is
/// less: a 1 h token is refreshed at 55 min, a 10 min token at 9 min.
pub const REFRESH_MARGIN_DIVISOR: u32 = 10;
/// A token answered without `expires_in` (Salesforce) is used until the API
/// answers 401, and never for longer than this.
pub const MAX_AGE_WITHOUT_EXPIRY: Duration = Duration::from_secs(30 * 60);

/// How the client proves who it is to the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// `client_secret` in the form body: a plain value, or a secret store
    /// reference read (through its TTL cache) for every token request.
    Secret(Secret),
    /// A signed JWT `client_assertion` (RFC 7523; Entra ID certificate credentials).
    Certificate {
        /// The PKCS#8 DER private key (RSA).
        key_pkcs8: Vec<u8>,
        /// The SHA-256 thumbprint of the certificate's DER (`x5t#S256`).
        thumbprint_sha256: [u8; 32],
    },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // never the secret or the key
        match self {
            ClientAuth::Secret(_) => f.write_str("Secret(..)"),
            ClientAuth::Certificate { .. } => f.write_str("Certificate(..)"),
        }
    }
}

/// Where and as whom to ask for tokens.
#[derive(Clone, Debug)]
pub struct OAuthConfig {
    /// The token endpoint.
    pub token_url: String,
    /// `client_id`.
    pub client_id: String,
    /// The client's credential.
    pub auth: ClientAuth,
    /// `scope`, e.g. `https://org.crm.dynamics.com/.default`.
    pub scope: Option<String>,
}

/// The Entra ID v2 token endpoint of `tenant` (a tenant id or domain).
pub fn entra_token_url(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
}

impl OAuthConfig {
    /// Reads `<PREFIX>_CLIENT_ID`, `<PREFIX>_CLIENT_SECRET` or
    /// `<PREFIX>_CLIENT_CERTIFICATE`, `<PREFIX>_TOKEN_URL` or
    /// `<PREFIX>_TENANT_ID`, `<PREFIX>_SCOPE` (else `default_scope`).
    /// `Ok(None)` when `<PREFIX>_CLIENT_ID` is not set. The client secret
    /// is a plain value here (a secret store reference is refused, naming
    /// the variable): hosts with a store use [`OAuthConfig::load`].
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or malformed variable.
    pub fn from_settings(
        settings: &Settings,
        prefix: &str,
        default_scope: Option<&str>,
    ) -> Result<Option<OAuthConfig>, ConfigError> {
        Self::from_settings_with(
            settings,
            prefix,
            default_scope,
            &SecretResolver::plain_only(),
        )
    }

    /// As [`OAuthConfig::from_settings`], `<PREFIX>_CLIENT_SECRET` being a
    /// plain value or a reference `secrets` resolves
    /// (`secretsmanager:<secret>[#<json key>]`, `ssm:<parameter>`), read
    /// once now and then for each token request, through the TTL cache: a
    /// token requested after a rotation uses the new secret.
    ///
    /// # Errors
    /// As [`OAuthConfig::from_settings`]; a missing or unreadable secret
    /// names the variable and the reference.
    pub async fn load(
        settings: &Settings,
        prefix: &str,
        default_scope: Option<&str>,
        secrets: &SecretResolver,
    ) -> Result<Option<OAuthConfig>, ConfigError> {
        let config = Self::from_settings_with(settings, prefix, default_scope, secrets)?;
        if let Some(OAuthConfig {
            auth: ClientAuth::Secret(secret),
            ..
        }) = &config
        {
            secret.values().await?;
        }
        Ok(config)
    }

    /// As [`OAuthConfig::load`], without reading the secret yet (the first
    /// token request does; [`crate::Credentials::check`] reads it at once).
    ///
    /// # Errors
    /// As [`OAuthConfig::from_settings`].
    pub fn from_settings_with(
        settings: &Settings,
        prefix: &str,
        default_scope: Option<&str>,
        secrets: &SecretResolver,
    ) -> Result<Option<OAuthConfig>, ConfigError> {
        let var = |name: &str| format!("{prefix}_{name}");
        let Some(client_id) = settings.optional(&var("CLIENT_ID")) else {
            return Ok(None);
        };
        let (secret_var, cert_var) = (var("CLIENT_SECRET"), var("CLIENT_CERTIFICATE"));
        let secret = secrets.secret(settings, &secret_var)?;
        let auth = match (secret, settings.optional(&cert_var)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    format!(
                        "{} and {}",
                        settings.source_of(&secret_var),
                        settings.source_of(&cert_var)
                    ),
                    "set one of the two client credentials, not both",
                ));
            }
            (None, None) => {
                return Err(ConfigError::missing(
                    format!(
                        "{} or {}",
                        settings.describe(&secret_var),
                        settings.describe(&cert_var)
                    ),
                    "the OAuth client's secret, or the path of its PEM certificate and key",
                ));
            }
            (Some(secret), None) => ClientAuth::Secret(secret),
            (None, Some(path)) => {
                let name = settings.source_of(&cert_var);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| ConfigError::invalid(&name, format!("cannot read {path}: {e}")))?;
                let pem = assertion::read_pem(&text)
                    .map_err(|reason| ConfigError::invalid(&name, format!("{path}: {reason}")))?;
                ClientAuth::Certificate {
                    key_pkcs8: pem.key_pkcs8,
                    thumbprint_sha256: pem.thumbprint_sha256,
                }
            }
        };
        let (url_var, tenant_var) = (var("TOKEN_URL"), var("TENANT_ID"));
        let token_url = match (settings.optional(&url_var), settings.optional(&tenant_var)) {
            (Some(url), _) => url,
            (None, Some(tenant)) => {
                let valid = tenant
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
                if !valid {
                    return Err(ConfigError::invalid(
                        settings.source_of(&tenant_var),
                        format!("{tenant:?} is not a tenant id or domain"),
                    ));
                }
                entra_token_url(&tenant)
            }
            (None, None) => {
                return Err(ConfigError::missing(
                    format!(
                        "{} or {}",
                        settings.describe(&url_var),
                        settings.describe(&tenant_var)
                    ),
                    "the OAuth token endpoint, or the Entra ID tenant it is derived from",
                ));
            }
        };
        let parsed = url::Url::parse(&token_url).map_err(|e| {
            ConfigError::invalid(settings.source_of(&url_var), format!("{token_url:?}: {e}"))
        })?;
        if !matches!(parsed.scheme(), "https" | "http") {
            return Err(ConfigError::invalid(
                settings.source_of(&url_var),
                format!("{token_url:?} is not an http(s) URL"),
            ));
        }
        let scope = settings
            .optional(&var("SCOPE"))
            .or_else(|| default_scope.map(str::to_owned));
        // Entra ID's v2 endpoint refuses a client-credentials request without
        // a scope (AADSTS900144): say so at start-up, not per message.
        if scope.is_none() && parsed.path().ends_with("/oauth2/v2.0/token") {
            return Err(ConfigError::missing(
                settings.describe(&var("SCOPE")),
                "the scope of the tokens, e.g. api://<app id>/.default (Entra ID v2 requires one)",
            ));
        }
        Ok(Some(OAuthConfig {
            token_url,
            client_id,
            auth,
            scope,
        }))
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TokenError {
    /// The endpoint could not be reached or answered 5xx/429: try later.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
    /// The endpoint refused the client (`invalid_client`, ...).
    #[error("token request refused: {0}")]
    Refused(String),
}

impl TokenError {
    /// True for [`TokenError::Unavailable`].
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Unavailable(_))
    }
}

struct Cached {
    token: Arc<str>,
    refresh_at: Instant,
}

/// A client-credentials grant with its cached token.
pub struct ClientCredentials {
    config: OAuthConfig,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    /// Held by the one caller asking for a token; the last failure, so the
    /// callers that waited for that request share its answer.
    refresh: tokio::sync::Mutex<Option<(Instant, TokenError)>>,
    requests: AtomicU64,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.config.token_url)
            .field("client_id", &self.config.client_id)
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

/// When a token obtained by a request sent at `sent` should be replaced.
fn refresh_at(sent: Instant, lifetime: Option<Duration>) -> Instant {
    match lifetime {
        Some(lifetime) => {
            let margin = (lifetime / REFRESH_MARGIN_DIVISOR).min(REFRESH_MARGIN_MAX);
            sent + (lifetime - margin)
        }
        None => sent + MAX_AGE_WITHOUT_EXPIRY,
    }
}

impl ClientCredentials {
    /// A grant over `config`, asking with `http`.
    pub fn new(config: OAuthConfig, http: reqwest::Client) -> Self {
        ClientCredentials {
            config,
            http,
            cache: Mutex::new(None),
            refresh: tokio::sync::Mutex::new(None),
            requests: AtomicU64::new(0),
        }
    }

    /// The client secret, when the client authenticates with one.
    pub fn client_secret(&self) -> Option<&Secret> {
        match &self.config.auth {
            ClientAuth::Secret(secret) => Some(secret),
            ClientAuth::Certificate { .. } => None,
        }
    }

    /// The token URL asked.
    pub fn token_url(&self) -> &str {
        &self.config.token_url
    }

    fn cached(&self) -> Option<Arc<str>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// A valid access token: the cached one, or a new one (one request at
    /// a time however many callers wait).
    ///
    /// # Errors
    /// [`TokenError`].
    pub async fn token(&self) -> Result<Arc<str>, TokenError> {
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        let waited_from = Instant::now();
        let mut last_failure = self.refresh.lock().await;
        // whoever held the lock may have refreshed the token meanwhile...
        if let Some(token) = self.cached() {
            return Ok(token);
        }
        // ...or failed while this caller waited: its answer is this one's
        if let Some((at, error)) = last_failure.as_ref() {
            if *at >= waited_from {
                return Err(error.clone());
            }
        }
        let sent = Instant::now();
        self.requests.fetch_add(1, Ordering::Relaxed);
        match exchange::request(&self.http, &self.config).await {
            Ok(issued) => {
                let token: Arc<str> = issued.access_token.into();
                let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
                *cache = Some(Cached {
                    token: token.clone(),
                    refresh_at: refresh_at(sent, issued.lifetime),
                });
                *last_failure = None;
                tracing::debug!(
                    token_url = %self.config.token_url,
                    expires_in_secs = issued.lifetime.map(|l| l.as_secs()),
                    "oauth token issued"
                );
                Ok(token)
            }
            Err(error) => {
                tracing::warn!(
                    token_url = %self.config.token_url,
                    transient = error.is_transient(),
                    error = %error,
                    "oauth token request failed"
                );
                *last_failure = Some((Instant::now(), error.clone()));
                Err(error)
            }
        }
    }

    /// Drops `token` from the cache if it is still the cached one.
    pub fn invalidate(&self, token: &str) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.as_ref().is_some_and(|c| &*c.token == token) {
            *cache = None;
        }
    }

    /// How many token requests this grant has made.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub(crate) async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, crate::SendError> {
        let token = self.token().await?;
        let response = build().bearer_auth(&*token).send().await?;
        if response.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        // revoked or expired early: one new token, one more try
        self.invalidate(&token);
        let token = self.token().await?;
        Ok(build().bearer_auth(&*token).send().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_margin_is_the_lesser_of_five_minutes_and_a_tenth() {
        let t = Instant::now();
        let hour = Duration::from_secs(3600);
        assert_eq!(refresh_at(t, Some(hour)), t + Duration::from_secs(3300));
        let ten_min = Duration::from_secs(600);
        assert_eq!(refresh_at(t, Some(ten_min)), t + Duration::from_secs(540));
        assert_eq!(refresh_at(t, None), t + MAX_AGE_WITHOUT_EXPIRY);
    }

    #[test]
    fn debug_output_names_no_secret() {
        let config = OAuthConfig {
            token_url: "https://t/token".into(),
            client_id: "app".into(),
            auth: ClientAuth::Secret(Secret::plain("ERP_CLIENT_SECRET", "s3cr3t")),
            scope: None,
        };
        let grant = ClientCredentials::new(config.clone(), reqwest::Client::new());
        assert!(!format!("{config:?} {grant:?}").contains("s3cr3t"));
    }
}
