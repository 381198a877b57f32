//! A small trait in front of the SQS client: the real implementation over
//! `aws-sdk-sqs`, and an in-memory one for unit tests and the local stack.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_sqs::types::{ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue};

/// An SQS call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("sqs {operation} failed: {message}")]
pub struct SqsApiError {
    /// The API operation.
    pub operation: &'static str,
    /// The error, with its code when SQS gave one.
    pub message: String,
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// Target queue URL.
    pub queue_url: String,
    /// Body.
    pub body: String,
    /// String message attributes.
    pub attributes: BTreeMap<String, String>,
    /// FIFO: message group id.
    pub group_id: Option<String>,
    /// FIFO: deduplication id.
    pub deduplication_id: Option<String>,
}

/// A new visibility timeout for one received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibilityChange {
    /// The receipt handle of the receive.
    pub receipt_handle: String,
    /// The new timeout.
    pub timeout: Duration,
}

/// The SQS calls the adapter makes.
#[async_trait::async_trait]
pub trait SqsApi: Send + Sync {
    /// `SendMessage`.
    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError>;

    /// `ChangeMessageVisibilityBatch` on the queue with this ARN.
    async fn change_visibility(
        &self,
        queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError>;
}

/// [`SqsApi`] over `aws_sdk_sqs::Client`. Endpoint, region and credentials
/// come from the SDK config (`AWS_ENDPOINT_URL` etc.), never from code.
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

    /// The queue URL of an ARN (`arn:aws:sqs:<region>:<account>:<name>`),
    /// looked up once with `GetQueueUrl` and cached.
    async fn queue_url(&self, arn: &str) -> Result<String, SqsApiError> {
        if let Some(url) = self.urls.lock().ok().and_then(|m| m.get(arn).cloned()) {
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
        if let Ok(mut m) = self.urls.lock() {
            m.insert(arn.to_owned(), url.clone());
        }
        Ok(url)
    }
}

#[async_trait::async_trait]
impl SqsApi for AwsSqs {
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
            let attr = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| err(e.to_string()))?;
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
        let calls = changes.chunks(10).map(|chunk| {
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

/// An in-memory [`SqsApi`] that records every call.
#[derive(Debug, Clone, Default)]
pub struct InMemorySqs {
    state: Arc<Mutex<InMemoryState>>,
}

#[derive(Debug, Default)]
struct InMemoryState {
    sent: Vec<SentMessage>,
    visibility: Vec<(String, VisibilityChange)>,
    fail_sends: bool,
}

impl InMemorySqs {
    /// A new, empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every message sent so far.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state
            .lock()
            .map(|s| s.sent.clone())
            .unwrap_or_default()
    }

    /// Every visibility change so far, with the queue ARN.
    pub fn visibility_changes(&self) -> Vec<(String, VisibilityChange)> {
        self.state
            .lock()
            .map(|s| s.visibility.clone())
            .unwrap_or_default()
    }

    /// Makes every following send fail (or succeed again).
    pub fn fail_sends(&self, fail: bool) {
        if let Ok(mut s) = self.state.lock() {
            s.fail_sends = fail;
        }
    }
}

#[async_trait::async_trait]
impl SqsApi for InMemorySqs {
    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError> {
        let mut s = self.state.lock().map_err(|_| SqsApiError {
            operation: "SendMessage",
            message: "recorder poisoned".to_owned(),
        })?;
        if s.fail_sends {
            return Err(SqsApiError {
                operation: "SendMessage",
                message: "injected failure".to_owned(),
            });
        }
        s.sent.push(message);
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError> {
        if let Ok(mut s) = self.state.lock() {
            s.visibility
                .extend(changes.into_iter().map(|c| (queue_arn.to_owned(), c)));
        }
        Ok(())
    }
}
