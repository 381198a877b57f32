use std::time::Duration;

use serde::Deserialize;

use crate::config::{ConfigError, Settings};
use crate::pipeline::BarePayload;

/// Settings of the SQS adapter.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsAdapterConfig {
    /// Where permanent failures are parked (the queue's DLQ URL). Without it,
    /// permanent failures are reported failed and the redrive policy moves them.
    #[serde(default)]
    pub park_queue_url: Option<String>,
    /// Messages of a standard queue handled at once.
    #[serde(default = "default_max_concurrency")]
    pub max_concurrency: usize,
    /// Start no message when less than this is left before the invocation deadline.
    #[serde(default = "default_deadline_margin_ms")]
    pub deadline_margin_ms: u64,
    /// Exponential backoff of transient failures via the visibility timeout.
    #[serde(default)]
    pub backoff: Option<BackoffConfig>,
    /// Accept bare payloads of this contract instead of envelopes.
    #[serde(default)]
    pub bare_payload: Option<BarePayload>,
}

/// Visibility timeout after the n-th failed receive:
/// `min(cap_secs, base_secs × factor^(n-1))`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackoffConfig {
    /// Visibility timeout after the first failure, seconds.
    #[serde(default = "default_backoff_base_secs")]
    pub base_secs: u32,
    /// Multiplier per further failure.
    #[serde(default = "default_backoff_factor")]
    pub factor: u32,
    /// Upper bound, seconds (SQS allows at most 43,200).
    #[serde(default = "default_backoff_cap_secs")]
    pub cap_secs: u32,
}

fn default_max_concurrency() -> usize {
    10
}

fn default_deadline_margin_ms() -> u64 {
    2_000
}

fn default_backoff_base_secs() -> u32 {
    5
}

fn default_backoff_factor() -> u32 {
    2
}

fn default_backoff_cap_secs() -> u32 {
    900
}

/// SQS's maximum visibility timeout.
const MAX_VISIBILITY_SECS: u32 = 43_200;

impl Default for SqsAdapterConfig {
    fn default() -> Self {
        SqsAdapterConfig {
            park_queue_url: None,
            max_concurrency: default_max_concurrency(),
            deadline_margin_ms: default_deadline_margin_ms(),
            backoff: None,
            bare_payload: None,
        }
    }
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig {
            base_secs: default_backoff_base_secs(),
            factor: default_backoff_factor(),
            cap_secs: default_backoff_cap_secs(),
        }
    }
}

impl BackoffConfig {
    /// The visibility timeout for a message received `receive_count` times.
    pub fn visibility_for(&self, receive_count: u32) -> Duration {
        let exp = receive_count.saturating_sub(1).min(31);
        let secs =
            u64::from(self.base_secs).saturating_mul(u64::from(self.factor).saturating_pow(exp));
        let cap = u64::from(self.cap_secs.min(MAX_VISIBILITY_SECS));
        Duration::from_secs(secs.min(cap))
    }
}

impl SqsAdapterConfig {
    /// The deadline margin.
    pub fn deadline_margin(&self) -> Duration {
        Duration::from_millis(self.deadline_margin_ms)
    }

    /// Reads `SWITCHYARD_PARK_QUEUE_URL`, `SWITCHYARD_MAX_CONCURRENCY`,
    /// `SWITCHYARD_DEADLINE_MARGIN_MS`, `SWITCHYARD_BACKOFF_BASE_SECS`
    /// (enables backoff), `SWITCHYARD_BACKOFF_FACTOR`,
    /// `SWITCHYARD_BACKOFF_CAP_SECS`, `SWITCHYARD_BARE_PAYLOAD_TYPE`
    /// (`<type>:v<version>`, e.g. `order.placed:v2`) and
    /// `SWITCHYARD_BARE_PAYLOAD_SOURCE`.
    pub fn from_settings(env: &Settings) -> Result<Self, ConfigError> {
        let defaults = SqsAdapterConfig::default();
        let backoff = match env.parse::<u32>("SWITCHYARD_BACKOFF_BASE_SECS")? {
            None => None,
            Some(base_secs) => Some(BackoffConfig {
                base_secs,
                factor: env
                    .parse("SWITCHYARD_BACKOFF_FACTOR")?
                    .unwrap_or_else(default_backoff_factor),
                cap_secs: env
                    .parse("SWITCHYARD_BACKOFF_CAP_SECS")?
                    .unwrap_or_else(default_backoff_cap_secs),
            }),
        };
        let bare_payload = match env.optional("SWITCHYARD_BARE_PAYLOAD_TYPE") {
            None => None,
            Some(spec) => {
                let invalid = |reason: &str| {
                    ConfigError::invalid(
                        env.source_of("SWITCHYARD_BARE_PAYLOAD_TYPE"),
                        format!("{spec:?}: {reason}"),
                    )
                };
                let (event_type, version) = spec
                    .rsplit_once(":v")
                    .ok_or_else(|| invalid("expected <type>:v<version>, e.g. order.placed:v2"))?;
                let version = version
                    .parse()
                    .map_err(|_| invalid("the version is not a number"))?;
                Some(BarePayload {
                    event_type: event_type.to_owned(),
                    version,
                    source: env
                        .optional("SWITCHYARD_BARE_PAYLOAD_SOURCE")
                        .unwrap_or_else(|| "switchyard/bare-payload".to_owned()),
                })
            }
        };
        let max_concurrency: usize = env
            .parse("SWITCHYARD_MAX_CONCURRENCY")?
            .unwrap_or(defaults.max_concurrency);
        if max_concurrency == 0 {
            return Err(ConfigError::invalid(
                env.source_of("SWITCHYARD_MAX_CONCURRENCY"),
                "0: must be at least 1",
            ));
        }
        Ok(SqsAdapterConfig {
            park_queue_url: env.optional("SWITCHYARD_PARK_QUEUE_URL"),
            max_concurrency,
            deadline_margin_ms: env
                .parse("SWITCHYARD_DEADLINE_MARGIN_MS")?
                .unwrap_or(defaults.deadline_margin_ms),
            backoff,
            bare_payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let b = BackoffConfig {
            base_secs: 5,
            factor: 2,
            cap_secs: 60,
        };
        let secs: Vec<u64> = (1..=6).map(|n| b.visibility_for(n).as_secs()).collect();
        assert_eq!(secs, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(b.visibility_for(0).as_secs(), 5);
        assert_eq!(b.visibility_for(u32::MAX).as_secs(), 60);
    }

    #[test]
    fn env_errors_name_the_variable() {
        let env =
            Settings::from_fn(|k| (k == "SWITCHYARD_MAX_CONCURRENCY").then(|| "lots".to_owned()));
        let err = SqsAdapterConfig::from_settings(&env).unwrap_err();
        assert!(
            err.to_string().contains("SWITCHYARD_MAX_CONCURRENCY"),
            "{err}"
        );
        let env = Settings::from_fn(|k| {
            (k == "SWITCHYARD_BARE_PAYLOAD_TYPE").then(|| "order.placed".to_owned())
        });
        let err = SqsAdapterConfig::from_settings(&env).unwrap_err();
        assert!(
            err.to_string().contains("SWITCHYARD_BARE_PAYLOAD_TYPE"),
            "{err}"
        );
    }

    #[test]
    fn env_reads_every_setting() {
        let env = Settings::from_fn(|k| {
            Some(
                match k {
                    "SWITCHYARD_PARK_QUEUE_URL" => "http://q/park",
                    "SWITCHYARD_MAX_CONCURRENCY" => "4",
                    "SWITCHYARD_BACKOFF_BASE_SECS" => "3",
                    "SWITCHYARD_BARE_PAYLOAD_TYPE" => "order.placed:v2",
                    _ => return None,
                }
                .to_owned(),
            )
        });
        let c = SqsAdapterConfig::from_settings(&env).unwrap();
        assert_eq!(c.park_queue_url.as_deref(), Some("http://q/park"));
        assert_eq!(c.max_concurrency, 4);
        assert_eq!(c.backoff.map(|b| (b.base_secs, b.factor)), Some((3, 2)));
        assert_eq!(
            c.bare_payload.map(|b| (b.event_type, b.version)),
            Some(("order.placed".to_owned(), 2))
        );
    }
}
