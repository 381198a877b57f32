//! One message as the trigger delivered it ([`Delivery`]) and what
//! happened to it ([`Outcome`]).

/// One message as the trigger delivered it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The trigger's message id.
    pub message_id: String,
    /// The raw body.
    pub body: String,
    /// Delivery attempt, from 1.
    pub attempt: u32,
    /// FIFO message group.
    pub group: Option<String>,
    /// Where it came from (queue or bus name).
    pub source: String,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler ran and succeeded.
    Handled,
    /// A completed duplicate: acknowledged without running.
    Duplicate,
    /// Not a type the function consumes, and its policy is to ignore it:
    /// acknowledged without running.
    Ignored {
        /// The event type.
        event_type: String,
    },
    /// Parked with its reason.
    Parked {
        /// The bounded error kind.
        kind: String,
    },
    /// Older than an update of the same entity already applied (the
    /// ordering guard): acknowledged without running.
    Stale {
        /// The entity.
        entity: String,
        /// This event's position.
        position: u64,
        /// The newest position applied.
        newest: u64,
    },
    /// Must be retried (report failed / abandon / fail the invocation).
    Retry {
        /// Why.
        reason: String,
    },
    /// Not started: the deadline was near, or an earlier message of its FIFO group failed.
    NotStarted {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// True when the trigger must redeliver the message.
    pub fn needs_retry(&self) -> bool {
        matches!(self, Outcome::Retry { .. } | Outcome::NotStarted { .. })
    }
}

/// A message the trigger delivered but whose record could not be read (the
/// trigger's own envelope, not the Switchyard event inside it): it is parked
/// with the reason, kind `unreadable_record`, and never run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// The trigger's message id, when the record still names one.
    pub message_id: Option<String>,
    /// The body, or the whole record when it has no readable body.
    pub body: String,
    /// Where it came from (queue or bus name).
    pub source: String,
    /// FIFO message group, when the record still names one.
    pub group: Option<String>,
    /// Delivery attempt, from 1.
    pub attempt: u32,
    /// Why the record could not be read.
    pub reason: String,
}

impl Unreadable {
    /// The park kind of every unreadable record.
    pub const KIND: &'static str = "unreadable_record";

    /// As a delivery, for parking (an absent id is parked as `(none)`).
    pub(crate) fn delivery(&self) -> Delivery {
        Delivery {
            message_id: self
                .message_id
                .clone()
                .unwrap_or_else(|| "(none)".to_owned()),
            body: self.body.clone(),
            attempt: self.attempt,
            group: self.group.clone(),
            source: self.source.clone(),
        }
    }
}

/// A field of a record that may be anything: its text when it is a string.
pub(crate) fn text(value: Option<serde_json::Value>) -> Option<String> {
    match value? {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    }
}
