//! What a Service Bus sender is given and how it is called: the message,
//! [`ServiceBusSendApi`] and the recording [`InMemoryServiceBus`]. Plain
//! types: nothing here links the Azure crates (the real client is
//! `AzureServiceBus`, feature `servicebus`), so the trigger adapters can
//! park through this trait in every build.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;

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

    /// The `BrokerProperties` this crate sets.
    pub(crate) fn broker_properties(&self) -> BrokerProperties<'_> {
        BrokerProperties {
            correlation_id: self.correlation_id.as_deref(),
            message_id: Some(&self.message_id),
            label: self.label.as_deref(),
        }
    }

    /// The element of a batch-send body.
    #[cfg_attr(not(feature = "servicebus"), allow(dead_code))]
    pub(crate) fn batch_entry(&self) -> serde_json::Value {
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

/// The broker properties this crate sets, serialised as Service Bus reads
/// them (`BrokerProperties` header and batch element): PascalCase names,
/// unset ones left out, in the order of `azure_messaging_servicebus`'s
/// `SettableBrokerProperties`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct BrokerProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) correlation_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) label: Option<&'a str>,
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
