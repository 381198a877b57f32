//! A test harness that behaves like Lambda's SQS event source mapping with
//! `ReportBatchItemFailures`: receive up to ten messages, invoke the
//! function with an `SqsEvent`, delete every message the response does not
//! list as failed, leave the listed ones to reappear after their visibility
//! timeout (and to be redriven to the DLQ by the queue's policy). An
//! invocation that fails as a whole (the function crashed, timed out or
//! returned an error: [`EventSourceMapping::poll_once_fallible`]) deletes
//! nothing, so the whole batch reappears, as with Lambda.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};

/// The mapping from one queue to a function.
pub struct EventSourceMapping {
    client: aws_sdk_sqs::Client,
    queue_url: String,
    queue_arn: String,
    /// Messages per invocation (Lambda's `BatchSize`, at most 10 here).
    pub batch_size: i32,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Poll {
    /// Messages received and passed to the function.
    pub received: usize,
    /// Messages the function reported failed (left on the queue).
    pub failed: usize,
    /// The invocation failed as a whole: every message was left.
    pub invocation_failed: bool,
    /// Received messages that had been received before
    /// (`ApproximateReceiveCount` > 1).
    pub redelivered: usize,
}

impl EventSourceMapping {
    /// Maps `queue_url`; looks up its ARN.
    pub async fn new(client: aws_sdk_sqs::Client, queue_url: &str) -> EventSourceMapping {
        let attrs = client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("GetQueueAttributes");
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .cloned()
            .expect("queue ARN");
        EventSourceMapping {
            client,
            queue_url: queue_url.to_owned(),
            queue_arn,
            batch_size: 10,
        }
    }

    /// Receives one batch (waiting up to a second), invokes, deletes.
    pub async fn poll_once<F, Fut>(&self, invoke: F) -> Poll
    where
        F: FnOnce(SqsEvent) -> Fut,
        Fut: Future<Output = SqsBatchResponse>,
    {
        self.poll_once_fallible(|event| async move {
            Ok::<_, std::convert::Infallible>(invoke(event).await)
        })
        .await
    }

    /// [`poll_once`](Self::poll_once) for an invocation that can fail as a
    /// whole: on `Err` nothing is deleted.
    pub async fn poll_once_fallible<F, Fut, E>(&self, invoke: F) -> Poll
    where
        F: FnOnce(SqsEvent) -> Fut,
        Fut: Future<Output = Result<SqsBatchResponse, E>>,
    {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Poll::default();
        }
        let mut receipts = HashMap::new();
        let mut event = SqsEvent::default();
        for m in &messages {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id.clone();
            record.receipt_handle = m.receipt_handle.clone();
            record.body = m.body.clone();
            record.md5_of_body = m.md5_of_body.clone();
            record.attributes = m
                .attributes
                .clone()
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect();
            record.event_source = Some("aws:sqs".to_owned());
            record.event_source_arn = Some(self.queue_arn.clone());
            record.aws_region = Some("us-east-1".to_owned());
            receipts.insert(
                m.message_id.clone().unwrap_or_default(),
                m.receipt_handle.clone().unwrap_or_default(),
            );
            event.records.push(record);
        }
        let redelivered = messages
            .iter()
            .filter(|m| {
                m.attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|v| v.parse::<u32>().ok())
                    .is_some_and(|n| n > 1)
            })
            .count();
        let Ok(response) = invoke(event).await else {
            return Poll {
                received: messages.len(),
                failed: messages.len(),
                invocation_failed: true,
                redelivered,
            };
        };
        let failed: BTreeSet<String> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.clone())
            .collect();
        let entries: Vec<DeleteMessageBatchRequestEntry> = receipts
            .iter()
            .filter(|(id, _)| !failed.contains(*id))
            .enumerate()
            .map(|(i, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .expect("delete entry")
            })
            .collect();
        if !entries.is_empty() {
            self.client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .expect("DeleteMessageBatch");
        }
        Poll {
            received: messages.len(),
            failed: failed.len(),
            invocation_failed: false,
            redelivered,
        }
    }

    /// Messages visible plus in flight.
    pub async fn depth(&self) -> usize {
        queue_depth(&self.client, &self.queue_url).await
    }

    /// Polls until the queue is empty (nothing visible, nothing in flight),
    /// invoking `invoke` for every batch. Panics after `limit`.
    pub async fn drain<F, Fut>(&self, limit: Duration, mut invoke: F) -> usize
    where
        F: FnMut(SqsEvent) -> Fut,
        Fut: Future<Output = SqsBatchResponse>,
    {
        let started = Instant::now();
        let mut invocations = 0;
        loop {
            let poll = self.poll_once(&mut invoke).await;
            if poll.received > 0 {
                invocations += 1;
            } else if self.depth().await == 0 {
                return invocations;
            }
            assert!(
                started.elapsed() < limit,
                "queue not drained within {limit:?} ({} messages left)",
                self.depth().await
            );
        }
    }
}

/// `ApproximateNumberOfMessages` + `ApproximateNumberOfMessagesNotVisible`.
pub async fn queue_depth(client: &aws_sdk_sqs::Client, queue_url: &str) -> usize {
    let attrs = client
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("GetQueueAttributes");
    let get = |name: &QueueAttributeName| -> usize {
        attrs
            .attributes()
            .and_then(|a| a.get(name))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    get(&QueueAttributeName::ApproximateNumberOfMessages)
        + get(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
}

/// An SQS event as Lambda delivers it from the queue `queue_arn`, one
/// record per `(message id, body)`; receipt handles `rh-<message id>`.
pub fn sqs_event<I: AsRef<str>, B: AsRef<str>>(queue_arn: &str, records: &[(I, B)]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for (id, body) in records {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.as_ref().to_owned());
        m.receipt_handle = Some(format!("rh-{}", id.as_ref()));
        m.body = Some(body.as_ref().to_owned());
        m.event_source_arn = Some(queue_arn.to_owned());
        event.records.push(m);
    }
    event
}
