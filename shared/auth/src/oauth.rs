//! OAuth 2.0 client credentials (RFC 6749 §4.4), Entra ID v2 form.
//! SKELETON: the public names and signatures are fixed; bodies being written.

use switchyard_config::{ConfigError, Settings};

/// How the client proves who it is to the token endpoint.
#[derive(Clone)]
pub enum ClientAuth {
    /// `client_secret` in the form body.
    Secret(String),
    /// A signed JWT `client_assertion` (RFC 7523; Entra ID certificate credentials).
    Certificate {
        /// The PKCS#8 DER private key (RSA).
        key_pkcs8: Vec<u8>,
        /// The SHA-256 thumbprint of the certificate's DER (`x5t#S256`).
        thumbprint_sha256: [u8; 32],
    },
}

/// Where and as whom to ask for tokens.
#[derive(Clone)]
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

impl OAuthConfig {
    /// Reads `<PREFIX>_CLIENT_ID`, `<PREFIX>_CLIENT_SECRET` or
    /// `<PREFIX>_CLIENT_CERTIFICATE`, `<PREFIX>_TOKEN_URL` or
    /// `<PREFIX>_TENANT_ID`, `<PREFIX>_SCOPE` (else `default_scope`).
    /// `Ok(None)` when `<PREFIX>_CLIENT_ID` is not set.
    ///
    /// # Errors
    /// [`ConfigError`] naming the missing or malformed variable.
    pub fn from_settings(
        settings: &Settings,
        prefix: &str,
        default_scope: Option<&str>,
    ) -> Result<Option<OAuthConfig>, ConfigError> {
        let _ = (settings, prefix, default_scope);
        todo!("helper")
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
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

/// A client-credentials grant with its cached token.
pub struct ClientCredentials {
    config: OAuthConfig,
    http: reqwest::Client,
}

impl ClientCredentials {
    /// A grant over `config`, asking with `http`.
    pub fn new(config: OAuthConfig, http: reqwest::Client) -> Self {
        ClientCredentials { config, http }
    }

    /// A valid access token: the cached one, or a new one (one request at
    /// a time however many callers wait).
    ///
    /// # Errors
    /// [`TokenError`].
    pub async fn token(&self) -> Result<std::sync::Arc<str>, TokenError> {
        let _ = (&self.config, &self.http);
        todo!("helper")
    }

    /// Drops `token` from the cache if it is still the cached one.
    pub fn invalidate(&self, token: &str) {
        let _ = token;
        todo!("helper")
    }

    /// How many token requests this grant has made.
    pub fn requests(&self) -> u64 {
        todo!("helper")
    }

    pub(crate) async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, crate::SendError> {
        let _ = build;
        todo!("helper")
    }
}
