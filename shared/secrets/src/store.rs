//! The secret store seam: one small trait (the AWS implementation lives in
//! `switchyard-runtime`, feature `lambda`) and an in-memory store.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::SecretRef;

/// The values a store holds for one reference: the current one and, while
/// a rotation keeps it (Secrets Manager's `AWSPREVIOUS`), the previous one.
/// `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct Versions {
    /// `AWSCURRENT`, or the parameter's value.
    pub current: String,
    /// `AWSPREVIOUS`, when there is one.
    pub previous: Option<String>,
}

impl Versions {
    /// Only a current value.
    pub fn current(value: impl Into<String>) -> Self {
        Versions {
            current: value.into(),
            previous: None,
        }
    }
}

impl fmt::Debug for Versions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Versions(<redacted>, previous: {})",
            self.previous.is_some()
        )
    }
}

/// Why a store gave no value. The messages are the store's, never a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No such secret or parameter (or no current version).
    #[error("not found: {0}")]
    NotFound(String),
    /// The function may not read it (IAM, KMS).
    #[error("access denied: {0}")]
    Denied(String),
    /// The value is there but unusable (not JSON, no such JSON key, binary).
    #[error("unusable value: {0}")]
    Malformed(String),
    /// The store could not be reached or answered 5xx / throttled: try later.
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

impl StoreError {
    /// True for [`StoreError::Unavailable`].
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// Reads the values of a reference. The JSON key of a
/// [`SecretRef::SecretsManager`] is applied by the caller: a store returns
/// the whole `SecretString` of each version.
#[async_trait::async_trait]
pub trait SecretStore: Send + Sync {
    /// The current (and previous, where the store keeps one) values.
    ///
    /// # Errors
    /// [`StoreError`]; only [`StoreError::Unavailable`] is worth retrying.
    async fn read(&self, reference: &SecretRef) -> Result<Versions, StoreError>;
}

/// Secrets held in memory, keyed by the reference's secret id or parameter
/// name (tests, local runs). Clones share the values.
#[derive(Clone, Default)]
pub struct MemorySecretStore {
    values: Arc<Mutex<HashMap<String, Result<Versions, StoreError>>>>,
    reads: Arc<AtomicU64>,
}

fn key(reference: &SecretRef) -> &str {
    match reference {
        SecretRef::SecretsManager { secret_id, .. } => secret_id,
        SecretRef::Parameter { name } => name,
    }
}

impl MemorySecretStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `id`'s values.
    pub fn set(&self, id: &str, versions: Versions) {
        self.lock().insert(id.to_owned(), Ok(versions));
    }

    /// Rotates `id`: `value` becomes current, the current one previous.
    pub fn rotate(&self, id: &str, value: &str) {
        let mut values = self.lock();
        let previous = match values.get(id) {
            Some(Ok(v)) => Some(v.current.clone()),
            _ => None,
        };
        values.insert(
            id.to_owned(),
            Ok(Versions {
                current: value.to_owned(),
                previous,
            }),
        );
    }

    /// Reads of `id` fail with `error` until it is set again.
    pub fn fail(&self, id: &str, error: StoreError) {
        self.lock().insert(id.to_owned(), Err(error));
    }

    /// How many reads were made.
    pub fn reads(&self) -> u64 {
        self.reads.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Result<Versions, StoreError>>> {
        self.values.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl SecretStore for MemorySecretStore {
    async fn read(&self, reference: &SecretRef) -> Result<Versions, StoreError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        match self.lock().get(key(reference)) {
            Some(found) => found.clone(),
            None => Err(StoreError::NotFound(format!(
                "{} is not stored",
                key(reference)
            ))),
        }
    }
}
