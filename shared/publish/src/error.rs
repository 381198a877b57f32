//! The errors of this crate: one named variant per failure, each with a
//! message that says what happened to which event.

use std::fmt;

/// Why events were not (all) published.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// One event is larger than one entry of the target may be. `publish`
    /// reports it as that event's [`PublishOutcome::Failed`](crate::PublishOutcome::Failed)
    /// with code `EntryTooLarge` (this message as its message); the event is
    /// never sent and never silently dropped.
    #[error("event {event_id} is {size} bytes, over the {limit}-byte limit of one entry")]
    TooLarge {
        /// The envelope id.
        event_id: String,
        /// Its size as the target measures it, in bytes.
        size: usize,
        /// The target's limit, in bytes.
        limit: usize,
    },
    /// An event (or its typed `data`) could not be turned into JSON.
    #[error("event {event_id} could not be serialized to JSON: {source}")]
    Serialize {
        /// The envelope id.
        event_id: String,
        /// What serde said.
        #[source]
        source: serde_json::Error,
    },
    /// The target could not be reached or refused every call: nothing was
    /// published.
    #[error("{target} is unavailable, nothing was published: {code}: {message}")]
    Transport {
        /// Which target (`EventBridge`, `SQS`, ...).
        target: String,
        /// The error code of the last failed call (bounded: an SDK or service code).
        code: String,
        /// The error message of the last failed call.
        message: String,
    },
    /// Some events were not published (from [`Publisher::publish_all`](crate::Publisher::publish_all)).
    #[error("{} event(s) were not published; first: {}", .failed.len(), FirstFailure(.failed))]
    Partial {
        /// Every event that failed, in publish order.
        failed: Vec<FailedEvent>,
    },
}

impl PublishError {
    /// A short, bounded code for logs, metrics and [`PublishOutcome::Failed`](crate::PublishOutcome::Failed).
    pub fn code(&self) -> &'static str {
        match self {
            PublishError::TooLarge { .. } => "EntryTooLarge",
            PublishError::Serialize { .. } => "SerializeFailed",
            PublishError::Transport { .. } => "TargetUnavailable",
            PublishError::Partial { .. } => "PartialFailure",
        }
    }
}

/// One event that was not published, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedEvent {
    /// The envelope id.
    pub event_id: String,
    /// The target's error code (e.g. `ThrottlingException`, `EntryTooLarge`).
    pub code: String,
    /// The target's error message.
    pub message: String,
}

impl fmt::Display for FailedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {}: {}: {}",
            self.event_id, self.code, self.message
        )
    }
}

struct FirstFailure<'a>(&'a [FailedEvent]);

impl fmt::Display for FirstFailure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.first() {
            Some(first) => first.fmt(f),
            None => f.write_str("none"),
        }
    }
}

pub use switchyard_config::ConfigError;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_the_first_failure() {
        let err = PublishError::Partial {
            failed: vec![FailedEvent {
                event_id: "e1".into(),
                code: "ThrottlingException".into(),
                message: "slow down".into(),
            }],
        };
        assert_eq!(
            err.to_string(),
            "1 event(s) were not published; first: event e1: ThrottlingException: slow down"
        );
    }
}
