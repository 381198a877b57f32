//! erp-sync's settings, read from the environment (documented in README.md),
//! and the wiring of adapter, handler, store and publisher.

use std::sync::Arc;
use std::time::Duration;

use switchyard_contracts::{Currency, DecodeOptions};
use switchyard_idempotency::{IdempotencyConfig, IdempotencyStore, StoreOptions, StoreSpec};
use switchyard_publish::{
    EventBridgeConfig, EventBridgePublisher, Publisher, SqsConfig, SqsPublisher,
};
use switchyard_triggers::config::Env;
use switchyard_triggers::sqs::{AwsSqs, SqsAdapter, SqsAdapterConfig, SqsApi};
use switchyard_triggers::{Idempotency, config};

use crate::{ErpClient, ErpSync, FUNCTION_NAME};

/// A setting is missing or wrong, or a component could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable is missing or malformed.
    #[error(transparent)]
    Env(#[from] config::ConfigError),
    /// The publisher's settings are missing or malformed.
    #[error(transparent)]
    Publish(#[from] switchyard_publish::ConfigError),
    /// The idempotency store could not be opened.
    #[error("cannot open the idempotency store ({spec}): {source}")]
    Store {
        /// The `SWITCHYARD_IDEMPOTENCY` value.
        spec: String,
        /// Why.
        source: switchyard_idempotency::StoreError,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the ERP HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// Where `erp.order-synced` goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishSpec {
    /// `EVENT_BUS_NAME`: an EventBridge bus.
    EventBridge,
    /// `SQS_QUEUE_URL`: an SQS queue.
    Sqs,
}

/// Every setting of erp-sync.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ERP_BASE_URL`: the ERP API (required).
    pub erp_base_url: String,
    /// `ERP_TIMEOUT_MS`: per-request timeout (default 5000).
    pub erp_timeout: Duration,
    /// `SWITCHYARD_IDEMPOTENCY` (required).
    pub store: StoreSpec,
    /// `SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS` (default 3600).
    pub store_expiry: Duration,
    /// `EVENT_BUS_NAME` or `SQS_QUEUE_URL`.
    pub publish: PublishSpec,
    /// `SWITCHYARD_ORDER_V1_CURRENCY`: the currency of `order.placed` v1 totals.
    pub order_v1_currency: Option<Currency>,
    /// The SQS adapter's settings (`SWITCHYARD_PARK_QUEUE_URL`, ...).
    pub adapter: SqsAdapterConfig,
}

impl Config {
    /// Reads every setting; the first missing or malformed one is named.
    pub fn from_env<F: Fn(&str) -> Option<String>>(env: &Env<F>) -> Result<Self, ConfigError> {
        let erp_base_url = env.required("ERP_BASE_URL", "the base URL of the ERP API")?;
        let store = env
            .parse::<StoreSpec>("SWITCHYARD_IDEMPOTENCY")?
            .ok_or_else(|| config::ConfigError::Missing {
                var: "SWITCHYARD_IDEMPOTENCY".to_owned(),
                what: "the idempotency store: dynamodb:<table>, redis://host:port, file:<path> or memory",
            })?;
        let publish = if env.optional("EVENT_BUS_NAME").is_some() {
            PublishSpec::EventBridge
        } else if env.optional("SQS_QUEUE_URL").is_some() {
            PublishSpec::Sqs
        } else {
            return Err(config::ConfigError::Missing {
                var: "EVENT_BUS_NAME".to_owned(),
                what: "where erp.order-synced is published (or set SQS_QUEUE_URL)",
            }
            .into());
        };
        Ok(Config {
            erp_base_url,
            erp_timeout: Duration::from_millis(env.parse("ERP_TIMEOUT_MS")?.unwrap_or(5_000)),
            store,
            store_expiry: Duration::from_secs(
                env.parse("SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS")?
                    .unwrap_or(3_600),
            ),
            publish,
            order_v1_currency: env.parse("SWITCHYARD_ORDER_V1_CURRENCY")?,
            adapter: SqsAdapterConfig::from_env(env)?,
        })
    }
}

/// Opens the configured idempotency store.
pub fn open_store(
    spec: &StoreSpec,
    expiry: Duration,
    aws: &aws_config::SdkConfig,
) -> Result<Arc<dyn IdempotencyStore>, ConfigError> {
    spec.open(StoreOptions::default().with_expiry(expiry), || {
        aws_sdk_dynamodb::Client::new(aws)
    })
    .map_err(|source| ConfigError::Store {
        spec: format!("{spec:?}"),
        source,
    })
}

/// Builds the adapter from a config, with the publisher given.
pub async fn build_adapter(
    config: &Config,
    aws: &aws_config::SdkConfig,
    publisher: Arc<dyn Publisher>,
) -> Result<SqsAdapter<ErpSync>, ConfigError> {
    let erp = ErpClient::new(&config.erp_base_url, config.erp_timeout)?;
    let store = open_store(&config.store, config.store_expiry, aws)?;
    let sqs: Arc<dyn SqsApi> = Arc::new(AwsSqs::new(aws_sdk_sqs::Client::new(aws)));
    let mut idempotency = IdempotencyConfig::for_function(FUNCTION_NAME);
    idempotency.expiry = config.store_expiry;
    Ok(SqsAdapter::new(
        ErpSync::new(erp, publisher),
        FUNCTION_NAME,
        config.adapter.clone(),
        Some(sqs),
    )
    .with_decode_options(DecodeOptions {
        order_placed_v1_currency: config.order_v1_currency,
    })
    .with_idempotency(Idempotency {
        config: idempotency,
        store,
    }))
}

/// Reads the environment and builds everything, as `main` does.
pub async fn from_env() -> Result<SqsAdapter<ErpSync>, ConfigError> {
    let config = Config::from_env(&Env::process())?;
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let publisher: Arc<dyn Publisher> = match config.publish {
        PublishSpec::EventBridge => Arc::new(EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(&aws),
            EventBridgeConfig::from_env()?,
        )),
        PublishSpec::Sqs => Arc::new(SqsPublisher::new(
            aws_sdk_sqs::Client::new(&aws),
            SqsConfig::from_env()?,
        )),
    };
    build_adapter(&config, &aws, publisher).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::from_fn(move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_env(&env(&[])).unwrap_err();
        assert!(err.to_string().contains("ERP_BASE_URL"), "{err}");
        let err = Config::from_env(&env(&[("ERP_BASE_URL", "http://erp")])).unwrap_err();
        assert!(err.to_string().contains("SWITCHYARD_IDEMPOTENCY"), "{err}");
        let err = Config::from_env(&env(&[
            ("ERP_BASE_URL", "http://erp"),
            ("SWITCHYARD_IDEMPOTENCY", "memory"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("EVENT_BUS_NAME"), "{err}");
    }

    #[test]
    fn malformed_values_are_named() {
        let err = Config::from_env(&env(&[
            ("ERP_BASE_URL", "http://erp"),
            ("SWITCHYARD_IDEMPOTENCY", "postgres://db"),
            ("EVENT_BUS_NAME", "bus"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("SWITCHYARD_IDEMPOTENCY"), "{err}");
        let err = Config::from_env(&env(&[
            ("ERP_BASE_URL", "http://erp"),
            ("SWITCHYARD_IDEMPOTENCY", "memory"),
            ("EVENT_BUS_NAME", "bus"),
            ("SWITCHYARD_ORDER_V1_CURRENCY", "EURO"),
        ]))
        .unwrap_err();
        assert!(
            err.to_string().contains("SWITCHYARD_ORDER_V1_CURRENCY"),
            "{err}"
        );
    }

    #[test]
    fn a_full_config_reads() {
        let c = Config::from_env(&env(&[
            ("ERP_BASE_URL", "http://erp"),
            ("SWITCHYARD_IDEMPOTENCY", "dynamodb:idem"),
            ("SQS_QUEUE_URL", "http://q"),
            ("ERP_TIMEOUT_MS", "750"),
            ("SWITCHYARD_ORDER_V1_CURRENCY", "EUR"),
        ]))
        .unwrap();
        assert_eq!(c.store, StoreSpec::DynamoDb("idem".into()));
        assert_eq!(c.publish, PublishSpec::Sqs);
        assert_eq!(c.erp_timeout, Duration::from_millis(750));
        assert_eq!(
            c.order_v1_currency.map(|c| c.to_string()),
            Some("EUR".into())
        );
    }
}
