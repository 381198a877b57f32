//! Choosing a backend from one setting, as every function's wiring does:
//! `SWITCHYARD_IDEMPOTENCY` = `dynamodb:<table>` | `redis://host:port` |
//! `file:<path>` | `memory`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use crate::{
    DynamoDbStore, EmbeddedStore, IdempotencyStore, MemoryStore, RedisOptions, RedisStore,
    StoreError, StoreOptions,
};

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
    /// Opens the store. `dynamodb` builds the client only when needed.
    pub fn open(
        &self,
        options: StoreOptions,
        dynamodb: impl FnOnce() -> aws_sdk_dynamodb::Client,
    ) -> Result<Arc<dyn IdempotencyStore>, StoreError> {
        Ok(match self {
            StoreSpec::Memory => Arc::new(MemoryStore::new(options)),
            StoreSpec::File(path) => Arc::new(EmbeddedStore::open(path, options)?),
            StoreSpec::DynamoDb(table) => {
                Arc::new(DynamoDbStore::new(dynamodb(), table.clone(), options))
            }
            StoreSpec::Redis(url) => {
                Arc::new(RedisStore::open(url, options, RedisOptions::default())?)
            }
        })
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
}
