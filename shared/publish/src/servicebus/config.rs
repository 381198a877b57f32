//! Service Bus publisher configuration: the connection string, the
//! namespace and its credential (see `credential.rs`), the entity, the
//! optional endpoint override and the batch limits.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::credential::ServiceBusCredential;
use crate::retry::RetryConfig;
use switchyard_config::{ConfigError, Settings};

/// The DNS suffix `azure_messaging_servicebus` builds every URL with
/// (`https://{namespace}.servicebus.windows.net/...`).
pub const NAMESPACE_SUFFIX: &str = ".servicebus.windows.net";

/// A Service Bus connection string with a SAS key:
/// `Endpoint=sb://<namespace>.servicebus.windows.net/;SharedAccessKeyName=<rule>;SharedAccessKey=<key>[;EntityPath=<entity>]`.
///
/// `Debug` and `Display` never show the key.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ConnectionString {
    /// The namespace name: the first label of the endpoint host.
    pub namespace: String,
    /// The SAS rule (`SharedAccessKeyName`).
    pub key_name: String,
    /// The SAS key (`SharedAccessKey`), used as UTF-8 bytes for signing.
    pub key: String,
    /// `EntityPath`, when the string was issued for one entity.
    pub entity_path: Option<String>,
}

/// Why a connection string was refused (it never includes the key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Service Bus connection string: {0}")]
pub struct InvalidConnectionString(pub String);

impl FromStr for ConnectionString {
    type Err = InvalidConnectionString;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut endpoint = None;
        let mut key_name = None;
        let mut key = None;
        let mut entity_path = None;
        for part in s.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                InvalidConnectionString(format!("{:?} is not Name=Value", part_name(part)))
            })?;
            let value = value.trim().to_owned();
            match name.trim().to_ascii_lowercase().as_str() {
                "endpoint" => endpoint = Some(value),
                "sharedaccesskeyname" => key_name = Some(value),
                "sharedaccesskey" => key = Some(value),
                "entitypath" => entity_path = Some(value),
                // UseDevelopmentEmulator, TransportType, ...: not used by the REST client.
                _ => {}
            }
        }
        let endpoint =
            endpoint.ok_or_else(|| InvalidConnectionString("Endpoint is missing".to_owned()))?;
        let host = endpoint
            .strip_prefix("sb://")
            .or_else(|| endpoint.strip_prefix("https://"))
            .ok_or_else(|| {
                InvalidConnectionString(format!("Endpoint {endpoint:?} must start with sb://"))
            })?
            .trim_end_matches('/')
            .to_ascii_lowercase();
        let namespace = host.strip_suffix(NAMESPACE_SUFFIX).ok_or_else(|| {
            InvalidConnectionString(format!(
                "Endpoint host {host:?} is not <namespace>{NAMESPACE_SUFFIX}: \
                 azure_messaging_servicebus only addresses the public cloud; \
                 for a local fake keep the public host and set SERVICEBUS_ENDPOINT_URL"
            ))
        })?;
        if namespace.is_empty() || namespace.contains('.') || namespace.contains('/') {
            return Err(InvalidConnectionString(format!(
                "Endpoint host {host:?} has no namespace name"
            )));
        }
        Ok(ConnectionString {
            namespace: namespace.to_owned(),
            key_name: key_name.ok_or_else(|| {
                InvalidConnectionString(
                    "SharedAccessKeyName is missing (only SAS connection strings are supported)"
                        .to_owned(),
                )
            })?,
            key: key
                .ok_or_else(|| InvalidConnectionString("SharedAccessKey is missing".to_owned()))?,
            entity_path: entity_path.filter(|e| !e.is_empty()),
        })
    }
}

fn part_name(part: &str) -> &str {
    // Never echo a value: it may be the key.
    part.split('=').next().unwrap_or("")
}

impl TryFrom<String> for ConnectionString {
    type Error = InvalidConnectionString;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl ConnectionString {
    /// `https://<namespace>.servicebus.windows.net`.
    pub fn namespace_uri(&self) -> String {
        format!("https://{}{NAMESPACE_SUFFIX}", self.namespace)
    }
}

impl fmt::Debug for ConnectionString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionString")
            .field("namespace", &self.namespace)
            .field("key_name", &self.key_name)
            .field("key", &"<redacted>")
            .field("entity_path", &self.entity_path)
            .finish()
    }
}

/// Where and how [`ServiceBusPublisher`](super::ServiceBusPublisher) sends.
#[derive(Debug, Clone)]
pub struct ServiceBusConfig {
    /// The fully qualified namespace, `<name>.servicebus.windows.net`
    /// (`SERVICEBUS_NAMESPACE`, or the connection string's endpoint).
    pub namespace: String,
    /// How requests are authenticated. A SAS rule needs only the `Send`
    /// right; an Entra identity the *Azure Service Bus Data Sender* role.
    pub credential: ServiceBusCredential,
    /// The topic or queue to send to (`SERVICEBUS_ENTITY`, else the
    /// connection string's `EntityPath`).
    pub entity: String,
    /// Send to this origin instead of `https://<namespace>.servicebus.windows.net`
    /// (`SERVICEBUS_ENDPOINT_URL`, e.g. `http://127.0.0.1:5300` for the
    /// test fake). SAS tokens are still signed for the public URI.
    pub endpoint_url: Option<String>,
    /// Bytes of one message at most (`SERVICEBUS_MAX_MESSAGE_BYTES`): body,
    /// broker properties and application properties. Default 262,144
    /// (Standard tier; Premium allows up to 100 MB per entity setting).
    pub max_message_bytes: usize,
    /// Bytes of one batch send at most (`SERVICEBUS_MAX_BATCH_BYTES`), default 262,144.
    pub max_batch_bytes: usize,
    /// Messages per batch send at most (`SERVICEBUS_MAX_BATCH_MESSAGES`), default 100.
    pub max_batch_messages: usize,
    /// How failed sends are retried.
    pub retry: RetryConfig,
}

fn default_max_message_bytes() -> usize {
    256 * 1024
}

fn default_max_batch_messages() -> usize {
    100
}

impl ServiceBusConfig {
    /// Sends to `entity` with the connection string's SAS key and the defaults.
    pub fn new(connection: ConnectionString, entity: impl Into<String>) -> Self {
        let namespace = format!("{}{NAMESPACE_SUFFIX}", connection.namespace);
        ServiceBusConfig::with_credential(namespace, ServiceBusCredential::Sas(connection), entity)
    }

    /// Sends to `entity` of `namespace` (`<name>.servicebus.windows.net`)
    /// with `credential` and the defaults.
    pub fn with_credential(
        namespace: impl Into<String>,
        credential: ServiceBusCredential,
        entity: impl Into<String>,
    ) -> Self {
        ServiceBusConfig {
            namespace: namespace.into(),
            credential,
            entity: entity.into(),
            endpoint_url: None,
            max_message_bytes: default_max_message_bytes(),
            max_batch_bytes: default_max_message_bytes(),
            max_batch_messages: default_max_batch_messages(),
            retry: RetryConfig::default(),
        }
    }

    /// Reads the credential (see [`ServiceBusConfig::credential_from_settings`]),
    /// `SERVICEBUS_ENTITY` (required unless the connection string has
    /// `EntityPath`), `SERVICEBUS_ENDPOINT_URL`, `SERVICEBUS_MAX_MESSAGE_BYTES`,
    /// `SERVICEBUS_MAX_BATCH_BYTES`, `SERVICEBUS_MAX_BATCH_MESSAGES` and the
    /// `PUBLISH_*` retry variables from `settings`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let (namespace, credential) = Self::credential_from_settings(settings)?;
        let entity_path = credential.connection().and_then(|c| c.entity_path.clone());
        let entity = match settings.optional("SERVICEBUS_ENTITY") {
            Some(entity) => entity.trim().to_owned(),
            None => entity_path.ok_or_else(|| {
                ConfigError::missing(
                    settings.describe("SERVICEBUS_ENTITY"),
                    "the topic or queue to send to (or EntityPath in the connection string)",
                )
            })?,
        };
        let endpoint_url: Option<String> = settings.parse("SERVICEBUS_ENDPOINT_URL")?;
        if let Some(url) = &endpoint_url {
            check_endpoint(url).map_err(|reason| {
                ConfigError::invalid(
                    settings.source_of("SERVICEBUS_ENDPOINT_URL"),
                    format!("{url:?}: {reason}"),
                )
            })?;
        }
        let positive = |var: &'static str, default: usize| -> Result<usize, ConfigError> {
            match settings.parse::<usize>(var)? {
                None => Ok(default),
                Some(0) => Err(ConfigError::invalid(
                    settings.source_of(var),
                    "0: must be at least 1",
                )),
                Some(n) => Ok(n),
            }
        };
        Ok(ServiceBusConfig {
            namespace,
            credential,
            entity,
            endpoint_url,
            max_message_bytes: positive(
                "SERVICEBUS_MAX_MESSAGE_BYTES",
                default_max_message_bytes(),
            )?,
            max_batch_bytes: positive("SERVICEBUS_MAX_BATCH_BYTES", default_max_message_bytes())?,
            max_batch_messages: positive(
                "SERVICEBUS_MAX_BATCH_MESSAGES",
                default_max_batch_messages(),
            )?,
            retry: RetryConfig::from_settings(settings)?,
        })
    }
}

/// An endpoint override is `http(s)://host[:port]` without path or query.
pub(crate) fn check_endpoint(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err("expected http://host[:port] or https://host[:port]".to_owned());
    }
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err("expected an origin without path or query".to_owned());
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONN: &str = "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=switchyard-send;SharedAccessKey=s3cr3t=;EntityPath=integration";

    #[test]
    fn parses_a_portal_connection_string() {
        let c: ConnectionString = CONN.parse().unwrap();
        assert_eq!(c.namespace, "contoso");
        assert_eq!(c.key_name, "switchyard-send");
        assert_eq!(c.key, "s3cr3t=", "a key ending in = keeps it");
        assert_eq!(c.entity_path.as_deref(), Some("integration"));
        assert_eq!(c.namespace_uri(), "https://contoso.servicebus.windows.net");
        assert!(!format!("{c:?}").contains("s3cr3t"));
    }

    #[test]
    fn refusals_name_the_problem_without_the_key() {
        for (s, needle) in [
            ("SharedAccessKeyName=a;SharedAccessKey=k", "Endpoint"),
            (
                "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKey=k",
                "SharedAccessKeyName",
            ),
            (
                "Endpoint=sb://x.servicebus.chinacloudapi.cn/;SharedAccessKeyName=a;SharedAccessKey=k",
                "public cloud",
            ),
            (
                "Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKeyk",
                "SharedAccessKeyk",
            ),
        ] {
            let err = s.parse::<ConnectionString>().unwrap_err().to_string();
            assert!(err.contains(needle), "{s}: {err}");
            assert!(!err.contains("=k"), "{err}");
        }
    }

    #[test]
    fn from_lookup_names_each_variable() {
        let err = ServiceBusConfig::from_settings(&Settings::from_fn(|_| None)).unwrap_err();
        assert!(
            err.to_string().contains("SERVICEBUS_CONNECTION_STRING"),
            "{err}"
        );
        let no_entity = |v: &str| {
            (v == "SERVICEBUS_CONNECTION_STRING").then(|| {
                "Endpoint=sb://c.servicebus.windows.net/;SharedAccessKeyName=a;SharedAccessKey=k"
                    .to_owned()
            })
        };
        let err = ServiceBusConfig::from_settings(&Settings::from_fn(no_entity)).unwrap_err();
        assert!(err.to_string().contains("SERVICEBUS_ENTITY"), "{err}");
        let bad_endpoint = |v: &str| match v {
            "SERVICEBUS_CONNECTION_STRING" => Some(CONN.to_owned()),
            "SERVICEBUS_ENDPOINT_URL" => Some("127.0.0.1:5300".to_owned()),
            _ => None,
        };
        let err = ServiceBusConfig::from_settings(&Settings::from_fn(bad_endpoint)).unwrap_err();
        assert!(err.to_string().contains("SERVICEBUS_ENDPOINT_URL"), "{err}");
        let bad_conn = |v: &str| (v == "SERVICEBUS_CONNECTION_STRING").then(|| "x;y".to_owned());
        let err = ServiceBusConfig::from_settings(&Settings::from_fn(bad_conn)).unwrap_err();
        assert!(
            err.to_string().contains("SERVICEBUS_CONNECTION_STRING"),
            "{err}"
        );
    }

    #[test]
    fn from_lookup_reads_every_setting() {
        let lookup = |v: &str| {
            Some(
                match v {
                    "SERVICEBUS_CONNECTION_STRING" => CONN,
                    "SERVICEBUS_ENDPOINT_URL" => "http://127.0.0.1:5300",
                    "SERVICEBUS_MAX_BATCH_MESSAGES" => "10",
                    _ => return None,
                }
                .to_owned(),
            )
        };
        let c = ServiceBusConfig::from_settings(&Settings::from_fn(lookup)).unwrap();
        assert_eq!(c.entity, "integration");
        assert_eq!(c.endpoint_url.as_deref(), Some("http://127.0.0.1:5300"));
        assert_eq!(c.max_batch_messages, 10);
        assert_eq!(c.max_message_bytes, 262_144);
    }
}
