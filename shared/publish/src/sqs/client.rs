//! The one small trait in front of the SQS SDK client ([`SqsApi`]) and a
//! recording in-memory implementation ([`InMemorySqs`]); the real one,
//! `AwsSqs`, is in `aws.rs` (feature `sqs`). The publisher sends batches
//! through it; the trigger adapters park messages and set visibility
//! timeouts through it. Nothing here links the AWS SDK.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use crate::batch::{
    CallError, EntryFailure, EntryResult, RecordedCall, Recorder, ScriptedResponse,
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
pub(crate) const STRING: &str = "String";

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
