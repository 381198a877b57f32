//! The small trait in front of the Service Bus client, its real
//! implementation (`azure_messaging_servicebus` for single sends, a REST
//! batch send on the same HTTP client) and a recording in-memory one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use azure_core::{HttpClient, Method, Request};
use azure_messaging_servicebus::service_bus::QueueClient;
use azure_messaging_servicebus::service_bus::{SendMessageOptions, SettableBrokerProperties};
use serde::Serialize;

use super::config::ConnectionString;
use super::sas::sas_token;
use crate::batch::{CallError, EntryResult, RecordedCall, Recorder, ScriptedResponse};

/// An application property value. Service Bus properties are typed; the
/// REST API carries strings JSON-quoted (`"order.placed"`) and numbers bare.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum PropertyValue {
    /// A string.
    String(String),
    /// A whole number.
    Int(i64),
}

impl PropertyValue {
    /// The value as a REST custom-property header: strings JSON-quoted,
    /// non-ASCII characters as `\uXXXX` escapes (header values are ASCII).
    pub fn header_value(&self) -> String {
        match self {
            PropertyValue::String(s) => {
                let quoted = serde_json::Value::from(s.as_str()).to_string();
                let mut out = String::with_capacity(quoted.len());
                for c in quoted.chars() {
                    if c.is_ascii() {
                        out.push(c);
                    } else {
                        let mut units = [0u16; 2];
                        for unit in c.encode_utf16(&mut units) {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                }
                out
            }
            PropertyValue::Int(n) => n.to_string(),
        }
    }

    fn len(&self) -> usize {
        match self {
            PropertyValue::String(s) => s.len(),
            PropertyValue::Int(_) => 8,
        }
    }
}

/// One message as the publisher builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceBusMessage {
    /// The body (UTF-8 text: the envelope JSON).
    pub body: String,
    /// `BrokerProperties.MessageId`; duplicate detection keys on it.
    pub message_id: String,
    /// `BrokerProperties.CorrelationId`.
    pub correlation_id: Option<String>,
    /// `BrokerProperties.Label` (the subject).
    pub label: Option<String>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Application (custom) properties.
    pub properties: BTreeMap<String, PropertyValue>,
}

impl ServiceBusMessage {
    /// A plain message with an id and a body.
    pub fn new(message_id: impl Into<String>, body: impl Into<String>) -> Self {
        ServiceBusMessage {
            body: body.into(),
            message_id: message_id.into(),
            correlation_id: None,
            label: None,
            content_type: None,
            properties: BTreeMap::new(),
        }
    }

    /// The size this crate counts against the message and batch limits: the
    /// body, the broker properties as JSON, and each property's name and value.
    pub fn size(&self) -> usize {
        let broker = serde_json::to_string(&self.broker_properties()).map_or(0, |s| s.len());
        self.body.len()
            + broker
            + self.content_type.as_ref().map_or(0, String::len)
            + self
                .properties
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }

    /// The value of property `name`, if it is a string.
    pub fn property(&self, name: &str) -> Option<&str> {
        match self.properties.get(name) {
            Some(PropertyValue::String(s)) => Some(s),
            _ => None,
        }
    }

    fn broker_properties(&self) -> SettableBrokerProperties {
        SettableBrokerProperties {
            message_id: Some(self.message_id.clone()),
            correlation_id: self.correlation_id.clone(),
            label: self.label.clone(),
            ..SettableBrokerProperties::default()
        }
    }

    /// The element of a batch-send body.
    fn batch_entry(&self) -> serde_json::Value {
        let mut broker = serde_json::to_value(self.broker_properties())
            .unwrap_or_else(|_| serde_json::json!({}));
        if let (Some(ct), Some(map)) = (&self.content_type, broker.as_object_mut()) {
            map.insert("ContentType".to_owned(), ct.clone().into());
        }
        serde_json::json!({
            "Body": self.body,
            "BrokerProperties": broker,
            "UserProperties": self.properties,
        })
    }
}

/// Sending to a queue or topic, and only what the publisher and the park
/// target need of it.
#[async_trait]
pub trait ServiceBusSendApi: Send + Sync {
    /// Sends `messages` to `entity` in one call. Service Bus accepts or
    /// refuses a batch as a whole; on success every result is `Ok`.
    async fn send(
        &self,
        entity: &str,
        messages: Vec<ServiceBusMessage>,
    ) -> Result<Vec<EntryResult>, CallError>;
}

#[async_trait]
impl<T: ServiceBusSendApi + ?Sized> ServiceBusSendApi for Arc<T> {
    async fn send(
        &self,
        entity: &str,
        messages: Vec<ServiceBusMessage>,
    ) -> Result<Vec<EntryResult>, CallError> {
        (**self).send(entity, messages).await
    }
}

/// The content type of a REST batch send.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.microsoft.servicebus.json";

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
            broker_properties: Some(message.broker_properties()),
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

/// A Service Bus sender that records every call and answers from a script
/// (default: every message accepted). Clones share one record.
#[derive(Debug, Clone)]
pub struct InMemoryServiceBus {
    recorder: Arc<Recorder<ServiceBusMessage>>,
}

impl Default for InMemoryServiceBus {
    fn default() -> Self {
        InMemoryServiceBus {
            recorder: Arc::new(Recorder::new()),
        }
    }
}

impl InMemoryServiceBus {
    /// A client whose calls all succeed until scripted otherwise.
    pub fn new() -> Self {
        InMemoryServiceBus::default()
    }

    /// Queues the answer to the next unscripted call.
    pub fn script(&self, response: ScriptedResponse) {
        self.recorder.script(response);
    }

    /// Every call received, in order (`target` is the entity).
    pub fn calls(&self) -> Vec<RecordedCall<ServiceBusMessage>> {
        self.recorder.calls()
    }

    /// The number of messages of each call, in order.
    pub fn call_sizes(&self) -> Vec<usize> {
        self.recorder.call_sizes()
    }
}

#[async_trait]
impl ServiceBusSendApi for InMemoryServiceBus {
    async fn send(
        &self,
        entity: &str,
        messages: Vec<ServiceBusMessage>,
    ) -> Result<Vec<EntryResult>, CallError> {
        // Service Bus has no per-message results: a batch is all or nothing.
        self.recorder
            .respond(entity, messages, "sb")
            .map(|results| results.into_iter().map(|r| r.map(|_| None)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_entries_follow_the_documented_shape() {
        let mut m = ServiceBusMessage::new("e1", "{\"a\":1}");
        m.correlation_id = Some("corr".into());
        m.label = Some("order.placed".into());
        m.content_type = Some("application/cloudevents+json".into());
        m.properties
            .insert("type".into(), PropertyValue::String("order.placed".into()));
        m.properties.insert("version".into(), PropertyValue::Int(2));
        assert_eq!(
            m.batch_entry(),
            serde_json::json!({
                "Body": "{\"a\":1}",
                "BrokerProperties": {"MessageId": "e1", "CorrelationId": "corr", "Label": "order.placed",
                                     "ContentType": "application/cloudevents+json"},
                "UserProperties": {"type": "order.placed", "version": 2}
            })
        );
        assert_eq!(m.properties["type"].header_value(), "\"order.placed\"");
        assert_eq!(m.properties["version"].header_value(), "2");
        let reason = PropertyValue::String("cut…é😀".into()).header_value();
        assert!(reason.is_ascii(), "{reason}");
        assert_eq!(serde_json::from_str::<String>(&reason).unwrap(), "cut…é😀");
        assert!(m.size() > m.body.len() + "order.placed".len());
    }
}
