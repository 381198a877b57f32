use std::collections::BTreeMap;
use std::sync::Arc;

use crate::park::{ParkError, ParkTarget, ParkedMessage, attributes};
use crate::sqs::{SentMessage, SqsApi};

/// Parks messages in an SQS queue (usually the source queue's DLQ): the
/// original body, and the reason, kind, original message id, source and
/// function as message attributes. A FIFO park queue (URL ending `.fifo`)
/// keeps the original message group and deduplicates on the original id.
#[derive(Clone)]
pub struct SqsParkTarget {
    api: Arc<dyn SqsApi>,
    queue_url: String,
}

impl SqsParkTarget {
    /// Parks into `queue_url` through `api`.
    pub fn new(api: Arc<dyn SqsApi>, queue_url: impl Into<String>) -> Self {
        SqsParkTarget {
            api,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait::async_trait]
impl ParkTarget for SqsParkTarget {
    async fn park(&self, m: &ParkedMessage) -> Result<(), ParkError> {
        let fifo = self.queue_url.ends_with(".fifo");
        let attributes = BTreeMap::from([
            (attributes::REASON.to_owned(), m.reason.clone()),
            (attributes::KIND.to_owned(), m.kind.clone()),
            (
                attributes::ORIGINAL_MESSAGE_ID.to_owned(),
                m.message_id.clone(),
            ),
            (attributes::SOURCE.to_owned(), m.source.clone()),
            (attributes::FUNCTION.to_owned(), m.function.clone()),
        ]);
        let body = if m.body.is_empty() {
            "(empty body)".to_owned()
        } else {
            m.body.clone()
        };
        self.api
            .send_message(SentMessage {
                queue_url: self.queue_url.clone(),
                body,
                attributes,
                group_id: fifo.then(|| m.group_id.clone().unwrap_or_else(|| "parked".to_owned())),
                deduplication_id: fifo.then(|| m.message_id.clone()),
            })
            .await
            .map_err(|e| ParkError {
                message_id: m.message_id.clone(),
                reason: e.to_string(),
            })
    }
}
