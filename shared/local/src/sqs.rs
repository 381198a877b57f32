//! The SQS API of the adapters onto the local queues.

use switchyard_triggers::sqs::{SentMessage, SqsApi, SqsApiError, VisibilityChange};

use crate::queue::LocalQueues;

/// [`SqsApi`] onto the local queues: park URLs are `local:<queue>`,
/// receipt handles are the local queues' own.
#[derive(Clone)]
pub struct LocalSqs {
    queues: LocalQueues,
}

impl LocalSqs {
    /// The SQS API over `queues`.
    pub fn new(queues: LocalQueues) -> Self {
        LocalSqs { queues }
    }
}

/// The URL the adapters use for a local queue.
pub fn local_url(queue: &str) -> String {
    format!("local:{queue}")
}

/// The ARN the adapters see for a local queue.
pub fn local_arn(queue: &str) -> String {
    format!("arn:aws:sqs:local:000000000000:{queue}")
}

#[async_trait::async_trait]
impl SqsApi for LocalSqs {
    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError> {
        let queue = message
            .queue_url
            .strip_prefix("local:")
            .unwrap_or(&message.queue_url);
        self.queues
            .send(queue, &message.body, message.attributes)
            .map(drop)
            .map_err(|e| SqsApiError {
                operation: "SendMessage",
                message: e.to_string(),
            })
    }

    async fn change_visibility(
        &self,
        _queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError> {
        for c in changes {
            self.queues
                .change_visibility(&c.receipt_handle, c.timeout)
                .map_err(|e| SqsApiError {
                    operation: "ChangeMessageVisibility",
                    message: e.to_string(),
                })?;
        }
        Ok(())
    }
}
