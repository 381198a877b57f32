//! Parking: where permanent failures and undecodable messages go, with their
//! reason, instead of being retried forever or dropped.

/// A message being parked and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedMessage {
    /// The original body, unchanged, so it can be redriven after a fix.
    pub body: String,
    /// The trigger's message id.
    pub message_id: String,
    /// Human-readable reason (the decode error, the handler's message).
    pub reason: String,
    /// A short, bounded code: `invalid_payload`, `not_subscribed`, `payload_mismatch`...
    pub kind: String,
    /// The function that parked it.
    pub function: String,
    /// Where it came from (queue name, bus name).
    pub source: String,
    /// FIFO message group, when the source is a FIFO queue.
    pub group_id: Option<String>,
}

/// The park target could not take the message; the adapter reports the
/// message failed instead, so it is never dropped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("could not park message {message_id}: {reason}")]
pub struct ParkError {
    /// The message that was not parked.
    pub message_id: String,
    /// Why.
    pub reason: String,
}

/// Somewhere to park messages (an SQS queue, a Service Bus queue...).
#[async_trait::async_trait]
pub trait ParkTarget: Send + Sync {
    /// Parks one message.
    async fn park(&self, message: &ParkedMessage) -> Result<(), ParkError>;
}

/// Park attribute names, shared by every park target.
pub mod attributes {
    /// Why the message was parked.
    pub const REASON: &str = "switchyard.park.reason";
    /// The bounded error kind.
    pub const KIND: &str = "switchyard.park.kind";
    /// The original message id.
    pub const ORIGINAL_MESSAGE_ID: &str = "switchyard.original.message-id";
    /// Where the message came from.
    pub const SOURCE: &str = "switchyard.source";
    /// The function that parked it.
    pub const FUNCTION: &str = "switchyard.function";
}

/// Longest reason carried in an attribute; longer reasons are cut at a char boundary.
pub const MAX_REASON_BYTES: usize = 1024;

/// `reason` cut to [`MAX_REASON_BYTES`].
pub fn bounded_reason(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &reason[..end])
}
