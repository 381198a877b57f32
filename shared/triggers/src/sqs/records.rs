//! An SQS batch read record by record: a record `aws_lambda_events` cannot
//! read (a binary message attribute that is not base64, a field of the
//! wrong type) becomes an [`Unreadable`] that the adapter parks with the
//! reason; the other records of the batch are processed as usual.

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::pipeline::Unreadable;
use crate::pipeline::message::text;

/// One record of a batch.
#[derive(Debug, Clone)]
pub enum SqsRecord {
    /// Read as an SQS message.
    Read(Box<SqsMessage>),
    /// Could not be read; parked with the reason.
    Unreadable(Unreadable),
}

/// The records of one SQS batch, in order.
#[derive(Debug, Clone, Default)]
pub struct SqsBatch {
    /// One entry per record of the invocation payload.
    pub records: Vec<SqsRecord>,
}

impl From<SqsEvent> for SqsBatch {
    fn from(event: SqsEvent) -> Self {
        SqsBatch {
            records: event.records.into_iter().map(SqsRecord::from).collect(),
        }
    }
}

impl From<SqsMessage> for SqsRecord {
    /// A message that names no id cannot be reported, so it is unreadable.
    fn from(mut message: SqsMessage) -> Self {
        if message.message_id.is_some() {
            return SqsRecord::Read(Box::new(message));
        }
        SqsRecord::Unreadable(Unreadable {
            message_id: None,
            body: message.body.take().unwrap_or_default(),
            source: queue_name(message.event_source_arn.as_deref()),
            group: message.attributes.remove("MessageGroupId"),
            attempt: 1,
            reason: "the record has no messageId".to_owned(),
        })
    }
}

/// What can still be read of a record that is not an SQS message: every
/// field optional and untyped, so this never fails on an object.
#[derive(Deserialize)]
struct Lenient<'a> {
    #[serde(rename = "messageId", default)]
    message_id: Option<serde_json::Value>,
    #[serde(default)]
    body: Option<serde_json::Value>,
    #[serde(rename = "eventSourceARN", default)]
    event_source_arn: Option<serde_json::Value>,
    #[serde(default, borrow)]
    attributes: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
struct LenientAttributes {
    #[serde(rename = "MessageGroupId", default)]
    group: Option<String>,
    #[serde(rename = "ApproximateReceiveCount", default)]
    receive_count: Option<String>,
}

impl SqsBatch {
    /// Reads each record of an invocation's `Records` on its own.
    pub fn read(records: &[&RawValue]) -> Self {
        SqsBatch {
            records: records.iter().map(|raw| read_record(raw)).collect(),
        }
    }
}

/// The queue name at the end of an `eventSourceARN`, else `sqs`.
pub(crate) fn queue_name(arn: Option<&str>) -> String {
    arn.and_then(|arn| arn.rsplit(':').next())
        .unwrap_or("sqs")
        .to_owned()
}

fn read_record(raw: &RawValue) -> SqsRecord {
    let reason = match serde_json::from_str::<SqsMessage>(raw.get()) {
        Ok(message) => return SqsRecord::from(message),
        Err(e) => format!("the record is not an SQS message: {e}"),
    };
    let lenient = serde_json::from_str::<Lenient<'_>>(raw.get()).ok();
    let (message_id, body, arn, attributes) = match lenient {
        Some(l) => (
            text(l.message_id),
            text(l.body),
            text(l.event_source_arn),
            l.attributes
                .and_then(|a| serde_json::from_str::<LenientAttributes>(a.get()).ok())
                .unwrap_or_default(),
        ),
        None => (None, None, None, LenientAttributes::default()),
    };
    SqsRecord::Unreadable(Unreadable {
        message_id,
        // Without a readable body the whole record is kept, so nothing is lost.
        body: body.unwrap_or_else(|| raw.get().to_owned()),
        source: queue_name(arn.as_deref()),
        group: attributes.group,
        attempt: attributes
            .receive_count
            .and_then(|c| c.parse().ok())
            .unwrap_or(1),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<RawValue> {
        RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn a_bad_binary_attribute_spoils_only_its_record() {
        let good = raw(
            r#"{"messageId":"m1","body":"{}","attributes":{"ApproximateReceiveCount":"1"},
                "eventSourceARN":"arn:aws:sqs:us-east-1:1:orders"}"#,
        );
        let bad = raw(r#"{"messageId":"m2","body":"{\"x\":1}",
                "attributes":{"ApproximateReceiveCount":"3","MessageGroupId":"g"},
                "messageAttributes":{"blob":{"dataType":"Binary","binaryValue":"not base64!"}},
                "eventSourceARN":"arn:aws:sqs:us-east-1:1:orders"}"#);
        let batch = SqsBatch::read(&[good.as_ref(), bad.as_ref()]);
        assert!(
            matches!(&batch.records[0], SqsRecord::Read(m) if m.message_id.as_deref() == Some("m1"))
        );
        let SqsRecord::Unreadable(u) = &batch.records[1] else {
            panic!("the second record must be unreadable");
        };
        assert_eq!(u.message_id.as_deref(), Some("m2"));
        assert_eq!(u.body, r#"{"x":1}"#);
        assert_eq!(u.source, "orders");
        assert_eq!(u.group.as_deref(), Some("g"));
        assert_eq!(u.attempt, 3);
        assert!(u.reason.contains("not an SQS message"), "{}", u.reason);
    }

    #[test]
    fn a_record_without_id_or_body_is_kept_whole() {
        let odd = raw(r#"{"body":17}"#);
        let batch = SqsBatch::read(&[odd.as_ref()]);
        let SqsRecord::Unreadable(u) = &batch.records[0] else {
            panic!("unreadable");
        };
        assert_eq!(u.message_id, None);
        assert_eq!(u.body, r#"{"body":17}"#);
        assert_eq!(u.source, "sqs");
        let not_object = raw("42");
        let batch = SqsBatch::read(&[not_object.as_ref()]);
        assert!(matches!(&batch.records[0], SqsRecord::Unreadable(u) if u.body == "42"));
    }
}
