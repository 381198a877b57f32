//! The retry policy: exponential backoff with full jitter, bounded in
//! attempts and in total time.
//!
//! The delay before retry `n` (1-based) is drawn uniformly from
//! `[0, min(max_delay_ms, base_delay_ms * 2^(n-1))]` ("full jitter", as in the
//! AWS Architecture Blog's *Exponential Backoff And Jitter*). A retry is not
//! started when the attempts are used up or when sleeping would pass
//! `max_retry_time_ms` since the first send.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use switchyard_config::{ConfigError, Settings};

/// How a publisher retries failed entries and failed calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Sends of one entry at most, the first included (`PUBLISH_MAX_ATTEMPTS`).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The backoff before the first retry is drawn from `[0, base_delay_ms]` (`PUBLISH_BASE_DELAY_MS`).
    #[serde(default = "default_base_delay_ms")]
    pub base_delay_ms: u64,
    /// No single backoff is drawn from a range wider than this (`PUBLISH_MAX_DELAY_MS`).
    #[serde(default = "default_max_delay_ms")]
    pub max_delay_ms: u64,
    /// No retry starts after this much time since the first send (`PUBLISH_MAX_RETRY_TIME_MS`).
    #[serde(default = "default_max_retry_time_ms")]
    pub max_retry_time_ms: u64,
}

fn default_max_attempts() -> u32 {
    4
}

fn default_base_delay_ms() -> u64 {
    100
}

fn default_max_delay_ms() -> u64 {
    2_000
}

fn default_max_retry_time_ms() -> u64 {
    5_000
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: default_max_attempts(),
            base_delay_ms: default_base_delay_ms(),
            max_delay_ms: default_max_delay_ms(),
            max_retry_time_ms: default_max_retry_time_ms(),
        }
    }
}

impl RetryConfig {
    /// The defaults overridden by whichever of `PUBLISH_MAX_ATTEMPTS`,
    /// `PUBLISH_BASE_DELAY_MS`, `PUBLISH_MAX_DELAY_MS`,
    /// `PUBLISH_MAX_RETRY_TIME_MS` `settings` holds.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the variable that is not a number.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let d = RetryConfig::default();
        Ok(RetryConfig {
            max_attempts: settings
                .parse("PUBLISH_MAX_ATTEMPTS")?
                .unwrap_or(d.max_attempts),
            base_delay_ms: settings
                .parse("PUBLISH_BASE_DELAY_MS")?
                .unwrap_or(d.base_delay_ms),
            max_delay_ms: settings
                .parse("PUBLISH_MAX_DELAY_MS")?
                .unwrap_or(d.max_delay_ms),
            max_retry_time_ms: settings
                .parse("PUBLISH_MAX_RETRY_TIME_MS")?
                .unwrap_or(d.max_retry_time_ms),
        })
    }

    /// The upper bound of the backoff before retry `retry` (1-based).
    pub fn backoff_cap(&self, retry: u32) -> Duration {
        let exp = retry.saturating_sub(1).min(32);
        let ms = self
            .base_delay_ms
            .saturating_mul(1u64 << exp)
            .min(self.max_delay_ms);
        Duration::from_millis(ms)
    }

    /// The backoff before retry `retry` (1-based): full jitter over
    /// [`RetryConfig::backoff_cap`].
    pub fn backoff(&self, retry: u32) -> Duration {
        let cap = self.backoff_cap(retry).as_millis();
        let cap = u64::try_from(cap).unwrap_or(u64::MAX);
        Duration::from_millis(fastrand::u64(0..=cap))
    }

    /// The total time budget for retries.
    pub fn max_retry_time(&self) -> Duration {
        Duration::from_millis(self.max_retry_time_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_full_jitter() {
        let policy = RetryConfig::default();
        assert_eq!(policy.backoff_cap(1), Duration::from_millis(100));
        assert_eq!(policy.backoff_cap(2), Duration::from_millis(200));
        assert_eq!(policy.backoff_cap(3), Duration::from_millis(400));
        assert_eq!(policy.backoff_cap(10), Duration::from_millis(2_000));
        assert_eq!(policy.backoff_cap(u32::MAX), Duration::from_millis(2_000));
        for _ in 0..200 {
            assert!(policy.backoff(3) <= Duration::from_millis(400));
        }
    }

    #[test]
    fn env_overrides_defaults() {
        let lookup = |var: &str| (var == "PUBLISH_MAX_ATTEMPTS").then(|| "7".to_owned());
        let config = RetryConfig::from_settings(&Settings::from_fn(lookup)).unwrap();
        assert_eq!(config.max_attempts, 7);
        assert_eq!(config.max_retry_time_ms, 5_000);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<RetryConfig>(r#"{"max_atempts": 3}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
