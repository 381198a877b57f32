//! The SQS API of the adapters onto the local queues.

use switchyard_publish::sqs::SqsEntry;
use switchyard_publish::{CallError, EntryFailure, EntryResult};
use switchyard_triggers::sqs::{SentMessage, SqsApi, SqsApiError, VisibilityChange};

use crate::queue::{LocalQueues, QueueError};

/// [`SqsApi`] onto the local queues: queue URLs are `local:<queue>` (a bare
/// queue name is accepted too), receipt handles are the local queues' own.
/// FIFO group and deduplication ids are not kept.
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

/// The local queue name of a URL.
fn queue_name(queue_url: &str) -> &str {
    queue_url.strip_prefix("local:").unwrap_or(queue_url)
}

#[async_trait::async_trait]
impl SqsApi for LocalSqs {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        let queue = queue_name(queue_url);
        if let Err(e) = self.queues.spec(queue) {
            // As SQS answers for a queue that does not exist: the whole call fails.
            return Err(CallError {
                code: "QueueDoesNotExist".to_owned(),
                message: e.to_string(),
                retryable: false,
            });
        }
        Ok(entries
            .into_iter()
            .map(|entry| {
                let attributes = entry
                    .attributes
                    .into_iter()
                    .map(|a| (a.name, a.value))
                    .collect();
                self.queues
                    .send(queue, &entry.body, attributes)
                    .map(Some)
                    .map_err(|e| match e {
                        QueueError::Storage(_) => {
                            EntryFailure::retryable("InternalError", e.to_string())
                        }
                        _ => EntryFailure::permanent("InvalidParameterValue", e.to_string()),
                    })
            })
            .collect())
    }

    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError> {
        let queue = queue_name(&message.queue_url);
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use switchyard_publish::sqs::SqsAttribute;

    use super::*;
    use crate::template::QueueSpec;

    fn entry(body: &str) -> SqsEntry {
        SqsEntry {
            body: body.into(),
            attributes: vec![SqsAttribute {
                name: "type".into(),
                value: "order.placed".into(),
            }],
            message_group_id: None,
            message_deduplication_id: None,
        }
    }

    #[tokio::test]
    async fn batch_send_lands_on_the_local_queue() {
        let dir = tempfile::tempdir().unwrap();
        let specs = BTreeMap::from([(
            "Work".to_owned(),
            QueueSpec {
                name: "Work".into(),
                visibility_timeout: Duration::from_secs(30),
                redrive: None,
                fifo: false,
            },
        )]);
        let queues = LocalQueues::open(&dir.path().join("queues.redb"), specs).unwrap();
        let sqs = LocalSqs::new(queues.clone());

        let results = sqs
            .send_message_batch(&local_url("Work"), vec![entry("a"), entry("b")])
            .await
            .unwrap();
        let stored = queues.messages("Work").unwrap();
        let ids: Vec<_> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();
        assert_eq!(ids, stored.iter().map(|m| m.id.clone()).collect::<Vec<_>>());
        assert_eq!(stored[0].body, "a");
        assert_eq!(stored[1].body, "b");
        assert_eq!(stored[0].attributes["type"], "order.placed");

        let err = sqs
            .send_message_batch(&local_url("Nope"), vec![entry("c")])
            .await
            .unwrap_err();
        assert_eq!(err.code, "QueueDoesNotExist");
        assert!(!err.retryable);
    }
}
