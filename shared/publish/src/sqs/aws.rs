//! [`AwsSqs`]: [`SqsApi`] over `aws_sdk_sqs::Client` (feature `sqs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue, SendMessageBatchRequestEntry,
};

use super::client::{STRING, SentMessage, SqsApi, SqsApiError, SqsEntry, VisibilityChange};
use crate::aws::call_error_from_sdk;
use crate::batch::{CallError, EntryFailure, EntryResult};

/// Entries per `ChangeMessageVisibilityBatch` call at most.
const MAX_VISIBILITY_ENTRIES: usize = 10;

/// The SDK entry of `entry`, with batch entry id `id` (its position).
fn to_sdk(entry: &SqsEntry, id: usize) -> Result<SendMessageBatchRequestEntry, CallError> {
    let mut sdk = SendMessageBatchRequestEntry::builder()
        .id(id.to_string())
        .message_body(&entry.body)
        .set_message_group_id(entry.message_group_id.clone())
        .set_message_deduplication_id(entry.message_deduplication_id.clone());
    for attribute in &entry.attributes {
        let value = string_attribute(&attribute.value).map_err(construction_failure)?;
        sdk = sdk.message_attributes(&attribute.name, value);
    }
    sdk.build().map_err(construction_failure)
}

fn string_attribute(
    value: impl Into<String>,
) -> Result<MessageAttributeValue, aws_sdk_sqs::error::BuildError> {
    MessageAttributeValue::builder()
        .data_type(STRING)
        .string_value(value)
        .build()
}

fn construction_failure(err: aws_sdk_sqs::error::BuildError) -> CallError {
    CallError {
        code: "ConstructionFailure".to_owned(),
        message: err.to_string(),
        retryable: false,
    }
}

/// [`SqsApi`] over `aws_sdk_sqs::Client`. Endpoint, region and credentials
/// come from the SDK config (`AWS_ENDPOINT_URL` etc.), never from code.
/// Clones share the client and the queue URL cache.
#[derive(Debug, Clone)]
pub struct AwsSqs {
    client: aws_sdk_sqs::Client,
    urls: Arc<Mutex<HashMap<String, String>>>,
}

impl AwsSqs {
    /// Wraps a client.
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        AwsSqs {
            client,
            urls: Arc::default(),
        }
    }

    /// The SDK client.
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    fn urls(&self) -> MutexGuard<'_, HashMap<String, String>> {
        self.urls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The queue URL of an ARN (`arn:aws:sqs:<region>:<account>:<name>`),
    /// looked up once with `GetQueueUrl` and cached.
    async fn queue_url(&self, arn: &str) -> Result<String, SqsApiError> {
        if let Some(url) = self.urls().get(arn).cloned() {
            return Ok(url);
        }
        let err = |message: String| SqsApiError {
            operation: "GetQueueUrl",
            message,
        };
        let parts: Vec<&str> = arn.split(':').collect();
        let [_, _, "sqs", _, account, name] = parts.as_slice() else {
            return Err(err(format!("{arn:?} is not an SQS queue ARN")));
        };
        let out = self
            .client
            .get_queue_url()
            .queue_name(*name)
            .queue_owner_aws_account_id(*account)
            .send()
            .await
            .map_err(|e| err(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        let url = out
            .queue_url
            .ok_or_else(|| err("no QueueUrl in the response".to_owned()))?;
        self.urls().insert(arn.to_owned(), url.clone());
        Ok(url)
    }
}

impl From<aws_sdk_sqs::Client> for AwsSqs {
    fn from(client: aws_sdk_sqs::Client) -> Self {
        AwsSqs::new(client)
    }
}

#[async_trait]
impl SqsApi for AwsSqs {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        let count = entries.len();
        let sdk_entries = entries
            .iter()
            .enumerate()
            .map(|(i, e)| to_sdk(e, i))
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .send_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(sdk_entries))
            .send()
            .await
            .map_err(|err| call_error_from_sdk(&err))?;
        let mut by_id: HashMap<&str, EntryResult> = HashMap::new();
        for ok in output.successful() {
            by_id.insert(ok.id(), Ok(Some(ok.message_id().to_owned())));
        }
        for failed in output.failed() {
            by_id.insert(
                failed.id(),
                Err(EntryFailure {
                    code: failed.code().to_owned(),
                    message: failed.message().unwrap_or_default().to_owned(),
                    // SenderFault: the request was wrong; sending it again will not help.
                    retryable: !failed.sender_fault(),
                }),
            );
        }
        Ok((0..count)
            .map(|i| {
                by_id.remove(i.to_string().as_str()).unwrap_or_else(|| {
                    Err(EntryFailure::retryable(
                        "MissingResult",
                        "SQS returned no result for this entry",
                    ))
                })
            })
            .collect())
    }

    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError> {
        let err = |message: String| SqsApiError {
            operation: "SendMessage",
            message,
        };
        let mut req = self
            .client
            .send_message()
            .queue_url(&message.queue_url)
            .message_body(&message.body)
            .set_message_group_id(message.group_id)
            .set_message_deduplication_id(message.deduplication_id);
        for (name, value) in message.attributes {
            let attr = string_attribute(value).map_err(|e| err(e.to_string()))?;
            req = req.message_attributes(name, attr);
        }
        req.send()
            .await
            .map_err(|e| err(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError> {
        let url = self.queue_url(queue_arn).await?;
        let err = |message: String| SqsApiError {
            operation: "ChangeMessageVisibilityBatch",
            message,
        };
        let calls = changes.chunks(MAX_VISIBILITY_ENTRIES).map(|chunk| {
            let entries: Result<Vec<_>, _> = chunk
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(&c.receipt_handle)
                        .visibility_timeout(i32::try_from(c.timeout.as_secs()).unwrap_or(i32::MAX))
                        .build()
                })
                .collect();
            let client = self.client.clone();
            let url = url.clone();
            async move {
                let entries = entries.map_err(|e| err(e.to_string()))?;
                let out = client
                    .change_message_visibility_batch()
                    .queue_url(url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| err(aws_sdk_sqs::error::DisplayErrorContext(&e).to_string()))?;
                match out.failed.first() {
                    Some(f) => Err(err(format!(
                        "{}: {}",
                        f.code,
                        f.message.clone().unwrap_or_default()
                    ))),
                    None => Ok(()),
                }
            }
        });
        for result in futures_util::future::join_all(calls).await {
            result?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqs::SqsAttribute;

    #[test]
    fn sdk_entry_uses_the_position_as_id() {
        let entry = SqsEntry {
            body: "{}".into(),
            attributes: vec![SqsAttribute {
                name: "type".into(),
                value: "t".into(),
            }],
            message_group_id: Some("g".into()),
            message_deduplication_id: Some("d".into()),
        };
        let sdk = to_sdk(&entry, 7).unwrap();
        assert_eq!(sdk.id(), "7");
        assert_eq!(sdk.message_group_id(), Some("g"));
        assert_eq!(sdk.message_deduplication_id(), Some("d"));
        let attrs = sdk.message_attributes().unwrap();
        assert_eq!(attrs["type"].data_type(), "String");
        assert_eq!(attrs["type"].string_value(), Some("t"));
    }
}
