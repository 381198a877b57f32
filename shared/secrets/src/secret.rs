//! One secret setting, resolved: its value now (a plain value, or the
//! store's, cached for the TTL and re-read after it) and its errors.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_config::ConfigError;

use crate::{SecretRef, SecretStore, StoreError, Versions};

/// After a failed re-read, a stale value is served for at most this long
/// before the store is asked again (the TTL when that is shorter).
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// A secret setting could not be resolved: names the variable and the
/// reference, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("secret setting {var} ({reference}): {error}")]
pub struct SecretError {
    /// The variable that holds the reference.
    pub var: String,
    /// The reference.
    pub reference: String,
    /// What the store said.
    pub error: StoreError,
}

impl SecretError {
    /// True when the store was unreachable: a later attempt may succeed.
    pub fn is_transient(&self) -> bool {
        self.error.is_transient()
    }
}

impl From<SecretError> for ConfigError {
    fn from(e: SecretError) -> Self {
        if e.is_transient() {
            ConfigError::unavailable(format!("the secret of {}", e.var), e)
        } else {
            let var = e.var.clone();
            ConfigError::invalid(var, format!("{}: {}", e.reference, e.error))
        }
    }
}

/// The values of a secret now: the current one and, during a rotation, the
/// previous one. `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Values {
    current: Arc<str>,
    previous: Option<Arc<str>>,
}

impl Values {
    /// The current value (Secrets Manager's `AWSCURRENT`).
    pub fn current(&self) -> &str {
        &self.current
    }

    /// The previous value while the store keeps it (`AWSPREVIOUS`).
    pub fn previous(&self) -> Option<&str> {
        self.previous.as_deref()
    }

    /// The values to accept where a scheme takes several keys: the current
    /// one, then the previous one when it differs.
    pub fn accepted(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.current()).chain(self.previous().filter(|p| *p != self.current()))
    }
}

impl fmt::Debug for Values {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Values(<redacted>, previous: {})",
            self.previous.is_some()
        )
    }
}

struct Cached {
    values: Arc<Values>,
    fresh_until: Instant,
}

struct Stored {
    reference: SecretRef,
    store: Arc<dyn SecretStore>,
    ttl: Duration,
    cache: Mutex<Option<Cached>>,
    /// Held by the one caller reading the store.
    reading: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
enum Source {
    Plain(Arc<Values>),
    Stored(Arc<Stored>),
}

/// A secret setting: its variable and where its value comes from. Cheap to
/// clone (clones share the cache); ask it for the values per use: a cached
/// value costs a lock, the store is read once per TTL.
#[derive(Clone)]
pub struct Secret {
    var: Arc<str>,
    source: Source,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Source::Plain(_) => write!(f, "Secret({}: <plain, redacted>)", self.var),
            Source::Stored(s) => write!(f, "Secret({}: {})", self.var, s.reference),
        }
    }
}

fn pick(reference: &SecretRef, value: String, var: &str) -> Result<String, StoreError> {
    let SecretRef::SecretsManager {
        json_key: Some(key),
        ..
    } = reference
    else {
        return Ok(value);
    };
    // serde's message names no value of the document
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&value)
        .map_err(|_| StoreError::Malformed(format!("{var}: the secret is not a JSON object")))?;
    match object.get(key) {
        Some(serde_json::Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(StoreError::Malformed(format!(
            "the JSON key {key:?} is not a string"
        ))),
        None => Err(StoreError::Malformed(format!(
            "the secret has no JSON key {key:?}"
        ))),
    }
}

impl Secret {
    /// A plain value (the variable held the secret itself).
    pub fn plain(var: impl Into<String>, value: impl Into<String>) -> Self {
        let value: String = value.into();
        Secret {
            var: var.into().into(),
            source: Source::Plain(Arc::new(Values {
                current: value.into(),
                previous: None,
            })),
        }
    }

    /// A reference read from `store`, cached for `ttl`.
    pub fn stored(
        var: impl Into<String>,
        reference: SecretRef,
        store: Arc<dyn SecretStore>,
        ttl: Duration,
    ) -> Self {
        Secret {
            var: var.into().into(),
            source: Source::Stored(Arc::new(Stored {
                reference,
                store,
                ttl,
                cache: Mutex::new(None),
                reading: tokio::sync::Mutex::new(()),
            })),
        }
    }

    /// The variable that holds it.
    pub fn var(&self) -> &str {
        &self.var
    }

    /// The reference, when the variable held one.
    pub fn reference(&self) -> Option<&SecretRef> {
        match &self.source {
            Source::Plain(_) => None,
            Source::Stored(s) => Some(&s.reference),
        }
    }

    /// The current value.
    ///
    /// # Errors
    /// As [`Secret::values`].
    pub async fn current(&self) -> Result<Arc<str>, SecretError> {
        Ok(self.values().await?.current.clone())
    }

    /// The values now: a plain value, or the store's, cached for the TTL
    /// and re-read after it (one caller at a time). When a re-read finds
    /// the store unreachable, the last values are served (and the store
    /// asked again after [`RETRY_AFTER`]).
    ///
    /// # Errors
    /// [`SecretError`] naming the variable and the reference.
    pub async fn values(&self) -> Result<Arc<Values>, SecretError> {
        let stored = match &self.source {
            Source::Plain(values) => return Ok(values.clone()),
            Source::Stored(stored) => stored,
        };
        if let Some(values) = self.fresh(stored) {
            return Ok(values);
        }
        let _reading = stored.reading.lock().await;
        if let Some(values) = self.fresh(stored) {
            return Ok(values);
        }
        match self.read(stored).await {
            Ok(values) => {
                let values = Arc::new(values);
                *lock(&stored.cache) = Some(Cached {
                    values: values.clone(),
                    fresh_until: Instant::now() + stored.ttl,
                });
                Ok(values)
            }
            Err(error) => {
                let mut cache = lock(&stored.cache);
                match cache.as_mut() {
                    Some(cached) if error.is_transient() => {
                        tracing::warn!(
                            var = %self.var,
                            reference = %stored.reference,
                            error = %error,
                            "SecretRefreshError: serving the last value"
                        );
                        cached.fresh_until = Instant::now() + stored.ttl.min(RETRY_AFTER);
                        Ok(cached.values.clone())
                    }
                    _ => Err(SecretError {
                        var: self.var.to_string(),
                        reference: stored.reference.to_string(),
                        error,
                    }),
                }
            }
        }
    }

    /// The values known without reading the store: a plain value, or the
    /// last values read (possibly stale); `None` before the first read.
    pub fn known(&self) -> Option<Arc<Values>> {
        match &self.source {
            Source::Plain(values) => Some(values.clone()),
            Source::Stored(stored) => lock(&stored.cache).as_ref().map(|c| c.values.clone()),
        }
    }

    /// The next [`Secret::values`] reads the store (e.g. after a token
    /// endpoint refused the cached value).
    pub fn invalidate(&self) {
        if let Source::Stored(stored) = &self.source {
            if let Some(cached) = lock(&stored.cache).as_mut() {
                cached.fresh_until = Instant::now();
            }
        }
    }

    fn fresh(&self, stored: &Stored) -> Option<Arc<Values>> {
        lock(&stored.cache)
            .as_ref()
            .filter(|c| Instant::now() < c.fresh_until)
            .map(|c| c.values.clone())
    }

    async fn read(&self, stored: &Stored) -> Result<Values, StoreError> {
        let Versions { current, previous } = stored.store.read(&stored.reference).await?;
        let current = pick(&stored.reference, current, &self.var)?;
        // a previous version without the key (or not JSON) is not accepted
        let previous = previous.and_then(|p| pick(&stored.reference, p, &self.var).ok());
        if current.trim().is_empty() {
            return Err(StoreError::Malformed("the value is empty".to_owned()));
        }
        tracing::debug!(var = %self.var, reference = %stored.reference, "secret read");
        Ok(Values {
            current: current.trim().into(),
            previous: previous
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .map(Into::into),
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
