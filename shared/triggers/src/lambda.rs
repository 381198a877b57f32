//! Lambda-specific glue shared by every Lambda function's `main.rs`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use crate::eventbridge::EventBridgeInput;
use crate::sqs::SqsBatch;

/// What one invocation of a message function carries, by its payload.
#[derive(Debug, Clone)]
pub enum Invocation {
    /// An SQS batch (`Records`), read record by record.
    Sqs(SqsBatch),
    /// One EventBridge event (`detail-type`).
    EventBridge(EventBridgeInput),
}

/// The only fields read before the payload's trigger is known.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "Records", default, borrow)]
    records: Option<Vec<&'a RawValue>>,
    #[serde(rename = "detail-type", default)]
    detail_type: Option<IgnoredAny>,
}

impl Invocation {
    /// Reads an invocation payload. One record that cannot be read does not
    /// fail the batch: it becomes an unreadable record, parked with its
    /// reason, and the others are processed.
    ///
    /// # Errors
    /// The payload is not a JSON object, its `Records` is not an array, or
    /// it is neither an SQS batch nor an EventBridge event.
    pub fn read(payload: &str) -> Result<Self, String> {
        let probe: Probe<'_> = serde_json::from_str(payload).map_err(|e| {
            format!(
                "the payload is neither an SQS batch (Records: [...]) nor an EventBridge event: {e}"
            )
        })?;
        if let Some(records) = probe.records {
            return Ok(Invocation::Sqs(SqsBatch::read(&records)));
        }
        if probe.detail_type.is_some() {
            return Ok(Invocation::EventBridge(EventBridgeInput::read(payload)));
        }
        Err(
            "the payload is neither an SQS batch (Records) nor an EventBridge event (detail-type)"
                .to_owned(),
        )
    }
}

/// Values of `Lambda-Runtime-Deadline-Ms` below this cannot be epoch
/// timestamps (it is 2001-09-09); Lambda always sends one above it.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The invocation deadline from the Runtime API's `Lambda-Runtime-Deadline-Ms`
/// (`lambda_runtime::Context::deadline`).
///
/// AWS Lambda sends the deadline as milliseconds since the Unix epoch.
/// `cargo lambda watch` sends the function timeout as a duration instead
/// (the constant `600000`), which read as an epoch would be 1970 and make
/// every message look out of time; a value too small to be an epoch
/// timestamp is therefore read as a timeout from now.
pub fn invocation_deadline(deadline_ms: u64) -> SystemTime {
    if deadline_ms >= EPOCH_MS_FLOOR {
        UNIX_EPOCH + Duration::from_millis(deadline_ms)
    } else {
        SystemTime::now() + Duration::from_millis(deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_names_its_trigger() {
        let sqs =
            Invocation::read(r#"{"Records":[{"messageId":"a","body":"{}"},{"messageId":5}]}"#);
        let Ok(Invocation::Sqs(batch)) = sqs else {
            panic!("an SQS batch: {sqs:?}");
        };
        assert_eq!(batch.records.len(), 2);
        let eb = Invocation::read(r#"{"detail-type":"x","time":"not a time","id":"e1"}"#);
        assert!(matches!(
            eb,
            Ok(Invocation::EventBridge(EventBridgeInput::Unreadable(u))) if u.message_id.as_deref() == Some("e1")
        ));
        for bad in ["[]", r#"{"Records":{}}"#, r#"{"hello":1}"#, "not json"] {
            assert!(Invocation::read(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epoch_deadlines_are_absolute() {
        let d = invocation_deadline(1_763_629_140_000);
        assert_eq!(
            d.duration_since(UNIX_EPOCH).unwrap().as_millis(),
            1_763_629_140_000
        );
    }

    #[test]
    fn small_values_are_timeouts_from_now() {
        let d = invocation_deadline(600_000);
        let left = d.duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(599) && left <= Duration::from_secs(600));
    }
}
