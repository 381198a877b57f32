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
