//! EventBridge publisher configuration.

use serde::{Deserialize, Serialize};

use crate::retry::RetryConfig;
use switchyard_config::{ConfigError, Settings};

/// Where and how [`EventBridgePublisher`](super::EventBridgePublisher) publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridgeConfig {
    /// The name or ARN of the event bus (`EVENT_BUS_NAME`).
    pub event_bus_name: String,
    /// How failed entries and failed calls are retried.
    #[serde(default)]
    pub retry: RetryConfig,
}

impl EventBridgeConfig {
    /// Publishes to `event_bus_name` with the default retry policy.
    pub fn new(event_bus_name: impl Into<String>) -> Self {
        EventBridgeConfig {
            event_bus_name: event_bus_name.into(),
            retry: RetryConfig::default(),
        }
    }

    /// Reads `EVENT_BUS_NAME` (required) and the `PUBLISH_*` retry variables
    /// (see [`RetryConfig::from_settings`]) from `settings`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Ok(EventBridgeConfig {
            event_bus_name: settings.required("EVENT_BUS_NAME", "the event bus to publish to")?,
            retry: RetryConfig::from_settings(settings)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_bus_names_the_variable() {
        let err = EventBridgeConfig::from_settings(&Settings::from_fn(|_| None)).unwrap_err();
        assert_eq!(
            err,
            ConfigError::missing("EVENT_BUS_NAME", "the event bus to publish to")
        );
        assert!(err.to_string().contains("EVENT_BUS_NAME"));
    }

    #[test]
    fn reads_bus_and_retry() {
        let lookup = |var: &str| match var {
            "EVENT_BUS_NAME" => Some("switchyard".to_owned()),
            "PUBLISH_MAX_RETRY_TIME_MS" => Some("1500".to_owned()),
            _ => None,
        };
        let config = EventBridgeConfig::from_settings(&Settings::from_fn(lookup)).unwrap();
        assert_eq!(config.event_bus_name, "switchyard");
        assert_eq!(config.retry.max_retry_time_ms, 1500);
        assert_eq!(config.retry.max_attempts, 4);
    }

    #[test]
    fn deserializes_with_defaults_and_rejects_unknown_fields() {
        let config: EventBridgeConfig = serde_json::from_str(r#"{"event_bus_name": "b"}"#).unwrap();
        assert_eq!(config, EventBridgeConfig::new("b"));
        assert!(
            serde_json::from_str::<EventBridgeConfig>(r#"{"event_bus_name": "b", "bus": 1}"#)
                .is_err()
        );
    }
}
