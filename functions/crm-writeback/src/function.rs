//! crm-writeback's one declaration: what it consumes, its triggers and
//! settings, and how its CRM clients are built from them.

use switchyard_contracts::events::CrmSystem;
use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{BuildContext, DEFAULT_TOPIC, Function, Setting, Trigger};

use crate::{CrmWriteback, FUNCTION_NAME};

/// The settings crm-writeback reads besides the platform's.
pub const SETTINGS: &[Setting] = &[];

/// The setting that turns a CRM's client on.
pub(crate) fn enabling_setting(system: CrmSystem) -> &'static str {
    match system {
        CrmSystem::Dynamics => "DATAVERSE_URL",
        CrmSystem::HubSpot => "HUBSPOT_ACCESS_TOKEN",
        CrmSystem::Salesforce => "SALESFORCE_URL",
    }
}

/// Builds the handler with a client for every CRM whose settings are given.
///
/// # Errors
/// [`ConfigError`] naming the missing or malformed setting.
pub async fn build(_ctx: BuildContext) -> Result<CrmWriteback, ConfigError> {
    Ok(CrmWriteback::new())
}

/// The registration: an SQS queue (fed by an EventBridge rule) on Lambda,
/// the Service Bus subscription `crm-writeback` of the topic `integration`
/// on Azure.
pub fn function() -> Function {
    Function::messages(FUNCTION_NAME, &[Trigger::Sqs, Trigger::ServiceBus], build)
        .topic(DEFAULT_TOPIC)
        .subscription("crm-writeback")
        .summary("writes the ERP's order number back into the CRM record the order came from")
        .settings(SETTINGS)
}
