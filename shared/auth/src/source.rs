//! [`TokenSource`]: anything that hands out bearer tokens for one audience
//! and can be told that one was refused, so a client can hold an OAuth
//! grant or a managed identity behind one type.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{ClientCredentials, TokenError};

/// A cached bearer token for one audience: the grant or identity behind it
/// is the implementor's business.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// A valid access token: the cached one, or a new one.
    ///
    /// # Errors
    /// [`TokenError`]: unavailable (try later) or refused.
    async fn token(&self) -> Result<Arc<str>, TokenError>;

    /// Drops `token` from the cache if it is still the cached one (the API
    /// answered 401 to it), so the next [`TokenSource::token`] fetches anew.
    fn invalidate(&self, token: &str);
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn token(&self) -> Result<Arc<str>, TokenError> {
        ClientCredentials::token(self).await
    }

    fn invalidate(&self, token: &str) {
        ClientCredentials::invalidate(self, token);
    }
}

#[async_trait]
impl<T: TokenSource + ?Sized> TokenSource for Arc<T> {
    async fn token(&self) -> Result<Arc<str>, TokenError> {
        (**self).token().await
    }

    fn invalidate(&self, token: &str) {
        (**self).invalidate(token);
    }
}
