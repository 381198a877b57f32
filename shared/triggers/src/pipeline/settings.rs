//! The settings shared by every adapter ([`PipelineSettings`]), with the
//! bare-payload contract ([`BarePayload`]) and the policy for events the
//! handler does not consume ([`Unsubscribed`]).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use switchyard_contracts::DecodeOptions;

/// For producers that cannot wrap: message bodies are bare payloads of
/// this type and version, wrapped into an envelope on receipt.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarePayload {
    /// The contract type, e.g. `order.placed`.
    pub event_type: String,
    /// The contract version.
    pub version: u32,
    /// The `source` given to the wrapped envelope.
    pub source: String,
}

/// What a function does with an event whose type it does not consume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unsubscribed {
    /// Acknowledge it without running the handler; counted as ignored.
    /// For functions on a shared bus or topic that see more than they need.
    Ignore,
    /// Park it with kind `not_subscribed` (the default: a queue that
    /// receives what its function does not handle is a wiring error, and
    /// parking loses nothing).
    #[default]
    Park,
}

/// Settings shared by every adapter.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The function's stable name.
    pub function_name: Arc<str>,
    /// Upcaster inputs.
    pub decode: DecodeOptions,
    /// Accept bare payloads of this type instead of envelopes.
    pub bare_payload: Option<BarePayload>,
    /// How many messages run at once.
    pub max_concurrency: usize,
    /// Start no message when less than this is left before the deadline.
    pub deadline_margin: Duration,
    /// What happens to events outside the handler's set.
    pub unsubscribed: Unsubscribed,
}

impl PipelineSettings {
    /// Defaults for a function: concurrency 10, margin 2 s, envelopes only.
    pub fn new(function_name: impl Into<Arc<str>>) -> Self {
        PipelineSettings {
            function_name: function_name.into(),
            decode: DecodeOptions::default(),
            bare_payload: None,
            max_concurrency: 10,
            deadline_margin: Duration::from_secs(2),
            unsubscribed: Unsubscribed::Park,
        }
    }
}
