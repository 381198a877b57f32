//! What a host hands a function (as a resource): the secret store and the
//! TTL, to turn secret settings into [`Secret`]s.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use switchyard_config::{ConfigError, Settings};

use crate::{Secret, SecretRef, SecretStore};

/// The setting of the cache's time to live, in seconds.
pub const TTL_VAR: &str = "SWITCHYARD_SECRETS_TTL_SECS";
/// The default time to live: 5 minutes.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// Turns secret settings into [`Secret`]s: a plain value as it is, a
/// reference read from the store with a TTL cache. Without a store (the
/// Azure host, the local stack, tests) a reference is refused at start-up,
/// naming the variable. Cheap to clone.
#[derive(Clone)]
pub struct SecretResolver {
    store: Option<Arc<dyn SecretStore>>,
    ttl: Duration,
}

impl Default for SecretResolver {
    fn default() -> Self {
        SecretResolver::plain_only()
    }
}

impl fmt::Debug for SecretResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretResolver")
            .field("store", &self.store.is_some())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl SecretResolver {
    /// No store: plain values only.
    pub fn plain_only() -> Self {
        SecretResolver {
            store: None,
            ttl: DEFAULT_TTL,
        }
    }

    /// References are read from `store` and cached for `ttl`.
    pub fn new(store: Arc<dyn SecretStore>, ttl: Duration) -> Self {
        SecretResolver {
            store: Some(store),
            ttl,
        }
    }

    /// Over `store`, with the TTL of `SWITCHYARD_SECRETS_TTL_SECS`
    /// (default 300; 0 reads the store at every use).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable.
    pub fn from_settings(
        settings: &Settings,
        store: Arc<dyn SecretStore>,
    ) -> Result<Self, ConfigError> {
        let ttl = match settings.parse::<u64>(TTL_VAR)? {
            Some(secs) => Duration::from_secs(secs),
            None => DEFAULT_TTL,
        };
        Ok(SecretResolver::new(store, ttl))
    }

    /// The cache's time to live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// `var`'s secret, `None` when unset. Reads nothing from the store yet.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable: a malformed reference,
    /// or a reference where this host has no secret store.
    pub fn secret(&self, settings: &Settings, var: &str) -> Result<Option<Secret>, ConfigError> {
        let Some(value) = settings.optional(var) else {
            return Ok(None);
        };
        let name = settings.source_of(var);
        let reference = SecretRef::parse(&value).map_err(|e| ConfigError::invalid(&name, e))?;
        match (reference, &self.store) {
            (None, _) => Ok(Some(Secret::plain(name, value))),
            (Some(reference), Some(store)) => Ok(Some(Secret::stored(
                name,
                reference,
                store.clone(),
                self.ttl,
            ))),
            (Some(reference), None) => Err(ConfigError::invalid(
                name,
                format!(
                    "{reference} is a secret reference, and this host has no secret store (on AWS Lambda the runtime reads secretsmanager: and ssm: references; on Azure use a Key Vault reference, resolved by the platform)"
                ),
            )),
        }
    }

    /// `var`'s secret, read once now so that a missing secret or a denied
    /// read fails the start-up, naming the variable and the reference.
    ///
    /// # Errors
    /// As [`SecretResolver::secret`]; a missing or unreadable secret is
    /// [`ConfigError::Invalid`], an unreachable store
    /// [`ConfigError::Unavailable`].
    pub async fn resolve(
        &self,
        settings: &Settings,
        var: &str,
    ) -> Result<Option<Secret>, ConfigError> {
        let Some(secret) = self.secret(settings, var)? else {
            return Ok(None);
        };
        secret.values().await?;
        Ok(Some(secret))
    }
}
