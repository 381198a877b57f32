//! Outbound credentials for the APIs functions call (the ERP, the CRMs).
//!
//! [`Credentials`] is what a client holds: none, a static bearer token
//! (HubSpot private apps), or an OAuth 2.0 client-credentials grant
//! ([`ClientCredentials`]) whose token is cached until shortly before it
//! expires and refreshed by one caller at a time. [`Credentials::send`]
//! sends a request with its `Authorization` header and, when the API
//! answers 401 to an OAuth token, drops that token, fetches a new one and
//! sends once more.
//!
//! [`TokenSource`] puts any cached bearer token behind one trait: the
//! client-credentials grant and the App Service / Azure Functions
//! [`ManagedIdentity`] (for Azure services such as Service Bus).

use std::sync::Arc;

use switchyard_secrets::Secret;

mod managed_identity;
mod oauth;
mod source;

pub use managed_identity::{
    API_VERSION as MANAGED_IDENTITY_API_VERSION, IDENTITY_ENDPOINT, IDENTITY_HEADER,
    ManagedIdentity, ManagedIdentityConfig,
};
pub use oauth::{
    ClientAuth, ClientCredentials, MAX_AGE_WITHOUT_EXPIRY, OAuthConfig, REFRESH_MARGIN_DIVISOR,
    REFRESH_MARGIN_MAX, TokenError, entra_token_url,
};
pub use source::TokenSource;

/// How a client authenticates its requests.
#[derive(Clone, Default)]
pub enum Credentials {
    /// No `Authorization` header (local stubs, open APIs).
    #[default]
    None,
    /// `Authorization: Bearer <token>`, a token that does not expire: a
    /// plain value, or a secret store reference read per request through
    /// its TTL cache (a 401 re-reads it at once).
    Bearer(Secret),
    /// A token from an OAuth 2.0 client-credentials grant.
    OAuth(Arc<ClientCredentials>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // never the token itself
        f.write_str(match self {
            Credentials::None => "Credentials::None",
            Credentials::Bearer(_) => "Credentials::Bearer(..)",
            Credentials::OAuth(_) => "Credentials::OAuth(..)",
        })
    }
}

/// Why a request could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// No token could be had.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// The request itself failed (connect, timeout, cut off).
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
}

impl SendError {
    /// True when a later attempt may succeed (a token endpoint outage, a
    /// network failure); false when it cannot (rejected client credentials).
    pub fn is_transient(&self) -> bool {
        match self {
            SendError::Token(e) => e.is_transient(),
            SendError::Transport(_) => true,
        }
    }
}

impl Credentials {
    /// A static bearer token given as it is.
    pub fn bearer(token: &str) -> Self {
        Credentials::Bearer(Secret::plain("bearer token", token))
    }

    /// Reads a referenced secret once (start-up), so that a missing one
    /// fails the build naming the variable and the reference.
    ///
    /// # Errors
    /// [`switchyard_config::ConfigError`] from the secret's error.
    pub async fn check(&self) -> Result<(), switchyard_config::ConfigError> {
        let secret = match self {
            Credentials::None => return Ok(()),
            Credentials::Bearer(secret) => secret,
            Credentials::OAuth(grant) => match grant.client_secret() {
                Some(secret) => secret,
                None => return Ok(()),
            },
        };
        secret.values().await?;
        Ok(())
    }

    /// Sends the request `build` makes, with this credential's
    /// `Authorization` header. With [`Credentials::OAuth`], a 401 answer
    /// drops the token it was sent with, and the request is built and sent
    /// once more with a fresh token; the second answer is returned as it is.
    ///
    /// # Errors
    /// [`SendError`]: no token, or the request failed to complete.
    pub async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SendError> {
        match self {
            Credentials::None => Ok(build().send().await?),
            Credentials::Bearer(secret) => {
                let token = secret.current().await.map_err(oauth::token_error)?;
                let response = build().bearer_auth(&*token).send().await?;
                if response.status() != reqwest::StatusCode::UNAUTHORIZED
                    || secret.reference().is_none()
                {
                    return Ok(response);
                }
                // rotated in the store since it was cached: once more with the new one
                secret.invalidate();
                let again = secret.current().await.map_err(oauth::token_error)?;
                if again == token {
                    return Ok(response);
                }
                Ok(build().bearer_auth(&*again).send().await?)
            }
            Credentials::OAuth(grant) => grant.send(build).await,
        }
    }
}
