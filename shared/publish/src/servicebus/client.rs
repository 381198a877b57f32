//! The real [`ServiceBusSendApi`]: `azure_messaging_servicebus` for single
//! sends, a REST batch send on the same HTTP client (feature `servicebus`).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use azure_core::{HttpClient, Method, Request};
use azure_messaging_servicebus::service_bus::QueueClient;
use azure_messaging_servicebus::service_bus::{SendMessageOptions, SettableBrokerProperties};

use super::config::ConnectionString;
use super::message::{BATCH_CONTENT_TYPE, ServiceBusMessage, ServiceBusSendApi};
use super::sas::sas_token;
use crate::batch::{CallError, EntryResult};

/// How long the SAS tokens this crate signs itself are valid.
const SAS_TTL: Duration = Duration::from_secs(3600);

/// The real client: `azure_messaging_servicebus::QueueClient::send_message`
/// for one message; for more, a REST "Send Message Batch" call over the same
/// injected HTTP client (the crate has no batch send).
#[derive(Debug, Clone)]
pub struct AzureServiceBus {
    http: Arc<dyn HttpClient>,
    connection: ConnectionString,
}

impl AzureServiceBus {
    /// A client for the connection string's namespace over `http` (usually a
    /// [`ServiceBusHttpClient`](super::ServiceBusHttpClient)).
    pub fn new(http: Arc<dyn HttpClient>, connection: ConnectionString) -> Self {
        AzureServiceBus { http, connection }
    }

    /// The HTTP client, shared with the receiver.
    pub fn http(&self) -> &Arc<dyn HttpClient> {
        &self.http
    }

    /// The connection string.
    pub fn connection(&self) -> &ConnectionString {
        &self.connection
    }

    async fn send_one(&self, entity: &str, message: ServiceBusMessage) -> Result<(), CallError> {
        // The REST path is the same for queues and topics
        // (`/{entity}/messages`), so QueueClient serves both.
        let client = QueueClient::new(
            self.http.clone(),
            self.connection.namespace.clone(),
            entity.to_owned(),
            self.connection.key_name.clone(),
            self.connection.key.clone(),
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

    async fn send_batch(
        &self,
        entity: &str,
        messages: &[ServiceBusMessage],
    ) -> Result<(), CallError> {
        let uri = format!("{}/{entity}/messages", self.connection.namespace_uri());
        let url = url::Url::parse(&uri).map_err(|e| CallError {
            code: "ConstructionFailure".to_owned(),
            message: format!("invalid entity {entity:?}: {e}"),
            retryable: false,
        })?;
        let body: Vec<serde_json::Value> = messages
            .iter()
            .map(ServiceBusMessage::batch_entry)
            .collect();
        let body = serde_json::to_vec(&body).map_err(|e| CallError {
            code: "ConstructionFailure".to_owned(),
            message: e.to_string(),
            retryable: false,
        })?;
        let expiry = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(SAS_TTL)
            .as_secs();
        let mut request = Request::new(url, Method::Post);
        request.insert_header(
            "authorization",
            sas_token(
                &uri,
                &self.connection.key_name,
                &self.connection.key,
                expiry,
            ),
        );
        request.insert_header("content-type", BATCH_CONTENT_TYPE);
        request.set_body(body);
        self.http
            .execute_request_check_status(&request)
            .await
            .map(drop)
            .map_err(|e| call_error(&e))
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
