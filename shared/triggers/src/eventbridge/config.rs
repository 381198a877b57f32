use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Settings};
use crate::pipeline::BarePayload;

/// Settings of the EventBridge adapter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridgeAdapterConfig {
    /// SQS queue where permanent failures and undecodable events are parked.
    /// Without it they fail the invocation, so the rule target's retry
    /// policy and DLQ take them.
    #[serde(default)]
    pub park_queue_url: Option<String>,
    /// Start nothing when less than this is left before the deadline.
    #[serde(default = "default_deadline_margin_ms")]
    pub deadline_margin_ms: u64,
    /// Events from other producers (a partner source): `detail` is a bare
    /// payload of this contract, wrapped into an envelope on receipt.
    #[serde(default)]
    pub partner: Option<BarePayload>,
}

fn default_deadline_margin_ms() -> u64 {
    1_000
}

impl Default for EventBridgeAdapterConfig {
    fn default() -> Self {
        EventBridgeAdapterConfig {
            park_queue_url: None,
            deadline_margin_ms: default_deadline_margin_ms(),
            partner: None,
        }
    }
}

impl EventBridgeAdapterConfig {
    /// The deadline margin.
    pub fn deadline_margin(&self) -> Duration {
        Duration::from_millis(self.deadline_margin_ms)
    }

    /// Reads `SWITCHYARD_PARK_QUEUE_URL`, `SWITCHYARD_DEADLINE_MARGIN_MS`
    /// and `SWITCHYARD_PARTNER_EVENT_TYPE` (`<type>:v<version>`; the
    /// envelope's `source` is the EventBridge event's `source`).
    pub fn from_settings(env: &Settings) -> Result<Self, ConfigError> {
        let partner = match env.optional("SWITCHYARD_PARTNER_EVENT_TYPE") {
            None => None,
            Some(spec) => {
                let invalid = |reason: &str| {
                    ConfigError::invalid(
                        env.source_of("SWITCHYARD_PARTNER_EVENT_TYPE"),
                        format!("{spec:?}: {reason}"),
                    )
                };
                let (event_type, version) = spec.rsplit_once(":v").ok_or_else(|| {
                    invalid("expected <type>:v<version>, e.g. customer.updated:v1")
                })?;
                Some(BarePayload {
                    event_type: event_type.to_owned(),
                    version: version
                        .parse()
                        .map_err(|_| invalid("the version is not a number"))?,
                    // the wrapped envelope's source is the EventBridge event's
                    source: String::new(),
                })
            }
        };
        Ok(EventBridgeAdapterConfig {
            park_queue_url: env.optional("SWITCHYARD_PARK_QUEUE_URL"),
            deadline_margin_ms: env
                .parse("SWITCHYARD_DEADLINE_MARGIN_MS")?
                .unwrap_or_else(default_deadline_margin_ms),
            partner,
        })
    }
}
