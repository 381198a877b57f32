//! Helpers shared by the moto-backed integration tests.

use std::time::Duration;

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use switchyard_publish::OutgoingEvent;

/// An `OutgoingEvent` of `event_type` about `subject`, with its own correlation id.
pub(crate) fn envelope(id: &str, event_type: &str, subject: Option<&str>) -> OutgoingEvent {
    serde_json::from_value(serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": "switchyard/publish-tests",
        "type": event_type,
        "time": "2024-05-01T10:00:00.123Z",
        "subject": subject,
        "dataschema": format!("urn:switchyard:schema:{event_type}:v1"),
        "dataversion": 1,
        "correlationid": format!("corr-{id}"),
        "data": { "id": id, "note": "héllo" }
    }))
    .expect("a valid envelope")
}

/// Receives from `queue_url` until `expected` messages arrived, then keeps
/// listening for `settle` to catch extra ones; fails after `timeout`.
pub(crate) async fn receive(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    expected: usize,
    settle: Duration,
    timeout: Duration,
) -> Vec<Message> {
    let mut messages = Vec::new();
    let collect = async {
        loop {
            let got_all = messages.len() >= expected;
            let output = sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(if got_all { settle.as_secs() as i32 } else { 1 })
                .message_attribute_names("All")
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send()
                .await
                .expect("ReceiveMessage");
            let batch = output.messages().to_vec();
            let empty = batch.is_empty();
            for message in &batch {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
            messages.extend(batch);
            if got_all && empty {
                break;
            }
        }
    };
    tokio::time::timeout(timeout, collect)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {expected} messages on {queue_url}"));
    messages
}
