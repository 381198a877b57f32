//! Which credential a Service Bus client uses, as the settings say: a SAS
//! connection string, or Microsoft Entra ID through an app registration
//! (client credentials) or the Function App's managed identity.

use std::fmt;
use std::sync::Arc;

use switchyard_auth::{ClientCredentials, ManagedIdentity, ManagedIdentityConfig, OAuthConfig};
use switchyard_config::{ConfigError, Settings};

use super::auth::{ENTRA_RESOURCE, ENTRA_SCOPE, ServiceBusAuth};
use super::config::{
    ConnectionString, InvalidConnectionString, NAMESPACE_SUFFIX, ServiceBusConfig,
};

/// The variable holding a SAS connection string.
pub const CONNECTION_STRING_VAR: &str = "SERVICEBUS_CONNECTION_STRING";

/// The variable holding the fully qualified namespace for Entra ID.
pub const NAMESPACE_VAR: &str = "SERVICEBUS_NAMESPACE";

/// The variable holding a user-assigned managed identity's client id.
pub const MANAGED_IDENTITY_CLIENT_ID_VAR: &str = "SERVICEBUS_MANAGED_IDENTITY_CLIENT_ID";

/// How the namespace is authenticated, as configured. `Debug` shows no
/// key or secret.
#[derive(Clone)]
pub enum ServiceBusCredential {
    /// A SAS connection string (`SERVICEBUS_CONNECTION_STRING`).
    Sas(ConnectionString),
    /// An Entra ID app registration's client-credentials grant
    /// (`SERVICEBUS_CLIENT_ID`, ...), scope [`ENTRA_SCOPE`].
    ClientCredentials(OAuthConfig),
    /// The Function App's managed identity (`IDENTITY_ENDPOINT`,
    /// `IDENTITY_HEADER`), resource [`ENTRA_RESOURCE`].
    ManagedIdentity(ManagedIdentityConfig),
}

impl fmt::Debug for ServiceBusCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceBusCredential::Sas(c) => f.debug_tuple("Sas").field(c).finish(),
            ServiceBusCredential::ClientCredentials(c) => f
                .debug_struct("ClientCredentials")
                .field("token_url", &c.token_url)
                .field("client_id", &c.client_id)
                .field("scope", &c.scope)
                .finish_non_exhaustive(),
            ServiceBusCredential::ManagedIdentity(c) => {
                f.debug_tuple("ManagedIdentity").field(c).finish()
            }
        }
    }
}

impl ServiceBusCredential {
    /// The connection string, for SAS.
    pub fn connection(&self) -> Option<&ConnectionString> {
        match self {
            ServiceBusCredential::Sas(c) => Some(c),
            _ => None,
        }
    }

    /// The client's authentication: the SAS key, or a token source asking
    /// with `http` (one cache per call: build it once per process).
    pub fn auth(&self, http: reqwest::Client) -> ServiceBusAuth {
        match self {
            ServiceBusCredential::Sas(c) => ServiceBusAuth::from(c),
            ServiceBusCredential::ClientCredentials(c) => {
                ServiceBusAuth::Entra(Arc::new(ClientCredentials::new(c.clone(), http)))
            }
            ServiceBusCredential::ManagedIdentity(c) => {
                ServiceBusAuth::Entra(Arc::new(ManagedIdentity::new(c.clone(), http)))
            }
        }
    }
}

impl ServiceBusConfig {
    /// The namespace and its credential: `SERVICEBUS_CONNECTION_STRING`
    /// (SAS) when set; otherwise `SERVICEBUS_NAMESPACE` with Entra ID, either
    /// an app registration (`SERVICEBUS_CLIENT_ID` with
    /// `SERVICEBUS_CLIENT_SECRET` or `SERVICEBUS_CLIENT_CERTIFICATE`, and
    /// `SERVICEBUS_TENANT_ID` or `SERVICEBUS_TOKEN_URL`) or the managed
    /// identity the platform announces in `IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER` (`SERVICEBUS_MANAGED_IDENTITY_CLIENT_ID` picks a
    /// user-assigned one). A client id wins over the managed identity.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    pub fn credential_from_settings(
        settings: &Settings,
    ) -> Result<(String, ServiceBusCredential), ConfigError> {
        if let Some(raw) = settings.optional(CONNECTION_STRING_VAR) {
            let connection: ConnectionString =
                raw.parse().map_err(|e: InvalidConnectionString| {
                    ConfigError::invalid(settings.source_of(CONNECTION_STRING_VAR), e.0)
                })?;
            let namespace = format!("{}{NAMESPACE_SUFFIX}", connection.namespace);
            return Ok((namespace, ServiceBusCredential::Sas(connection)));
        }
        let Some(raw) = settings.optional(NAMESPACE_VAR) else {
            return Err(ConfigError::missing(
                settings.describe(CONNECTION_STRING_VAR),
                format!(
                    "a Service Bus SAS connection string with the Send right, or for \
                     Microsoft Entra ID {NAMESPACE_VAR} (<name>{NAMESPACE_SUFFIX}) with \
                     SERVICEBUS_CLIENT_ID (an app registration) or a managed identity \
                     (IDENTITY_ENDPOINT and IDENTITY_HEADER, set by the platform)"
                ),
            ));
        };
        let namespace = parse_namespace(&raw).map_err(|reason| {
            ConfigError::invalid(
                settings.source_of(NAMESPACE_VAR),
                format!("{raw:?}: {reason}"),
            )
        })?;
        if settings.optional("SERVICEBUS_CLIENT_ID").is_some() {
            if let Some(oauth) =
                OAuthConfig::from_settings(settings, "SERVICEBUS", Some(ENTRA_SCOPE))?
            {
                return Ok((namespace, ServiceBusCredential::ClientCredentials(oauth)));
            }
        }
        if let Some(identity) = ManagedIdentityConfig::from_settings(
            settings,
            ENTRA_RESOURCE,
            MANAGED_IDENTITY_CLIENT_ID_VAR,
        )? {
            return Ok((namespace, ServiceBusCredential::ManagedIdentity(identity)));
        }
        Err(ConfigError::missing(
            settings.describe("SERVICEBUS_CLIENT_ID"),
            format!(
                "an Entra ID credential for {NAMESPACE_VAR}: an app registration's client id \
                 (with SERVICEBUS_CLIENT_SECRET or SERVICEBUS_CLIENT_CERTIFICATE and \
                 SERVICEBUS_TENANT_ID), or a managed identity (IDENTITY_ENDPOINT is not set: \
                 turn on the Function App's identity); or {CONNECTION_STRING_VAR} for SAS"
            ),
        ))
    }
}

/// `SERVICEBUS_NAMESPACE`: `<name>.servicebus.windows.net`, optionally as
/// `sb://` or `https://` with a trailing slash (as the portal shows the
/// endpoint); returned as the lower-case host.
pub(crate) fn parse_namespace(raw: &str) -> Result<String, String> {
    let lower = raw.trim().to_ascii_lowercase();
    let host = lower
        .strip_prefix("sb://")
        .or_else(|| lower.strip_prefix("https://"))
        .unwrap_or(&lower)
        .trim_end_matches('/');
    match host.strip_suffix(NAMESPACE_SUFFIX) {
        Some(name) if !name.is_empty() && !name.contains(['.', '/', ':']) => Ok(host.to_owned()),
        _ => Err(format!(
            "expected the fully qualified namespace <name>{NAMESPACE_SUFFIX}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_fully_qualified_hosts() {
        for ok in [
            "contoso.servicebus.windows.net",
            "Contoso.servicebus.windows.net",
            "sb://contoso.servicebus.windows.net/",
            "https://contoso.servicebus.windows.net",
        ] {
            assert_eq!(
                parse_namespace(ok).as_deref(),
                Ok("contoso.servicebus.windows.net"),
                "{ok}"
            );
        }
        for bad in [
            "contoso",
            ".servicebus.windows.net",
            "a.b.servicebus.windows.net",
            "contoso.servicebus.chinacloudapi.cn",
        ] {
            assert!(parse_namespace(bad).is_err(), "{bad}");
        }
    }
}
