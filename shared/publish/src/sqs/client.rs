//! The one small trait in front of the SQS SDK client ([`SqsApi`]), its real
//! implementation ([`AwsSqs`]) and a recording in-memory one
//! ([`InMemorySqs`]). The publisher sends batches through it; the trigger
//! adapters park messages and set visibility timeouts through it.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, MessageAttributeValue, SendMessageBatchRequestEntry,
};

use crate::batch::{
    CallError, EntryFailure, EntryResult, RecordedCall, Recorder, ScriptedResponse,
    call_error_from_sdk,
};

/// A `String` message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsAttribute {
    /// The attribute name.
    pub name: String,
    /// The attribute value (data type `String`).
    pub value: String,
}

/// The data type of every attribute this crate sets.
const STRING: &str = "String";

/// Entries per `ChangeMessageVisibilityBatch` call at most.
const MAX_VISIBILITY_ENTRIES: usize = 10;

/// One `SendMessageBatch` entry, as the publisher builds it (the batch entry
/// id is assigned per call: the entry's position).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsEntry {
    /// `MessageBody`.
    pub body: String,
    /// `MessageAttributes`, all of data type `String`.
    pub attributes: Vec<SqsAttribute>,
    /// `MessageGroupId` (FIFO queues only).
    pub message_group_id: Option<String>,
    /// `MessageDeduplicationId` (FIFO queues only).
    pub message_deduplication_id: Option<String>,
}

impl SqsEntry {
    /// The message size as SQS counts it towards the 256 KiB limits: the
    /// UTF-8 bytes of the body plus, for each message attribute, its name,
    /// data type and value.
    pub fn size(&self) -> usize {
        self.body.len()
            + self
                .attributes
                .iter()
                .map(|a| a.name.len() + STRING.len() + a.value.len())
                .sum::<usize>()
    }

    /// The value of attribute `name`, if set.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.value.as_str())
    }

    fn to_sdk(&self, id: usize) -> Result<SendMessageBatchRequestEntry, CallError> {
        let mut entry = SendMessageBatchRequestEntry::builder()
            .id(id.to_string())
            .message_body(&self.body)
            .set_message_group_id(self.message_group_id.clone())
            .set_message_deduplication_id(self.message_deduplication_id.clone());
        for attribute in &self.attributes {
            let value = string_attribute(&attribute.value).map_err(construction_failure)?;
            entry = entry.message_attributes(&attribute.name, value);
        }
        entry.build().map_err(construction_failure)
    }
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

/// A single SQS call (`SendMessage`, `ChangeMessageVisibilityBatch`,
/// `GetQueueUrl`) failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("sqs {operation} failed: {message}")]
pub struct SqsApiError {
    /// The API operation.
    pub operation: &'static str,
    /// The error, with its code when SQS gave one.
    pub message: String,
}

/// A single message to send with `SendMessage` (parking).
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

/// The SQS calls Switchyard makes: batches from the publisher, single sends
/// (parking) and visibility changes (backoff) from the trigger adapters.
#[async_trait]
pub trait SqsApi: Send + Sync {
    /// One `SendMessageBatch` call on `queue_url`: one result per entry, in
    /// request order (the service answers by batch entry id; the real client
    /// maps those back to positions).
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError>;

    /// `SendMessage`.
    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError>;

    /// `ChangeMessageVisibilityBatch` on the queue with this ARN (as many
    /// calls of up to 10 entries as needed).
    async fn change_visibility(
        &self,
        queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError>;
}

#[async_trait]
impl<T: SqsApi + ?Sized> SqsApi for Arc<T> {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        (**self).send_message_batch(queue_url, entries).await
    }

    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError> {
        (**self).send_message(message).await
    }

    async fn change_visibility(
        &self,
        queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError> {
        (**self).change_visibility(queue_arn, changes).await
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
            .map(|(i, e)| e.to_sdk(i))
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

/// An in-memory [`SqsApi`] that records every call. Clones share one record.
///
/// - `SendMessageBatch` calls are recorded ([`calls`](Self::calls),
///   [`call_sizes`](Self::call_sizes)) and answered from a script (default:
///   every entry succeeds, with message ids `sqs-1`, `sqs-2`, ...; see
///   [`script`](Self::script), [`fail_entries`](Self::fail_entries)).
/// - `SendMessage` calls are recorded ([`sent`](Self::sent)) and fail while
///   [`fail_sends`](Self::fail_sends) is on.
/// - Visibility changes are recorded with their queue ARN
///   ([`visibility_changes`](Self::visibility_changes)).
#[derive(Debug, Clone)]
pub struct InMemorySqs {
    batches: Arc<Recorder<SqsEntry>>,
    state: Arc<Mutex<InMemoryState>>,
}

#[derive(Debug, Default)]
struct InMemoryState {
    sent: Vec<SentMessage>,
    visibility: Vec<(String, VisibilityChange)>,
    fail_sends: bool,
}

impl Default for InMemorySqs {
    fn default() -> Self {
        InMemorySqs {
            batches: Arc::new(Recorder::new()),
            state: Arc::default(),
        }
    }
}

impl InMemorySqs {
    /// A client whose calls all succeed until scripted otherwise.
    pub fn new() -> Self {
        InMemorySqs::default()
    }

    fn state(&self) -> MutexGuard<'_, InMemoryState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues the answer to the next unscripted `SendMessageBatch` call.
    pub fn script(&self, response: ScriptedResponse) {
        self.batches.script(response);
    }

    /// The next `SendMessageBatch` call lists the entries at `indices` as
    /// `Failed` with `code` (`sender_fault = false`, so they are retried).
    pub fn fail_entries(&self, indices: &[usize], code: &str) {
        self.script(ScriptedResponse::FailEntries {
            indices: indices.to_vec(),
            failure: EntryFailure::retryable(code, format!("scripted {code}")),
        });
    }

    /// Every `SendMessageBatch` call received, in order.
    pub fn calls(&self) -> Vec<RecordedCall<SqsEntry>> {
        self.batches.calls()
    }

    /// The number of entries of each `SendMessageBatch` call, in order.
    pub fn call_sizes(&self) -> Vec<usize> {
        self.batches.call_sizes()
    }

    /// Every message sent with `SendMessage` so far.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.state().sent.clone()
    }

    /// Every visibility change so far, with the queue ARN.
    pub fn visibility_changes(&self) -> Vec<(String, VisibilityChange)> {
        self.state().visibility.clone()
    }

    /// Makes every following `SendMessage` fail (or succeed again);
    /// `SendMessageBatch` answers from its script regardless.
    pub fn fail_sends(&self, fail: bool) {
        self.state().fail_sends = fail;
    }

    /// Forgets every recorded call (batches, single sends, visibility
    /// changes) and the script; [`fail_sends`](Self::fail_sends) stays as set.
    pub fn clear(&self) {
        self.batches.clear();
        let mut state = self.state();
        state.sent.clear();
        state.visibility.clear();
    }
}

#[async_trait]
impl SqsApi for InMemorySqs {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        self.batches.respond(queue_url, entries, "sqs")
    }

    async fn send_message(&self, message: SentMessage) -> Result<(), SqsApiError> {
        let mut state = self.state();
        if state.fail_sends {
            return Err(SqsApiError {
                operation: "SendMessage",
                message: "injected failure".to_owned(),
            });
        }
        state.sent.push(message);
        Ok(())
    }

    async fn change_visibility(
        &self,
        queue_arn: &str,
        changes: Vec<VisibilityChange>,
    ) -> Result<(), SqsApiError> {
        self.state()
            .visibility
            .extend(changes.into_iter().map(|c| (queue_arn.to_owned(), c)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_counts_body_and_attributes() {
        let entry = SqsEntry {
            body: "{\"a\":\"é\"}".into(),
            attributes: vec![SqsAttribute {
                name: "type".into(),
                value: "order.placed".into(),
            }],
            message_group_id: Some("not counted".into()),
            message_deduplication_id: None,
        };
        assert_eq!(entry.size(), 10 + 4 + 6 + 12);
    }

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
        let sdk = entry.to_sdk(7).unwrap();
        assert_eq!(sdk.id(), "7");
        assert_eq!(sdk.message_group_id(), Some("g"));
        assert_eq!(sdk.message_deduplication_id(), Some("d"));
        let attrs = sdk.message_attributes().unwrap();
        assert_eq!(attrs["type"].data_type(), "String");
        assert_eq!(attrs["type"].string_value(), Some("t"));
    }

    fn entry(body: &str) -> SqsEntry {
        SqsEntry {
            body: body.into(),
            attributes: Vec::new(),
            message_group_id: None,
            message_deduplication_id: None,
        }
    }

    fn message(body: &str) -> SentMessage {
        SentMessage {
            queue_url: "q".into(),
            body: body.into(),
            attributes: BTreeMap::new(),
            group_id: None,
            deduplication_id: None,
        }
    }

    #[tokio::test]
    async fn in_memory_records_every_kind_of_call() {
        let sqs = InMemorySqs::new();
        let api: Arc<dyn SqsApi> = Arc::new(sqs.clone());
        sqs.fail_entries(&[1], "InternalError");
        let results = api
            .send_message_batch("q", vec![entry("a"), entry("b")])
            .await
            .unwrap();
        assert_eq!(results[0], Ok(Some("sqs-1".to_owned())));
        assert_eq!(results[1].as_ref().unwrap_err().code, "InternalError");
        api.send_message(message("parked")).await.unwrap();
        let change = VisibilityChange {
            receipt_handle: "r".into(),
            timeout: Duration::from_secs(5),
        };
        api.change_visibility("arn", vec![change.clone()])
            .await
            .unwrap();

        assert_eq!(sqs.call_sizes(), vec![2]);
        assert_eq!(sqs.calls()[0].target, "q");
        assert_eq!(sqs.sent(), vec![message("parked")]);
        assert_eq!(sqs.visibility_changes(), vec![("arn".to_owned(), change)]);

        sqs.fail_sends(true);
        assert!(api.send_message(message("x")).await.is_err());
        assert!(api.send_message_batch("q", vec![entry("c")]).await.is_ok());
        sqs.clear();
        assert!(sqs.calls().is_empty() && sqs.sent().is_empty());
        assert!(sqs.visibility_changes().is_empty());
    }
}
