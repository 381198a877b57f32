//! Helpers shared by the moto-backed integration tests.

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
