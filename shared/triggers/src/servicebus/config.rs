use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Settings};

/// Settings of the Service Bus (custom handler) adapter.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceBusAdapterConfig {
    /// The trigger binding's `name` in function.json: the key of the
    /// message in the request's `Data`.
    #[serde(default = "default_binding")]
    pub binding: String,
    /// The binding's `dataType` is `binary`: bodies arrive base64-encoded.
    #[serde(default)]
    pub binary_body: bool,
    /// Where the messages come from (`<topic>/subscriptions/<name>`), for
    /// logs and the `switchyard.source` park property.
    #[serde(default = "default_source")]
    pub source: String,
    /// The Service Bus queue permanent failures are parked in. Without it
    /// they are retried, so `maxDeliveryCount` moves them to `$DeadLetterQueue`.
    #[serde(default)]
    pub park_queue: Option<String>,
    /// How long one invocation may run (host.json `functionTimeout`).
    #[serde(default = "default_invocation_timeout_ms")]
    pub invocation_timeout_ms: u64,
    /// Start nothing when less than this is left before the deadline.
    #[serde(default = "default_deadline_margin_ms")]
    pub deadline_margin_ms: u64,
}

fn default_binding() -> String {
    "message".to_owned()
}

fn default_source() -> String {
    "servicebus".to_owned()
}

fn default_invocation_timeout_ms() -> u64 {
    300_000
}

fn default_deadline_margin_ms() -> u64 {
    2_000
}

impl Default for ServiceBusAdapterConfig {
    fn default() -> Self {
        ServiceBusAdapterConfig {
            binding: default_binding(),
            binary_body: false,
            source: default_source(),
            park_queue: None,
            invocation_timeout_ms: default_invocation_timeout_ms(),
            deadline_margin_ms: default_deadline_margin_ms(),
        }
    }
}

impl ServiceBusAdapterConfig {
    /// The invocation timeout.
    pub fn invocation_timeout(&self) -> Duration {
        Duration::from_millis(self.invocation_timeout_ms)
    }

    /// The deadline margin.
    pub fn deadline_margin(&self) -> Duration {
        Duration::from_millis(self.deadline_margin_ms)
    }

    /// Reads `SWITCHYARD_SERVICEBUS_BINDING`, `SWITCHYARD_SERVICEBUS_BINARY_BODY`
    /// (`true`/`false`), `SWITCHYARD_SERVICEBUS_SOURCE`, `SWITCHYARD_PARK_QUEUE`,
    /// `SWITCHYARD_INVOCATION_TIMEOUT_MS` and `SWITCHYARD_DEADLINE_MARGIN_MS`.
    pub fn from_settings(env: &Settings) -> Result<Self, ConfigError> {
        let d = ServiceBusAdapterConfig::default();
        let timeout: u64 = env
            .parse("SWITCHYARD_INVOCATION_TIMEOUT_MS")?
            .unwrap_or(d.invocation_timeout_ms);
        if timeout == 0 {
            return Err(ConfigError::invalid(
                env.source_of("SWITCHYARD_INVOCATION_TIMEOUT_MS"),
                "0: must be positive",
            ));
        }
        Ok(ServiceBusAdapterConfig {
            binding: env
                .optional("SWITCHYARD_SERVICEBUS_BINDING")
                .unwrap_or(d.binding),
            binary_body: env
                .parse("SWITCHYARD_SERVICEBUS_BINARY_BODY")?
                .unwrap_or(false),
            source: env
                .optional("SWITCHYARD_SERVICEBUS_SOURCE")
                .unwrap_or(d.source),
            park_queue: env.optional("SWITCHYARD_PARK_QUEUE"),
            invocation_timeout_ms: timeout,
            deadline_margin_ms: env
                .parse("SWITCHYARD_DEADLINE_MARGIN_MS")?
                .unwrap_or(d.deadline_margin_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_errors_name_the_variable() {
        for (var, value) in [
            ("SWITCHYARD_SERVICEBUS_BINARY_BODY", "yes"),
            ("SWITCHYARD_INVOCATION_TIMEOUT_MS", "0"),
            ("SWITCHYARD_DEADLINE_MARGIN_MS", "soon"),
        ] {
            let env = Settings::from_fn(move |k| (k == var).then(|| value.to_owned()));
            let err = ServiceBusAdapterConfig::from_settings(&env).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
    }

    #[test]
    fn env_reads_every_setting() {
        let env = Settings::from_fn(|k| {
            Some(
                match k {
                    "SWITCHYARD_SERVICEBUS_BINDING" => "msg",
                    "SWITCHYARD_SERVICEBUS_BINARY_BODY" => "true",
                    "SWITCHYARD_SERVICEBUS_SOURCE" => "integration/subscriptions/erp-sync",
                    "SWITCHYARD_PARK_QUEUE" => "park",
                    "SWITCHYARD_INVOCATION_TIMEOUT_MS" => "60000",
                    _ => return None,
                }
                .to_owned(),
            )
        });
        let c = ServiceBusAdapterConfig::from_settings(&env).unwrap();
        assert_eq!(c.binding, "msg");
        assert!(c.binary_body);
        assert_eq!(c.park_queue.as_deref(), Some("park"));
        assert_eq!(c.invocation_timeout(), Duration::from_secs(60));
        assert_eq!(c.deadline_margin(), Duration::from_secs(2));
        assert_eq!(
            ServiceBusAdapterConfig::from_settings(&Settings::from_fn(|_| None)).unwrap(),
            ServiceBusAdapterConfig::default()
        );
    }
}
