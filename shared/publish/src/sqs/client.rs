//! The small trait in front of the SQS SDK client, its real implementation
//! and a recording in-memory one.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

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
            let value = MessageAttributeValue::builder()
                .data_type(STRING)
                .string_value(&attribute.value)
                .build()
                .map_err(construction_failure)?;
            entry = entry.message_attributes(&attribute.name, value);
        }
        entry.build().map_err(construction_failure)
    }
}

fn construction_failure(err: aws_sdk_sqs::error::BuildError) -> CallError {
    CallError {
        code: "ConstructionFailure".to_owned(),
        message: err.to_string(),
        retryable: false,
    }
}

/// `SendMessageBatch`, and only what the publisher needs of it.
#[async_trait]
pub trait SendMessageBatchApi: Send + Sync {
    /// One `SendMessageBatch` call on `queue_url`: one result per entry, in
    /// request order (the service answers by batch entry id; the real client
    /// maps those back to positions).
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError>;
}

#[async_trait]
impl SendMessageBatchApi for aws_sdk_sqs::Client {
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
}

#[async_trait]
impl<T: SendMessageBatchApi + ?Sized> SendMessageBatchApi for Arc<T> {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        (**self).send_message_batch(queue_url, entries).await
    }
}

/// A `SendMessageBatch` that records every call and answers from a script
/// (default: every entry succeeds, with message ids `sqs-1`, `sqs-2`, ...).
/// Clones share one record.
#[derive(Debug, Clone)]
pub struct InMemorySendMessageBatch {
    recorder: Arc<Recorder<SqsEntry>>,
}

impl Default for InMemorySendMessageBatch {
    fn default() -> Self {
        InMemorySendMessageBatch {
            recorder: Arc::new(Recorder::new()),
        }
    }
}

impl InMemorySendMessageBatch {
    /// A client whose calls all succeed until scripted otherwise.
    pub fn new() -> Self {
        InMemorySendMessageBatch::default()
    }

    /// Queues the answer to the next unscripted call.
    pub fn script(&self, response: ScriptedResponse) {
        self.recorder.script(response);
    }

    /// The next call lists the entries at `indices` as `Failed` with `code`
    /// (`sender_fault = false`, so they are retried).
    pub fn fail_entries(&self, indices: &[usize], code: &str) {
        self.script(ScriptedResponse::FailEntries {
            indices: indices.to_vec(),
            failure: EntryFailure::retryable(code, format!("scripted {code}")),
        });
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<RecordedCall<SqsEntry>> {
        self.recorder.calls()
    }

    /// The number of entries of each call, in order.
    pub fn call_sizes(&self) -> Vec<usize> {
        self.recorder.call_sizes()
    }

    /// Forgets the calls and the script.
    pub fn clear(&self) {
        self.recorder.clear();
    }
}

#[async_trait]
impl SendMessageBatchApi for InMemorySendMessageBatch {
    async fn send_message_batch(
        &self,
        queue_url: &str,
        entries: Vec<SqsEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        self.recorder.respond(queue_url, entries, "sqs")
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
}
