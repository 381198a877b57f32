//! Correlation: a tracing span per message with the ids an operator
//! searches by. (The publisher's cause, so outgoing events inherit the
//! correlation id and name this event as their cause, is
//! `switchyard_publish::Cause::of`.)

use switchyard_contracts::Envelope;

/// The span every message is handled in.
pub(crate) fn span_for<E>(
    function: &str,
    message_id: &str,
    event: Option<&Envelope<E>>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "message",
        function = %function,
        message_id = %message_id,
        event_id = tracing::field::Empty,
        event_type = tracing::field::Empty,
        correlation_id = tracing::field::Empty,
        causation_id = tracing::field::Empty,
    );
    if let Some(e) = event {
        span.record("event_id", e.id.as_str());
        span.record("event_type", e.event_type.as_str());
        span.record("correlation_id", e.correlationid.as_str());
        if let Some(c) = &e.causationid {
            span.record("causation_id", c.as_str());
        }
    }
    span
}
