//! One HubSpot webhook event, as documented in "Webhooks API": every
//! request body is a JSON array of these.

use serde::Deserialize;
use serde_json::Value;

use crate::error::MapError;

/// One event of a HubSpot webhook request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HubSpotEvent {
    /// The event's id; the dedupe id of this event.
    pub event_id: u64,
    /// The subscription that fired.
    #[serde(default)]
    pub subscription_id: Option<u64>,
    /// The HubSpot account (portal).
    pub portal_id: u64,
    /// The app.
    #[serde(default)]
    pub app_id: Option<u64>,
    /// When the change happened, milliseconds since the epoch.
    pub occurred_at: i64,
    /// `contact.creation`, `contact.propertyChange`, `deal.creation`, ...
    pub subscription_type: String,
    /// 0 for the first delivery, then 1, 2, ... on retries.
    #[serde(default)]
    pub attempt_number: Option<u32>,
    /// The CRM object's id.
    pub object_id: u64,
    /// For `*.propertyChange`: the property.
    #[serde(default)]
    pub property_name: Option<String>,
    /// For `*.propertyChange`: its new value (HubSpot sends strings).
    #[serde(default)]
    pub property_value: Option<Value>,
    /// Where the change came from (`CRM`, `CRM_UI`, `IMPORT`, ...).
    #[serde(default)]
    pub change_source: Option<String>,
}

impl HubSpotEvent {
    /// The new property value as text (numbers and booleans as their JSON text).
    pub fn value_text(&self) -> Option<String> {
        match self.property_value.as_ref()? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// Parses a request body: a JSON array of events.
///
/// # Errors
/// [`MapError::Empty`] or [`MapError::Json`] naming the failing path.
pub fn parse(body: &[u8]) -> Result<Vec<HubSpotEvent>, MapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(MapError::Empty);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let events = serde_path_to_error::deserialize(&mut de).map_err(MapError::json)?;
    de.end().map_err(|e| MapError::Json {
        path: ".".to_owned(),
        message: e.to_string(),
    })?;
    Ok(events)
}
