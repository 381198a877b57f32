//! erp-sync's one declaration: what it consumes and publishes, its
//! triggers and settings, and how its handler is built from them.

use std::sync::Arc;
use std::time::Duration;

use switchyard_auth::{ClientCredentials, Credentials, OAuthConfig};
use switchyard_contracts::Event;
use switchyard_contracts::events::{CustomerUpdatedV1, ErpOrderSyncedV1};
use switchyard_secrets::SecretResolver;
use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{BuildContext, DEFAULT_TOPIC, Function, Setting, Trigger};
use switchyard_triggers::{EntityKey, OrderedBy, PositionOf};

use crate::{ErpClient, ErpSync, FUNCTION_NAME};

/// The settings erp-sync reads besides the platform's.
pub const SETTINGS: &[Setting] = &[
    Setting::required("ERP_BASE_URL", "the base URL of the ERP API"),
    Setting::optional("ERP_TIMEOUT_MS", "per-request timeout of ERP calls", "5000"),
    Setting::optional(
        "ERP_CLIENT_ID",
        "OAuth 2.0 client id for the ERP (unset: no Authorization header)",
        "",
    ),
    Setting::optional(
        "ERP_CLIENT_SECRET",
        "OAuth client secret, or a reference: secretsmanager:<secret>[#<json key>], ssm:<parameter> (or ERP_CLIENT_CERTIFICATE)",
        "",
    ),
    Setting::optional(
        "ERP_CLIENT_CERTIFICATE",
        "path of a PEM with the OAuth client's PKCS#8 key and certificate (or ERP_CLIENT_SECRET)",
        "",
    ),
    Setting::optional(
        "ERP_TOKEN_URL",
        "OAuth token endpoint (or ERP_TENANT_ID)",
        "",
    ),
    Setting::optional(
        "ERP_TENANT_ID",
        "Entra ID tenant whose v2 token endpoint is used when ERP_TOKEN_URL is unset",
        "",
    ),
    Setting::optional(
        "ERP_SCOPE",
        "OAuth scope of the ERP's tokens, e.g. api://erp/.default",
        "",
    ),
];

/// Customer updates are applied newest-wins: per customer, an update whose
/// CRM change time (`updatedAt`) is older than one already applied is
/// acknowledged as stale, never written over the newer data.
pub const ORDERED: &[OrderedBy] = &[OrderedBy::new(
    CustomerUpdatedV1::TYPE,
    EntityKey::Field("/customerId"),
    PositionOf::Field("/updatedAt"),
)];

/// Builds the handler from its settings.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn build(ctx: BuildContext) -> Result<ErpSync, ConfigError> {
    let base_url = ctx
        .settings
        .required("ERP_BASE_URL", "the base URL of the ERP API")?;
    let timeout = Duration::from_millis(ctx.settings.parse_or("ERP_TIMEOUT_MS", 5_000)?);
    // ERP_CLIENT_SECRET may be a secret store reference when the host
    // gives a resolver (Lambda): read per token request through its cache
    let secrets = ctx.resources.get::<SecretResolver>().unwrap_or_default();
    let credentials = match OAuthConfig::load(&ctx.settings, "ERP", None, &secrets).await? {
        None => Credentials::None,
        Some(config) => {
            let http = reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout.min(Duration::from_secs(3)))
                .build()
                .map_err(|e| ConfigError::unavailable("the ERP token HTTP client", e))?;
            Credentials::OAuth(Arc::new(ClientCredentials::new(config, http)))
        }
    };
    let erp = ErpClient::new(&base_url, timeout, credentials)
        .map_err(|e| ConfigError::unavailable("the ERP HTTP client", e))?;
    Ok(ErpSync::new(erp))
}

/// The registration: an SQS queue on Lambda, the Service Bus subscription
/// `erp-sync` of the topic `integration` on Azure.
pub fn function() -> Function {
    Function::messages(FUNCTION_NAME, &[Trigger::Sqs, Trigger::ServiceBus], build)
        .topic(DEFAULT_TOPIC)
        .subscription("erp-sync")
        .summary("upserts orders and customers into the ERP; publishes erp.order-synced")
        .publishes(&[ErpOrderSyncedV1::TYPE])
        .settings(SETTINGS)
        .ordered(ORDERED)
}
