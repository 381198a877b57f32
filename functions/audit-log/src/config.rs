//! audit-log's settings, read from the environment (documented in
//! README.md), and its wiring.

use std::sync::Arc;
use std::time::Duration;

use switchyard_idempotency::{IdempotencyConfig, StoreOptions, StoreSpec};
use switchyard_triggers::Idempotency;
use switchyard_triggers::config::{self, Env};
use switchyard_triggers::eventbridge::{EventBridgeAdapter, EventBridgeAdapterConfig};
use switchyard_triggers::sqs::{AwsSqs, SqsApi};

use crate::dynamodb::DynamoDbAuditStore;
use crate::{AuditLog, AuditStore, FUNCTION_NAME};

/// A setting is missing or wrong, or a component could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable is missing or malformed.
    #[error(transparent)]
    Env(#[from] config::ConfigError),
    /// The idempotency store could not be opened.
    #[error("cannot open the idempotency store: {0}")]
    Store(#[from] switchyard_idempotency::StoreError),
}

/// Every setting of audit-log.
#[derive(Debug, Clone)]
pub struct Config {
    /// `AUDIT_TABLE_NAME`: the DynamoDB audit table (required).
    pub table: String,
    /// `SWITCHYARD_IDEMPOTENCY` (required).
    pub store: StoreSpec,
    /// `SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS` (default 3600).
    pub store_expiry: Duration,
    /// The EventBridge adapter's settings (`SWITCHYARD_PARK_QUEUE_URL`, ...).
    pub adapter: EventBridgeAdapterConfig,
}

impl Config {
    /// Reads every setting; the first missing or malformed one is named.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        Ok(Config {
            table: env.required("AUDIT_TABLE_NAME", "the DynamoDB audit table")?,
            store: env
                .parse::<StoreSpec>("SWITCHYARD_IDEMPOTENCY")?
                .ok_or_else(|| config::ConfigError::Missing {
                    var: "SWITCHYARD_IDEMPOTENCY".to_owned(),
                    what: "the idempotency store: dynamodb:<table>, redis://host:port, file:<path> or memory",
                })?,
            store_expiry: Duration::from_secs(env.parse("SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS")?.unwrap_or(3_600)),
            adapter: EventBridgeAdapterConfig::from_env(env)?,
        })
    }
}

/// Builds the adapter from a config and an SDK config.
pub fn build_adapter(
    config: &Config,
    aws: &aws_config::SdkConfig,
) -> Result<EventBridgeAdapter<AuditLog>, ConfigError> {
    let audit: Arc<dyn AuditStore> = Arc::new(DynamoDbAuditStore::new(
        aws_sdk_dynamodb::Client::new(aws),
        config.table.clone(),
    ));
    let store = config.store.open(
        StoreOptions::default().with_expiry(config.store_expiry),
        || aws_sdk_dynamodb::Client::new(aws),
    )?;
    let sqs: Arc<dyn SqsApi> = Arc::new(AwsSqs::new(aws_sdk_sqs::Client::new(aws)));
    let mut idempotency = IdempotencyConfig::for_function(FUNCTION_NAME);
    idempotency.expiry = config.store_expiry;
    Ok(EventBridgeAdapter::new(
        AuditLog::new(audit),
        FUNCTION_NAME,
        config.adapter.clone(),
        Some(sqs),
    )
    .with_idempotency(Idempotency {
        config: idempotency,
        store,
    }))
}

/// Reads the environment and builds everything, as `main` does.
pub async fn from_env() -> Result<EventBridgeAdapter<AuditLog>, ConfigError> {
    let config = Config::from_env(&Env::process())?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    build_adapter(&config, &aws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_settings_are_named() {
        let err = Config::from_env(&Env::from_fn(|_| None)).unwrap_err();
        assert!(err.to_string().contains("AUDIT_TABLE_NAME"), "{err}");
        let err = Config::from_env(&Env::from_fn(|k| {
            (k == "AUDIT_TABLE_NAME").then(|| "audit".to_owned())
        }))
        .unwrap_err();
        assert!(err.to_string().contains("SWITCHYARD_IDEMPOTENCY"), "{err}");
    }
}
