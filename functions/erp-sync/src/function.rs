//! erp-sync's one declaration: what it consumes and publishes, its
//! triggers and settings, and how its handler is built from them.

use std::time::Duration;

use switchyard_contracts::Event;
use switchyard_contracts::events::ErpOrderSyncedV1;
use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{BuildContext, Function, Setting, Trigger};

use crate::{ErpClient, ErpSync, FUNCTION_NAME};

/// The settings erp-sync reads besides the platform's.
pub const SETTINGS: &[Setting] = &[
    Setting::required("ERP_BASE_URL", "the base URL of the ERP API"),
    Setting::optional("ERP_TIMEOUT_MS", "per-request timeout of ERP calls", "5000"),
];

/// Builds the handler from its settings.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn build(ctx: BuildContext) -> Result<ErpSync, ConfigError> {
    let base_url = ctx
        .settings
        .required("ERP_BASE_URL", "the base URL of the ERP API")?;
    let timeout = Duration::from_millis(ctx.settings.parse_or("ERP_TIMEOUT_MS", 5_000)?);
    let erp = ErpClient::new(&base_url, timeout)
        .map_err(|e| ConfigError::unavailable("the ERP HTTP client", e))?;
    Ok(ErpSync::new(erp))
}

/// The registration: an SQS queue on Lambda, a Service Bus subscription on
/// Azure.
pub fn function() -> Function {
    Function::messages(FUNCTION_NAME, &[Trigger::Sqs, Trigger::ServiceBus], build)
        .summary("upserts orders and customers into the ERP; publishes erp.order-synced")
        .publishes(&[ErpOrderSyncedV1::TYPE])
        .settings(SETTINGS)
}
