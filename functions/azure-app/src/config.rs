//! The Function App's settings, read from the app settings (environment),
//! each error naming its variable (documented in README.md).

use std::sync::Arc;
use std::time::Duration;

use switchyard_contracts::{Currency, DecodeOptions};
use switchyard_idempotency::{
    EmbeddedStore, IdempotencyConfig, IdempotencyStore, MemoryStore, RedisOptions, RedisStore,
    StoreOptions, StoreSpec,
};
use switchyard_publish::servicebus::{AzureServiceBus, ServiceBusHttpClient, ServiceBusSendApi};
use switchyard_publish::{Publisher, ServiceBusConfig, ServiceBusPublisher};
use switchyard_triggers::config::Env;
use switchyard_triggers::servicebus::{ServiceBusAdapter, ServiceBusAdapterConfig};
use switchyard_triggers::{Idempotency, config};

use crate::AzureApp;

/// The variable the Functions host sets to the port it expects us on.
pub const PORT_VAR: &str = "FUNCTIONS_CUSTOMHANDLER_PORT";

/// A setting is missing or malformed, or a component could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// An environment variable is missing or malformed.
    #[error(transparent)]
    Env(#[from] config::ConfigError),
    /// The Service Bus settings are missing or malformed.
    #[error(transparent)]
    ServiceBus(#[from] switchyard_publish::ConfigError),
    /// crm-webhook's settings are missing or malformed.
    #[error(transparent)]
    Crm(#[from] switchyard_crm_webhook::ConfigError),
    /// The idempotency store cannot be used here or could not be opened.
    #[error("SWITCHYARD_IDEMPOTENCY: {0}")]
    Store(String),
    /// An HTTP client could not be built.
    #[error("cannot build an HTTP client: {0}")]
    Http(String),
}

/// Every setting of the Function App.
#[derive(Debug, Clone)]
pub struct Config {
    /// `ERP_BASE_URL` (required).
    pub erp_base_url: String,
    /// `ERP_TIMEOUT_MS` (default 5000).
    pub erp_timeout: Duration,
    /// `SWITCHYARD_IDEMPOTENCY`: `redis://` / `rediss://` (Azure Cache for
    /// Redis), `file:<path>` or `memory`; `dynamodb:` is refused.
    pub store: StoreSpec,
    /// `SERVICEBUS_CONNECTION_STRING`, `SERVICEBUS_ENTITY` (the topic),
    /// `SERVICEBUS_ENDPOINT_URL`, ...: where both functions publish.
    pub servicebus: ServiceBusConfig,
    /// The Service Bus trigger adapter's settings (`SWITCHYARD_PARK_QUEUE`, ...).
    pub adapter: ServiceBusAdapterConfig,
    /// crm-webhook's settings (`SWITCHYARD_*_WEBHOOK_*`, ...).
    pub crm: switchyard_crm_webhook::Config,
    /// `SWITCHYARD_ORDER_V1_CURRENCY`: the currency of `order.placed` v1 totals.
    pub order_v1_currency: Option<Currency>,
    /// `SWITCHYARD_HTTP_ROUTE_PREFIX` (default `/api`, host.json's
    /// `extensions.http.routePrefix`): stripped from HTTP trigger URLs.
    pub route_prefix: String,
}

impl Config {
    /// Reads every setting through `lookup`; the first missing or malformed
    /// one is named.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable.
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env::from_fn(|k: &str| lookup(k));
        let erp_base_url = env.required("ERP_BASE_URL", "the base URL of the ERP API")?;
        let store = env
            .parse::<StoreSpec>("SWITCHYARD_IDEMPOTENCY")?
            .ok_or_else(|| config::ConfigError::Missing {
                var: "SWITCHYARD_IDEMPOTENCY".to_owned(),
                what: "the idempotency store: redis://host:port, file:<path> or memory",
            })?;
        if let StoreSpec::DynamoDb(_) = store {
            return Err(ConfigError::Store(
                "dynamodb:<table> is not available on Azure; use redis:// (Azure Cache for Redis)"
                    .to_owned(),
            ));
        }
        let mut route_prefix = env
            .optional("SWITCHYARD_HTTP_ROUTE_PREFIX")
            .unwrap_or_else(|| "/api".to_owned());
        if !route_prefix.starts_with('/') {
            route_prefix.insert(0, '/');
        }
        Ok(Config {
            erp_base_url,
            erp_timeout: Duration::from_millis(env.parse("ERP_TIMEOUT_MS")?.unwrap_or(5_000)),
            store,
            servicebus: ServiceBusConfig::from_lookup(lookup)?,
            adapter: ServiceBusAdapterConfig::from_env(&env)?,
            crm: switchyard_crm_webhook::Config::from_lookup(lookup)?,
            order_v1_currency: env.parse("SWITCHYARD_ORDER_V1_CURRENCY")?,
            route_prefix: route_prefix.trim_end_matches('/').to_owned(),
        })
    }
}

/// The port the host expects the handler on (`FUNCTIONS_CUSTOMHANDLER_PORT`).
///
/// # Errors
/// [`ConfigError::Env`] naming the variable when it is unset or not a port.
pub fn listen_port(lookup: &dyn Fn(&str) -> Option<String>) -> Result<u16, ConfigError> {
    let env = Env::from_fn(|k: &str| lookup(k));
    env.parse::<u16>(PORT_VAR)?.ok_or_else(|| {
        config::ConfigError::Missing {
            var: PORT_VAR.to_owned(),
            what: "the port the Functions host forwards invocations to (set by the host)",
        }
        .into()
    })
}

/// Opens the store (not DynamoDB: refused by [`Config::from_lookup`]).
fn open_store(
    spec: &StoreSpec,
    options: StoreOptions,
) -> Result<Arc<dyn IdempotencyStore>, ConfigError> {
    let failed = |e: switchyard_idempotency::StoreError| ConfigError::Store(e.to_string());
    Ok(match spec {
        StoreSpec::Memory => Arc::new(MemoryStore::new(options)),
        StoreSpec::File(path) => Arc::new(EmbeddedStore::open(path, options).map_err(failed)?),
        StoreSpec::Redis(url) => {
            Arc::new(RedisStore::open(url, options, RedisOptions::default()).map_err(failed)?)
        }
        StoreSpec::DynamoDb(_) => {
            return Err(ConfigError::Store(
                "dynamodb is not available on Azure".to_owned(),
            ));
        }
    })
}

/// Builds the app's state from a config: one Service Bus sender (publisher
/// and park target), one idempotency store (keys prefixed per function).
///
/// # Errors
/// [`ConfigError`] when a client or the store cannot be built.
pub fn build(config: Config) -> Result<AzureApp, ConfigError> {
    let http = ServiceBusHttpClient::new(config.servicebus.endpoint_url.as_deref())
        .map_err(|e| ConfigError::Http(e.to_string()))?;
    let sender = AzureServiceBus::new(http.shared(), config.servicebus.connection.clone());
    let publisher: Arc<dyn Publisher> = Arc::new(ServiceBusPublisher::with_client(
        sender.clone(),
        config.servicebus.clone(),
    ));
    let expiry = config.crm.dedupe_window;
    let store = open_store(&config.store, StoreOptions::default().with_expiry(expiry))?;

    let erp = switchyard_erp_sync::ErpClient::new(&config.erp_base_url, config.erp_timeout)
        .map_err(|e| ConfigError::Http(e.to_string()))?;
    let mut idempotency = IdempotencyConfig::for_function(switchyard_erp_sync::FUNCTION_NAME);
    idempotency.expiry = expiry;
    let parker: Arc<dyn ServiceBusSendApi> = Arc::new(sender);
    let erp_sync = ServiceBusAdapter::new(
        switchyard_erp_sync::ErpSync::new(erp, publisher.clone()),
        switchyard_erp_sync::FUNCTION_NAME,
        config.adapter.clone(),
        Some(parker),
    )
    .with_decode_options(DecodeOptions {
        order_placed_v1_currency: config.order_v1_currency,
    })
    .with_idempotency(Idempotency {
        config: idempotency,
        store: store.clone(),
    });
    let crm = switchyard_crm_webhook::AppState::new(config.crm, publisher, store);
    Ok(AzureApp::new(erp_sync, crm, config.route_prefix))
}

/// Reads the process environment and builds everything, as `main` does.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub fn from_env() -> Result<AzureApp, ConfigError> {
    build(Config::from_lookup(&|k| std::env::var(k).ok())?)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut v: HashMap<String, String> = [
            ("ERP_BASE_URL", "http://erp"),
            ("SWITCHYARD_IDEMPOTENCY", "memory"),
            (
                "SERVICEBUS_CONNECTION_STRING",
                "Endpoint=sb://sy.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k",
            ),
            ("SERVICEBUS_ENTITY", "integration"),
            ("SWITCHYARD_STANDARD_WEBHOOK_SECRET", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (k, val) in extra {
            v.insert((*k).to_owned(), (*val).to_owned());
        }
        v
    }

    fn read(v: HashMap<String, String>) -> Result<Config, ConfigError> {
        Config::from_lookup(&move |k| v.get(k).cloned())
    }

    #[test]
    fn each_missing_variable_is_named() {
        for var in [
            "ERP_BASE_URL",
            "SWITCHYARD_IDEMPOTENCY",
            "SERVICEBUS_CONNECTION_STRING",
            "SERVICEBUS_ENTITY",
        ] {
            let mut v = vars(&[]);
            v.remove(var);
            let err = read(v).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
        let mut v = vars(&[]);
        v.remove("SWITCHYARD_STANDARD_WEBHOOK_SECRET");
        assert!(
            read(v)
                .unwrap_err()
                .to_string()
                .contains("SWITCHYARD_STANDARD_WEBHOOK_SECRET")
        );
        let err = listen_port(&|_| None).unwrap_err().to_string();
        assert!(err.contains(PORT_VAR), "{err}");
        let err = listen_port(&|_| Some("http".into()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(PORT_VAR), "{err}");
        assert_eq!(listen_port(&|_| Some("3000".into())).unwrap(), 3000);
    }

    #[test]
    fn malformed_values_are_named() {
        for (var, value) in [
            ("SWITCHYARD_IDEMPOTENCY", "dynamodb:idem"),
            (
                "SERVICEBUS_CONNECTION_STRING",
                "Endpoint=sb://x.example.com/",
            ),
            ("ERP_TIMEOUT_MS", "soon"),
            ("SWITCHYARD_INVOCATION_TIMEOUT_MS", "0"),
            ("SWITCHYARD_ORDER_V1_CURRENCY", "EURO"),
        ] {
            let err = read(vars(&[(var, value)])).unwrap_err().to_string();
            assert!(err.contains(var), "{var}: {err}");
        }
    }

    #[test]
    fn a_full_config_builds() {
        let c = read(vars(&[
            ("SWITCHYARD_PARK_QUEUE", "park"),
            ("SWITCHYARD_HTTP_ROUTE_PREFIX", "hooks/"),
            ("SERVICEBUS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ]))
        .unwrap();
        assert_eq!(c.route_prefix, "/hooks");
        assert_eq!(c.adapter.park_queue.as_deref(), Some("park"));
        assert_eq!(c.servicebus.entity, "integration");
        assert!(build(c).is_ok());
    }
}
