use std::collections::BTreeMap;
use std::sync::Arc;

use switchyard_publish::servicebus::{PropertyValue, ServiceBusMessage, ServiceBusSendApi};

use crate::park::{ParkError, ParkTarget, ParkedMessage, attributes};

/// Parks messages in a Service Bus queue: the original body, `MessageId` =
/// the original message id (so a park queue with duplicate detection keeps
/// one copy when a message is parked twice), and the reason, kind, original
/// message id, source and function as application properties.
#[derive(Clone)]
pub struct ServiceBusParkTarget {
    api: Arc<dyn ServiceBusSendApi>,
    queue: String,
}

impl ServiceBusParkTarget {
    /// Parks into `queue` through `api` (a sender whose rule has `Send` on it).
    pub fn new(api: Arc<dyn ServiceBusSendApi>, queue: impl Into<String>) -> Self {
        ServiceBusParkTarget {
            api,
            queue: queue.into(),
        }
    }
}

#[async_trait::async_trait]
impl ParkTarget for ServiceBusParkTarget {
    async fn park(&self, m: &ParkedMessage) -> Result<(), ParkError> {
        let text = |s: &str| PropertyValue::String(s.to_owned());
        let message = ServiceBusMessage {
            body: m.body.clone(),
            message_id: m.message_id.clone(),
            correlation_id: None,
            label: Some(format!("parked:{}", m.kind)),
            content_type: None,
            properties: BTreeMap::from([
                (attributes::REASON.to_owned(), text(&m.reason)),
                (attributes::KIND.to_owned(), text(&m.kind)),
                (
                    attributes::ORIGINAL_MESSAGE_ID.to_owned(),
                    text(&m.message_id),
                ),
                (attributes::SOURCE.to_owned(), text(&m.source)),
                (attributes::FUNCTION.to_owned(), text(&m.function)),
            ]),
        };
        let fail = |reason: String| ParkError {
            message_id: m.message_id.clone(),
            reason,
        };
        let results = self
            .api
            .send(&self.queue, vec![message])
            .await
            .map_err(|e| fail(format!("Service Bus queue {}: {e}", self.queue)))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err(e)) => Err(fail(format!("{}: {}", e.code, e.message))),
            None => Err(fail("Service Bus returned no result".to_owned())),
        }
    }
}
