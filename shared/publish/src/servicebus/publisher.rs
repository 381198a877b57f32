//! [`ServiceBusPublisher`]: envelopes to Service Bus messages on a topic or
//! queue, batched, with the envelope id as `MessageId`.

use std::collections::BTreeMap;

use crate::batch::{self, BatchLimits};
use crate::cause::apply_current_cause;
use crate::error::{ConfigError, PublishError};
use crate::publisher::{OutgoingEvent, PublishOutcome, Publisher};

use super::client::AzureServiceBus;
use super::config::ServiceBusConfig;
use super::message::{PropertyValue, ServiceBusMessage, ServiceBusSendApi};

/// The content type of every message: a CloudEvents structured-mode JSON envelope.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// Application property holding the envelope `type` (subscription filters use it).
pub const PROP_TYPE: &str = "type";

/// Application property holding the envelope `dataversion`.
pub const PROP_VERSION: &str = "version";

/// Sends envelopes to a Service Bus topic or queue: body = the CloudEvents
/// envelope JSON, `MessageId` = envelope id (so the entity's duplicate
/// detection drops resends), `CorrelationId` = `correlationid`, `Label` =
/// `type`, `Content-Type` = [`CONTENT_TYPE`], application properties
/// [`PROP_TYPE`] (string) and [`PROP_VERSION`] (number).
///
/// One event is sent with the crate's `send_message` (SAS) or a REST "Send
/// Message" (Entra ID); more are packed into
/// REST batch sends of at most `max_batch_messages` and `max_batch_bytes`.
/// A batch is accepted or refused as a whole; refused batches are retried by
/// the shared policy; an event over `max_message_bytes` is
/// [`PublishOutcome::Failed`] with `EntryTooLarge`.
#[derive(Debug, Clone)]
pub struct ServiceBusPublisher<C = AzureServiceBus> {
    client: C,
    config: ServiceBusConfig,
}

/// The Service Bus publisher could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ServiceBusSetupError {
    /// A setting is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Http(#[from] super::http::HttpClientError),
}

impl ServiceBusPublisher<AzureServiceBus> {
    /// A publisher over the real client, built from a config (its
    /// `endpoint_url` is applied in the HTTP client).
    ///
    /// # Errors
    /// [`ServiceBusSetupError::Http`] when the HTTP client cannot be built.
    pub fn new(config: ServiceBusConfig) -> Result<Self, ServiceBusSetupError> {
        let client = AzureServiceBus::from_config(&config)?;
        Ok(ServiceBusPublisher { client, config })
    }
}

impl<C: ServiceBusSendApi> ServiceBusPublisher<C> {
    /// A publisher over any [`ServiceBusSendApi`] (e.g.
    /// [`InMemoryServiceBus`](super::InMemoryServiceBus) in tests).
    pub fn with_client(client: C, config: ServiceBusConfig) -> Self {
        ServiceBusPublisher { client, config }
    }

    /// The client, e.g. to inspect a test double.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &ServiceBusConfig {
        &self.config
    }

    /// The message of one envelope.
    ///
    /// # Errors
    /// [`PublishError::Serialize`] when the envelope cannot be written as JSON.
    pub fn message(&self, event: &OutgoingEvent) -> Result<ServiceBusMessage, PublishError> {
        let body = serde_json::to_string(event).map_err(|source| PublishError::Serialize {
            event_id: event.id.clone(),
            source,
        })?;
        let properties = BTreeMap::from([
            (
                PROP_TYPE.to_owned(),
                PropertyValue::String(event.event_type.clone()),
            ),
            (
                PROP_VERSION.to_owned(),
                PropertyValue::Int(i64::from(event.dataversion)),
            ),
        ]);
        Ok(ServiceBusMessage {
            body,
            message_id: event.id.clone(),
            correlation_id: Some(event.correlationid.clone()),
            label: Some(event.event_type.clone()),
            content_type: Some(CONTENT_TYPE.to_owned()),
            properties,
        })
    }

    fn limits(&self) -> BatchLimits {
        BatchLimits {
            max_entries: self.config.max_batch_messages.max(1),
            max_entry_bytes: self.config.max_message_bytes,
            max_batch_bytes: self.config.max_batch_bytes,
        }
    }
}

#[async_trait::async_trait]
impl<C: ServiceBusSendApi> Publisher for ServiceBusPublisher<C> {
    async fn publish(
        &self,
        mut events: Vec<OutgoingEvent>,
    ) -> Result<Vec<PublishOutcome>, PublishError> {
        apply_current_cause(&mut events);
        let limits = self.limits();
        let plan = batch::plan(&events, limits.max_entry_bytes, |event| {
            let message = self.message(event)?;
            let size = message.size();
            Ok((message, size))
        });
        let entity = self.config.entity.as_str();
        batch::deliver(
            "Service Bus",
            plan,
            limits,
            &self.config.retry,
            |messages| self.client.send(entity, messages),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{CallError, ScriptedResponse};
    use crate::cause::{Cause, with_cause};
    use crate::servicebus::InMemoryServiceBus;

    const CONN: &str =
        "Endpoint=sb://contoso.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=k";

    fn event(id: &str) -> OutgoingEvent {
        serde_json::from_value(serde_json::json!({
            "specversion": "1.0", "id": id, "source": "switchyard/test", "type": "order.placed",
            "time": "2024-05-01T10:00:00Z", "subject": "order-1",
            "dataschema": "urn:switchyard:schema:order.placed:v2",
            "dataversion": 2, "correlationid": format!("corr-{id}"), "data": {"pad": ""}
        }))
        .unwrap()
    }

    fn publisher() -> ServiceBusPublisher<InMemoryServiceBus> {
        let config = ServiceBusConfig::new(CONN.parse().unwrap(), "integration");
        ServiceBusPublisher::with_client(InMemoryServiceBus::new(), config)
    }

    #[tokio::test]
    async fn message_carries_id_correlation_label_and_properties() {
        let p = publisher();
        let e = event("e1");
        let outcomes = p.publish(vec![e.clone()]).await.unwrap();
        assert!(outcomes.iter().all(PublishOutcome::is_published));
        let call = &p.client().calls()[0];
        assert_eq!(call.target, "integration");
        let m = &call.entries[0];
        assert_eq!(m.message_id, "e1");
        assert_eq!(m.correlation_id.as_deref(), Some("corr-e1"));
        assert_eq!(m.label.as_deref(), Some("order.placed"));
        assert_eq!(m.content_type.as_deref(), Some(CONTENT_TYPE));
        assert_eq!(m.property(PROP_TYPE), Some("order.placed"));
        assert_eq!(m.properties[PROP_VERSION], PropertyValue::Int(2));
        assert_eq!(serde_json::from_str::<OutgoingEvent>(&m.body).unwrap(), e);
    }

    #[tokio::test]
    async fn batches_by_count_and_size() {
        let p = publisher();
        let events: Vec<_> = (0..250).map(|i| event(&format!("e{i}"))).collect();
        p.publish(events).await.unwrap();
        assert_eq!(p.client().call_sizes(), vec![100, 100, 50]);

        let mut big = event("big");
        big.data = serde_json::json!({"pad": "x".repeat(300_000)});
        let p = publisher();
        let outcomes = p.publish(vec![event("a"), big, event("b")]).await.unwrap();
        assert!(
            matches!(&outcomes[1], PublishOutcome::Failed { code, .. } if code == "EntryTooLarge")
        );
        assert_eq!(p.client().call_sizes(), vec![2]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_batch_is_retried_whole() {
        let p = publisher();
        p.client().script(ScriptedResponse::FailCall(CallError {
            code: "Http503".into(),
            message: "busy".into(),
            retryable: true,
        }));
        let outcomes = p.publish(vec![event("a"), event("b")]).await.unwrap();
        assert!(outcomes.iter().all(PublishOutcome::is_published));
        assert_eq!(p.client().call_sizes(), vec![2, 2]);
    }

    #[tokio::test]
    async fn messages_carry_the_cause() {
        let p = publisher();
        let cause = Cause {
            event_id: "in-1".into(),
            correlation_id: "corr-flow".into(),
            traceparent: None,
        };
        with_cause(cause, p.publish_all(vec![event("e1")]))
            .await
            .unwrap();
        let m = &p.client().calls()[0].entries[0];
        assert_eq!(m.correlation_id.as_deref(), Some("corr-flow"));
    }
}
