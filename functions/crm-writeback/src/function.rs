//! crm-writeback's one declaration: what it consumes, its triggers and
//! settings, and how its CRM clients are built from them.

use std::sync::Arc;
use std::time::Duration;

use switchyard_contracts::events::CrmSystem;
use switchyard_secrets::SecretResolver;
use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{BuildContext, DEFAULT_TOPIC, Function, Setting, Trigger};

use crate::dataverse::DataverseClient;
use crate::hubspot::HubSpotClient;
use crate::salesforce::SalesforceClient;
use crate::{CrmWriteback, FUNCTION_NAME};

/// The settings crm-writeback reads besides the platform's. Each CRM is
/// optional: its first setting turns its client on.
pub const SETTINGS: &[Setting] = &[
    Setting::optional("CRM_TIMEOUT_MS", "per-request timeout of CRM calls", "5000"),
    Setting::optional(
        "DATAVERSE_URL",
        "Dataverse environment URL, e.g. https://contoso.crm.dynamics.com (unset: no Dynamics write-back)",
        "",
    ),
    Setting::optional(
        "DATAVERSE_ERP_NUMBER_COLUMN",
        "the salesorder column that holds the ERP number",
        crate::dataverse::DEFAULT_COLUMN,
    ),
    Setting::optional(
        "DATAVERSE_CLIENT_ID",
        "Entra ID client id of the Dataverse application user (unset: no token sent)",
        "",
    ),
    Setting::optional(
        "DATAVERSE_CLIENT_SECRET",
        "its client secret (or DATAVERSE_CLIENT_CERTIFICATE)",
        "",
    ),
    Setting::optional(
        "DATAVERSE_CLIENT_CERTIFICATE",
        "path of a PEM with its key and certificate (or DATAVERSE_CLIENT_SECRET)",
        "",
    ),
    Setting::optional(
        "DATAVERSE_TENANT_ID",
        "Entra ID tenant of the application user (or DATAVERSE_TOKEN_URL)",
        "",
    ),
    Setting::optional(
        "DATAVERSE_TOKEN_URL",
        "token endpoint (or DATAVERSE_TENANT_ID)",
        "",
    ),
    Setting::optional("DATAVERSE_SCOPE", "token scope", "{DATAVERSE_URL}/.default"),
    Setting::optional(
        "HUBSPOT_ACCESS_TOKEN",
        "HubSpot private app access token (unset: no HubSpot write-back)",
        "",
    ),
    Setting::optional(
        "HUBSPOT_URL",
        "HubSpot API base URL",
        crate::hubspot::DEFAULT_URL,
    ),
    Setting::optional(
        "HUBSPOT_ERP_NUMBER_PROPERTY",
        "the deal property that holds the ERP number",
        crate::hubspot::DEFAULT_PROPERTY,
    ),
    Setting::optional(
        "SALESFORCE_URL",
        "Salesforce My Domain URL (unset: no Salesforce write-back)",
        "",
    ),
    Setting::optional(
        "SALESFORCE_CLIENT_ID",
        "consumer key of the connected app (client credentials flow)",
        "",
    ),
    Setting::optional("SALESFORCE_CLIENT_SECRET", "its consumer secret", ""),
    Setting::optional(
        "SALESFORCE_TOKEN_URL",
        "token endpoint",
        "{SALESFORCE_URL}/services/oauth2/token",
    ),
    Setting::optional(
        "SALESFORCE_API_VERSION",
        "REST API version",
        crate::salesforce::DEFAULT_API_VERSION,
    ),
    Setting::optional(
        "SALESFORCE_ERP_NUMBER_FIELD",
        "the Order field that holds the ERP number",
        crate::salesforce::DEFAULT_FIELD,
    ),
];

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
/// [`ConfigError`] naming the missing or malformed setting. With no CRM
/// configured it still starts (a Function App hosts every function), warns,
/// and parks each order with the setting that would enable its CRM.
pub async fn build(ctx: BuildContext) -> Result<CrmWriteback, ConfigError> {
    let settings = &ctx.settings;
    let timeout = Duration::from_millis(settings.parse_or("CRM_TIMEOUT_MS", 5_000)?);
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(3)))
        .build()
        .map_err(|e| ConfigError::unavailable("the CRM HTTP client", e))?;
    // the client secrets and HubSpot's token may be secret store
    // references when the host gives a resolver (Lambda); each is read once
    // now, so a missing one fails the start-up naming it
    let secrets = ctx.resources.get::<SecretResolver>().unwrap_or_default();
    let mut handler = CrmWriteback::new();
    if let Some(client) = DataverseClient::from_settings_with(settings, http.clone(), &secrets)? {
        client.credentials().check().await?;
        handler = handler.with(CrmSystem::Dynamics, Arc::new(client));
    }
    if let Some(client) = HubSpotClient::from_settings_with(settings, http.clone(), &secrets)? {
        client.credentials().check().await?;
        handler = handler.with(CrmSystem::HubSpot, Arc::new(client));
    }
    if let Some(client) = SalesforceClient::from_settings_with(settings, http, &secrets)? {
        client.credentials().check().await?;
        handler = handler.with(CrmSystem::Salesforce, Arc::new(client));
    }
    if handler.systems().is_empty() {
        tracing::warn!(
            settings = "DATAVERSE_URL, HUBSPOT_ACCESS_TOKEN, SALESFORCE_URL",
            "CrmWritebackUnconfigured"
        );
    } else {
        tracing::info!(crms = ?handler.systems(), "CrmWritebackConfigured");
    }
    Ok(handler)
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
