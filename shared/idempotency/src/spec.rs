//! Choosing a backend from one setting, as every function's wiring does:
//! `SWITCHYARD_IDEMPOTENCY` = `dynamodb:<table>` | `redis://host:port` |
//! `file:<path>` | `memory`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use crate::{IdempotencyStore, MemoryStore, StoreError, StoreOptions};

/// Where idempotency records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `memory`: this process only (tests, one-off local runs).
    Memory,
    /// `file:<path>`: the embedded store (local runs; survives restarts).
    File(PathBuf),
    /// `dynamodb:<table>`: DynamoDB (Lambda).
    DynamoDb(String),
    /// `redis://...` or `rediss://...`: Redis.
    Redis(String),
}

/// A `SWITCHYARD_IDEMPOTENCY` value that names no backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not an idempotency store: expected dynamodb:<table>, redis://host:port, file:<path> or memory"
)]
pub struct InvalidStoreSpec(pub String);

impl FromStr for StoreSpec {
    type Err = InvalidStoreSpec;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidStoreSpec(value.to_owned());
        if value == "memory" {
            Ok(StoreSpec::Memory)
        } else if let Some(path) = value.strip_prefix("file:") {
            if path.is_empty() {
                return Err(invalid());
            }
            Ok(StoreSpec::File(PathBuf::from(path)))
        } else if let Some(table) = value.strip_prefix("dynamodb:") {
            if table.is_empty() {
                return Err(invalid());
            }
            Ok(StoreSpec::DynamoDb(table.to_owned()))
        } else if value.starts_with("redis://") || value.starts_with("rediss://") {
            Ok(StoreSpec::Redis(value.to_owned()))
        } else {
            Err(invalid())
        }
    }
}

impl StoreSpec {
    /// The backend's name, as [`StoreError`] reports it: `memory`,
    /// `embedded`, `dynamodb` or `redis`.
    pub fn backend(&self) -> &'static str {
        match self {
            StoreSpec::Memory => "memory",
            StoreSpec::File(_) => "embedded",
            StoreSpec::DynamoDb(_) => "dynamodb",
            StoreSpec::Redis(_) => "redis",
        }
    }

    /// The cargo feature of this crate that builds the backend (`None`: the
    /// in-memory store, always built).
    pub fn feature(&self) -> Option<&'static str> {
        match self {
            StoreSpec::Memory => None,
            StoreSpec::File(_) => Some("embedded"),
            StoreSpec::DynamoDb(_) => Some("dynamodb"),
            StoreSpec::Redis(_) => Some("redis"),
        }
    }

    /// Whether this build has the backend.
    pub fn is_built(&self) -> bool {
        match self {
            StoreSpec::Memory => true,
            StoreSpec::File(_) => cfg!(feature = "embedded"),
            StoreSpec::DynamoDb(_) => cfg!(feature = "dynamodb"),
            StoreSpec::Redis(_) => cfg!(feature = "redis"),
        }
    }

    fn not_built(&self) -> StoreError {
        StoreError::NotBuilt {
            backend: self.backend(),
            feature: self.feature().unwrap_or("default"),
        }
    }

    /// Opens a store that needs no client: `memory`, `file:` and `redis://`.
    /// `dynamodb:<table>` needs a client: see `open_with_dynamodb` (feature
    /// `dynamodb`).
    ///
    /// # Errors
    /// [`StoreError::NotBuilt`] for a backend this build was compiled
    /// without, [`StoreError::NoClient`] for `dynamodb:<table>`, or the
    /// backend's error when it does not open.
    pub fn open(&self, options: StoreOptions) -> Result<Arc<dyn IdempotencyStore>, StoreError> {
        if !self.is_built() {
            return Err(self.not_built());
        }
        match self {
            StoreSpec::Memory => Ok(Arc::new(MemoryStore::new(options))),
            #[cfg(feature = "embedded")]
            StoreSpec::File(path) => Ok(Arc::new(crate::EmbeddedStore::open(path, options)?)),
            #[cfg(feature = "redis")]
            StoreSpec::Redis(url) => Ok(Arc::new(crate::RedisStore::open(
                url,
                options,
                crate::RedisOptions::default(),
            )?)),
            StoreSpec::DynamoDb(_) => Err(StoreError::NoClient {
                backend: self.backend(),
            }),
            #[allow(unreachable_patterns)]
            _ => Err(self.not_built()),
        }
    }

    /// Opens the store; `dynamodb` builds the DynamoDB client, and is only
    /// called for `dynamodb:<table>`.
    ///
    /// # Errors
    /// As [`open`](Self::open), without [`StoreError::NoClient`].
    #[cfg(feature = "dynamodb")]
    pub fn open_with_dynamodb(
        &self,
        options: StoreOptions,
        dynamodb: impl FnOnce() -> aws_sdk_dynamodb::Client,
    ) -> Result<Arc<dyn IdempotencyStore>, StoreError> {
        match self {
            StoreSpec::DynamoDb(table) => Ok(Arc::new(crate::DynamoDbStore::new(
                dynamodb(),
                table.clone(),
                options,
            ))),
            other => other.open(options),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_backend_parses() {
        assert_eq!("memory".parse(), Ok(StoreSpec::Memory));
        assert_eq!(
            "file:.switchyard/idem.redb".parse(),
            Ok(StoreSpec::File(".switchyard/idem.redb".into()))
        );
        assert_eq!(
            "dynamodb:idem".parse(),
            Ok(StoreSpec::DynamoDb("idem".into()))
        );
        assert_eq!(
            "redis://127.0.0.1:6379".parse(),
            Ok(StoreSpec::Redis("redis://127.0.0.1:6379".into()))
        );
        for bad in ["", "dynamodb:", "file:", "postgres://db", "Memory"] {
            assert!(bad.parse::<StoreSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn opening_names_the_missing_feature_or_client() {
        let opened = StoreSpec::Memory.open(StoreOptions::default());
        assert!(opened.is_ok());
        let dynamodb = StoreSpec::DynamoDb("idem".into());
        let error = dynamodb
            .open(StoreOptions::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        if cfg!(feature = "dynamodb") {
            assert!(error.contains("needs a client"), "{error}");
        } else {
            assert!(error.contains("`dynamodb` feature"), "{error}");
        }
        for (spec, built, feature) in [
            (
                StoreSpec::Redis("redis://127.0.0.1:1".into()),
                cfg!(feature = "redis"),
                "`redis` feature",
            ),
            (
                StoreSpec::File("unused.redb".into()),
                cfg!(feature = "embedded"),
                "`embedded` feature",
            ),
        ] {
            assert_eq!(spec.is_built(), built, "{spec:?}");
            if !built {
                let error = spec
                    .open(StoreOptions::default())
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                assert!(error.contains(feature), "{error}");
            }
        }
    }
}
