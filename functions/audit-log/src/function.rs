//! audit-log's one declaration, and how its audit store is chosen: one the
//! host gives ([`Resources`](switchyard_triggers::registry::Resources) of
//! `Arc<dyn AuditStore>`, e.g. the local stack's), else `AUDIT_STORE`.

use std::sync::Arc;

use switchyard_triggers::config::{ConfigError, Settings};
use switchyard_triggers::registry::{BuildContext, DEFAULT_TOPIC, Function, Setting, Trigger};

use crate::{AuditLog, AuditStore, FUNCTION_NAME};

/// The settings audit-log reads besides the platform's.
pub const SETTINGS: &[Setting] = &[Setting::required(
    "AUDIT_STORE",
    "the audit table: dynamodb:<table> (Lambda) or file:<path> (embedded)",
)];

/// Opens the store `AUDIT_STORE` names.
///
/// # Errors
/// [`ConfigError`] naming the variable, or saying why the store does not open.
pub async fn open_audit_store(settings: &Settings) -> Result<Arc<dyn AuditStore>, ConfigError> {
    let what = "the audit table: dynamodb:<table> (Lambda) or file:<path> (embedded)";
    let spec = settings.required("AUDIT_STORE", what)?;
    if let Some(table) = spec.strip_prefix("dynamodb:").filter(|t| !t.is_empty()) {
        #[cfg(feature = "dynamodb")]
        {
            let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .load()
                .await;
            return Ok(Arc::new(crate::dynamodb::DynamoDbAuditStore::new(
                aws_sdk_dynamodb::Client::new(&aws),
                table,
            )));
        }
        #[cfg(not(feature = "dynamodb"))]
        return Err(ConfigError::invalid(
            settings.source_of("AUDIT_STORE"),
            format!("dynamodb:{table} needs audit-log's `dynamodb` feature, not in this build"),
        ));
    }
    if let Some(path) = spec.strip_prefix("file:").filter(|p| !p.is_empty()) {
        #[cfg(feature = "embedded")]
        {
            return crate::embedded::EmbeddedAuditStore::open(std::path::Path::new(path))
                .map(|s| Arc::new(s) as Arc<dyn AuditStore>)
                .map_err(|e| ConfigError::unavailable("the audit table", e));
        }
        #[cfg(not(feature = "embedded"))]
        return Err(ConfigError::invalid(
            settings.source_of("AUDIT_STORE"),
            format!("file:{path} needs audit-log's `embedded` feature, not in this build"),
        ));
    }
    Err(ConfigError::invalid(
        settings.source_of("AUDIT_STORE"),
        format!("{spec:?}: expected {what}"),
    ))
}

/// Builds the handler over the host's audit store or the configured one.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn build(ctx: BuildContext) -> Result<AuditLog, ConfigError> {
    let store = match ctx.resources.get::<Arc<dyn AuditStore>>() {
        Some(store) => store,
        None => open_audit_store(&ctx.settings).await?,
    };
    Ok(AuditLog::new(store))
}

/// The registration: an EventBridge rule target on Lambda, the Service Bus
/// subscription `audit` of the topic `integration` on Azure.
pub fn function() -> Function {
    Function::messages(
        FUNCTION_NAME,
        &[Trigger::EventBridge, Trigger::ServiceBus],
        build,
    )
    .topic(DEFAULT_TOPIC)
    .subscription("audit")
    .summary("writes one audit record per erp.order-synced and customer.updated event")
    .settings(SETTINGS)
}
