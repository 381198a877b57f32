//! SQS publisher configuration.

use serde::{Deserialize, Serialize};

use crate::publisher::OutgoingEvent;
use crate::retry::RetryConfig;
use switchyard_config::{ConfigError, Settings};

/// Which envelope attribute becomes the `MessageGroupId` of a FIFO queue
/// (messages of one group are delivered in order, one at a time).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum GroupBy {
    /// The envelope `subject` (the order, the customer), falling back to
    /// `type` when there is none.
    #[default]
    Subject,
    /// The envelope `type`.
    Type,
    /// One group for everything: strict order, no parallelism.
    Fixed(String),
    /// The envelope `correlationid`: one group per business flow.
    CorrelationId,
}

impl GroupBy {
    /// The group id of `event`.
    pub fn group_id(&self, event: &OutgoingEvent) -> String {
        match self {
            GroupBy::Subject => event
                .subject
                .clone()
                .unwrap_or_else(|| event.event_type.clone()),
            GroupBy::Type => event.event_type.clone(),
            GroupBy::Fixed(group) => group.clone(),
            GroupBy::CorrelationId => event.correlationid.clone(),
        }
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    /// `subject`, `type`, `correlation_id` or `fixed:<group id>`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "subject" => Ok(GroupBy::Subject),
            "type" => Ok(GroupBy::Type),
            "correlation_id" => Ok(GroupBy::CorrelationId),
            _ => match s.strip_prefix("fixed:") {
                Some(group) if !group.is_empty() => Ok(GroupBy::Fixed(group.to_owned())),
                _ => Err("expected subject, type, correlation_id or fixed:<group id>".to_owned()),
            },
        }
    }
}

/// Where and how [`SqsPublisher`](super::SqsPublisher) sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsConfig {
    /// The queue URL (`SQS_QUEUE_URL`); a URL ending in `.fifo` is a FIFO queue.
    pub queue_url: String,
    /// The `MessageGroupId` of FIFO messages (`SQS_GROUP_BY`: `subject`,
    /// `type`, `correlation_id`, `fixed:<id>`); ignored for standard queues.
    #[serde(default)]
    pub group_by: GroupBy,
    /// Bytes of one message, and of one batch in total, at most
    /// (`SQS_MAX_BATCH_BYTES`): body plus each attribute's name, type and
    /// value. Default 262,144 (256 KiB); queues created with a larger
    /// `MaximumMessageSize` (up to 1 MiB) may raise it.
    #[serde(default = "default_max_batch_bytes")]
    pub max_batch_bytes: usize,
    /// How failed messages and failed calls are retried.
    #[serde(default)]
    pub retry: RetryConfig,
}

fn default_max_batch_bytes() -> usize {
    256 * 1024
}

impl SqsConfig {
    /// Sends to `queue_url` with the defaults.
    pub fn new(queue_url: impl Into<String>) -> Self {
        SqsConfig {
            queue_url: queue_url.into(),
            group_by: GroupBy::default(),
            max_batch_bytes: default_max_batch_bytes(),
            retry: RetryConfig::default(),
        }
    }

    /// Whether the queue is a FIFO queue (its URL ends in `.fifo`).
    pub fn is_fifo(&self) -> bool {
        self.queue_url.ends_with(".fifo")
    }

    /// Reads `SQS_QUEUE_URL` (required), `SQS_GROUP_BY`,
    /// `SQS_MAX_BATCH_BYTES` and the `PUBLISH_*` retry variables (see
    /// [`RetryConfig::from_settings`]) from `settings`.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    ///
    /// # Errors
    /// [`ConfigError`] naming the variable that is missing or invalid.
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        Ok(SqsConfig {
            queue_url: settings.required("SQS_QUEUE_URL", "the URL of the queue to send to")?,
            group_by: settings.parse("SQS_GROUP_BY")?.unwrap_or_default(),
            max_batch_bytes: settings
                .parse("SQS_MAX_BATCH_BYTES")?
                .unwrap_or_else(default_max_batch_bytes),
            retry: RetryConfig::from_settings(settings)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_queue_names_the_variable() {
        let err = SqsConfig::from_settings(&Settings::from_fn(|_| None)).unwrap_err();
        assert!(err.to_string().contains("SQS_QUEUE_URL"), "{err}");
    }

    #[test]
    fn reads_group_by() {
        let lookup = |var: &str| match var {
            "SQS_QUEUE_URL" => Some("http://localhost/123/q.fifo".to_owned()),
            "SQS_GROUP_BY" => Some("fixed:all".to_owned()),
            _ => None,
        };
        let config = SqsConfig::from_settings(&Settings::from_fn(lookup)).unwrap();
        assert!(config.is_fifo());
        assert_eq!(config.group_by, GroupBy::Fixed("all".into()));
        assert_eq!(config.max_batch_bytes, 262_144);

        let bad = |var: &str| match var {
            "SQS_QUEUE_URL" => Some("q".to_owned()),
            "SQS_GROUP_BY" => Some("subjekt".to_owned()),
            _ => None,
        };
        let err = SqsConfig::from_settings(&Settings::from_fn(bad)).unwrap_err();
        assert!(err.to_string().contains("SQS_GROUP_BY"), "{err}");
    }

    #[test]
    fn deserializes() {
        let config: SqsConfig = serde_json::from_str(
            r#"{"queue_url": "q", "group_by": {"fixed": "g"}, "retry": {"max_attempts": 2}}"#,
        )
        .unwrap();
        assert_eq!(config.group_by, GroupBy::Fixed("g".into()));
        assert_eq!(config.retry.max_attempts, 2);
        let config: SqsConfig =
            serde_json::from_str(r#"{"queue_url": "q", "group_by": "correlation_id"}"#).unwrap();
        assert_eq!(config.group_by, GroupBy::CorrelationId);
        assert!(serde_json::from_str::<SqsConfig>(r#"{"queue_url": "q", "url": "q"}"#).is_err());
    }
}
