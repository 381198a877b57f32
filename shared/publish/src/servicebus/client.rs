//! The real [`ServiceBusSendApi`]. With SAS, `azure_messaging_servicebus`
//! sends single messages; with Microsoft Entra ID (which that crate cannot
//! sign) a REST "Send Message" call does. Batches always go through a REST
//! "Send Message Batch" call on the same injected HTTP client (the crate
//! has no batch send). Feature `servicebus`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::{HttpClient, Method, Request};
use azure_messaging_servicebus::service_bus::QueueClient;
use azure_messaging_servicebus::service_bus::{SendMessageOptions, SettableBrokerProperties};

use super::auth::ServiceBusAuth;
use super::config::{ConnectionString, NAMESPACE_SUFFIX, ServiceBusConfig};
use super::http::{HttpClientError, ServiceBusHttpClient};
use super::message::{BATCH_CONTENT_TYPE, ServiceBusMessage, ServiceBusSendApi};
use crate::batch::{CallError, EntryResult};

/// The real client over one namespace: single sends through
/// `QueueClient::send_message` (SAS) or a REST "Send Message" (Entra ID),
/// batches through a REST "Send Message Batch", all over the same injected
/// HTTP client.
#[derive(Debug, Clone)]
pub struct AzureServiceBus {
    http: Arc<dyn HttpClient>,
    namespace: String,
    auth: ServiceBusAuth,
}

impl AzureServiceBus {
    /// A client for the connection string's namespace over `http` (usually a
    /// [`ServiceBusHttpClient`]), authenticating with its SAS key.
    pub fn new(http: Arc<dyn HttpClient>, connection: ConnectionString) -> Self {
        let auth = ServiceBusAuth::from(&connection);
        AzureServiceBus::with_auth(http, &connection.namespace, auth)
    }

    /// A client for `namespace` (`contoso.servicebus.windows.net`, or just
    /// `contoso`) over `http`, authenticating with `auth`.
    pub fn with_auth(http: Arc<dyn HttpClient>, namespace: &str, auth: ServiceBusAuth) -> Self {
        AzureServiceBus {
            http,
            namespace: qualified(namespace),
            auth,
        }
    }

    /// The client a [`ServiceBusConfig`] describes: its credential (token
    /// sources get an HTTP client of their own) and its endpoint override.
    ///
    /// # Errors
    /// [`HttpClientError`] when an HTTP client cannot be built.
    pub fn from_config(config: &ServiceBusConfig) -> Result<Self, HttpClientError> {
        let http = ServiceBusHttpClient::new(config.endpoint_url.as_deref())?;
        let auth = match config.credential.connection() {
            Some(connection) => ServiceBusAuth::from(connection),
            None => {
                let tokens = reqwest::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .connect_timeout(Duration::from_secs(5))
                    .build()?;
                config.credential.auth(tokens)
            }
        };
        Ok(AzureServiceBus::with_auth(
            http.shared(),
            &config.namespace,
            auth,
        ))
    }

    /// The HTTP client, shared with the receiver.
    pub fn http(&self) -> &Arc<dyn HttpClient> {
        &self.http
    }

    /// The fully qualified namespace (`contoso.servicebus.windows.net`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// How requests are authenticated, shared with the receiver.
    pub fn auth(&self) -> &ServiceBusAuth {
        &self.auth
    }

    fn entity_url(&self, entity: &str) -> Result<url::Url, CallError> {
        let uri = format!("https://{}/{entity}/messages", self.namespace);
        url::Url::parse(&uri).map_err(|e| construction(format!("invalid entity {entity:?}: {e}")))
    }

    async fn send_one(&self, entity: &str, message: ServiceBusMessage) -> Result<(), CallError> {
        let ServiceBusAuth::Sas { key_name, key } = &self.auth else {
            return self.send_one_rest(entity, &message).await;
        };
        // The REST path is the same for queues and topics
        // (`/{entity}/messages`), so QueueClient serves both.
        let name = self
            .namespace
            .strip_suffix(NAMESPACE_SUFFIX)
            .unwrap_or(&self.namespace);
        let client = QueueClient::new(
            self.http.clone(),
            name.to_owned(),
            entity.to_owned(),
            key_name.clone(),
            key.clone(),
        )
        .map_err(|e| call_error(&e))?;
        let options = SendMessageOptions {
            content_type: message.content_type.clone(),
            broker_properties: Some(SettableBrokerProperties {
                message_id: Some(message.message_id.clone()),
                correlation_id: message.correlation_id.clone(),
                label: message.label.clone(),
                ..SettableBrokerProperties::default()
            }),
            // The crate sends values verbatim: quote strings ourselves so the
            // broker stores them as strings (see README, gaps).
            custom_properties: Some(
                message
                    .properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.header_value()))
                    .collect(),
            ),
        };
        client
            .send_message(&message.body, Some(options))
            .await
            .map_err(|e| call_error(&e))
    }

    /// REST "Send Message": the body, `BrokerProperties` as JSON, each
    /// custom property as a header (strings JSON-quoted, as the crate path
    /// sends them), `Content-Type`.
    async fn send_one_rest(
        &self,
        entity: &str,
        message: &ServiceBusMessage,
    ) -> Result<(), CallError> {
        let broker = serde_json::to_string(&message.broker_properties())
            .map_err(|e| construction(e.to_string()))?;
        let mut request = Request::new(self.entity_url(entity)?, Method::Post);
        request.insert_header("brokerproperties", broker);
        if let Some(content_type) = &message.content_type {
            request.insert_header("content-type", content_type.clone());
        }
        for (name, value) in &message.properties {
            request.insert_header(name.clone(), value.header_value());
        }
        request.set_body(message.body.clone().into_bytes());
        self.auth
            .execute(self.http.as_ref(), &request)
            .await
            .map(drop)
    }

    async fn send_batch(
        &self,
        entity: &str,
        messages: &[ServiceBusMessage],
    ) -> Result<(), CallError> {
        let url = self.entity_url(entity)?;
        let body: Vec<serde_json::Value> = messages
            .iter()
            .map(ServiceBusMessage::batch_entry)
            .collect();
        let body = serde_json::to_vec(&body).map_err(|e| construction(e.to_string()))?;
        let mut request = Request::new(url, Method::Post);
        request.insert_header("content-type", BATCH_CONTENT_TYPE);
        request.set_body(body);
        self.auth
            .execute(self.http.as_ref(), &request)
            .await
            .map(drop)
    }
}

/// `contoso` → `contoso.servicebus.windows.net`; a qualified name is kept.
pub(crate) fn qualified(namespace: &str) -> String {
    let namespace = namespace.trim().trim_end_matches('/').to_ascii_lowercase();
    if namespace.contains('.') {
        namespace
    } else {
        format!("{namespace}{NAMESPACE_SUFFIX}")
    }
}

fn construction(message: String) -> CallError {
    CallError {
        code: "ConstructionFailure".to_owned(),
        message,
        retryable: false,
    }
}

#[async_trait]
impl ServiceBusSendApi for AzureServiceBus {
    async fn send(
        &self,
        entity: &str,
        mut messages: Vec<ServiceBusMessage>,
    ) -> Result<Vec<EntryResult>, CallError> {
        let count = messages.len();
        match count {
            0 => return Ok(Vec::new()),
            1 => {
                if let Some(message) = messages.pop() {
                    self.send_one(entity, message).await?;
                }
            }
            _ => self.send_batch(entity, &messages).await?,
        }
        Ok((0..count).map(|_| Ok(None)).collect())
    }
}

/// Maps an azure_core error to a [`CallError`]: HTTP 408, 429 and 5xx and
/// transport errors are worth retrying; 400, 401, 403 (quota, too large),
/// 404 and 410 (no such entity) are not.
pub(crate) fn call_error(err: &azure_core::Error) -> CallError {
    use azure_core::error::ErrorKind;
    match err.kind() {
        ErrorKind::HttpResponse { status, error_code } => {
            let code = u16::from(*status);
            CallError {
                code: error_code.clone().unwrap_or_else(|| format!("Http{code}")),
                message: err.to_string(),
                retryable: code == 408 || code == 429 || code >= 500,
            }
        }
        ErrorKind::Io => CallError {
            code: "DispatchFailure".to_owned(),
            message: err.to_string(),
            retryable: true,
        },
        _ => CallError {
            code: "ConstructionFailure".to_owned(),
            message: err.to_string(),
            retryable: false,
        },
    }
}
