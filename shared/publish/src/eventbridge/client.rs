//! The small trait in front of the EventBridge SDK client, its real
//! implementation and a recording in-memory one.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_eventbridge::primitives::DateTime as SdkDateTime;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};

use crate::aws::call_error_from_sdk;
use crate::batch::{
    CallError, EntryFailure, EntryResult, RecordedCall, Recorder, ScriptedResponse,
};

use super::publisher::TIME_BYTES;

/// One `PutEvents` entry, as the publisher builds it (the bus name is per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventBridgeEntry {
    /// `Source`.
    pub source: String,
    /// `DetailType`.
    pub detail_type: String,
    /// `Detail`: a JSON object.
    pub detail: String,
    /// `Time`.
    pub time: Option<DateTime<Utc>>,
    /// `Resources`.
    pub resources: Vec<String>,
    /// `TraceHeader`.
    pub trace_header: Option<String>,
}

impl EventBridgeEntry {
    /// The entry size as EventBridge measures it — AWS, "Calculating Amazon
    /// EventBridge PutEvents event entry size" (EventBridge User Guide,
    /// `eb-putevent-size`): `Time` counts 14 bytes if specified; `Source`,
    /// `DetailType`, `Detail` and each `Resources` entry count the bytes of
    /// their UTF-8 encoding. `EventBusName` and `TraceHeader` do not count.
    pub fn size(&self) -> usize {
        let time = if self.time.is_some() { TIME_BYTES } else { 0 };
        time + self.source.len()
            + self.detail_type.len()
            + self.detail.len()
            + self.resources.iter().map(String::len).sum::<usize>()
    }

    fn to_sdk(&self, event_bus_name: &str) -> PutEventsRequestEntry {
        let mut entry = PutEventsRequestEntry::builder()
            .event_bus_name(event_bus_name)
            .source(&self.source)
            .detail_type(&self.detail_type)
            .detail(&self.detail)
            .set_trace_header(self.trace_header.clone());
        if let Some(time) = self.time {
            entry = entry.time(SdkDateTime::from_secs_and_nanos(
                time.timestamp(),
                time.timestamp_subsec_nanos(),
            ));
        }
        for resource in &self.resources {
            entry = entry.resources(resource);
        }
        entry.build()
    }
}

/// Whether an entry `ErrorCode` of a `PutEvents` response is worth retrying.
/// The SDK documents `InternalFailure` and `ThrottlingException` as
/// retryable and the codes below as not; unknown codes are retried (bounded
/// by the policy).
pub fn is_retryable_entry_code(code: &str) -> bool {
    !matches!(
        code,
        "AccessDeniedException"
            | "InvalidAccountIdException"
            | "InvalidArgument"
            | "MalformedDetail"
            | "RedactionFailure"
            | "NotAuthorizedForSourceException"
            | "NotAuthorizedForDetailTypeException"
    )
}

/// `PutEvents`, and only what the publisher needs of it.
#[async_trait]
pub trait PutEventsApi: Send + Sync {
    /// One `PutEvents` call on `event_bus_name`: one result per entry, in
    /// request order (the service answers by position).
    async fn put_events(
        &self,
        event_bus_name: &str,
        entries: Vec<EventBridgeEntry>,
    ) -> Result<Vec<EntryResult>, CallError>;
}

#[async_trait]
impl PutEventsApi for aws_sdk_eventbridge::Client {
    async fn put_events(
        &self,
        event_bus_name: &str,
        entries: Vec<EventBridgeEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        let sdk_entries = entries.iter().map(|e| e.to_sdk(event_bus_name)).collect();
        let output = self
            .put_events()
            .set_entries(Some(sdk_entries))
            .send()
            .await
            .map_err(|err| call_error_from_sdk(&err))?;
        Ok(output
            .entries()
            .iter()
            .map(|result| match result.error_code() {
                None => Ok(result.event_id().map(str::to_owned)),
                Some(code) => Err(EntryFailure {
                    code: code.to_owned(),
                    message: result.error_message().unwrap_or_default().to_owned(),
                    retryable: is_retryable_entry_code(code),
                }),
            })
            .collect())
    }
}

#[async_trait]
impl<T: PutEventsApi + ?Sized> PutEventsApi for Arc<T> {
    async fn put_events(
        &self,
        event_bus_name: &str,
        entries: Vec<EventBridgeEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        (**self).put_events(event_bus_name, entries).await
    }
}

/// A `PutEvents` that records every call and answers from a script
/// (default: every entry succeeds, with ids `eb-1`, `eb-2`, ...). Clones
/// share one record.
#[derive(Debug, Clone)]
pub struct InMemoryPutEvents {
    recorder: Arc<Recorder<EventBridgeEntry>>,
}

impl Default for InMemoryPutEvents {
    fn default() -> Self {
        InMemoryPutEvents {
            recorder: Arc::new(Recorder::new()),
        }
    }
}

impl InMemoryPutEvents {
    /// A client whose calls all succeed until scripted otherwise.
    pub fn new() -> Self {
        InMemoryPutEvents::default()
    }

    /// Queues the answer to the next unscripted call.
    pub fn script(&self, response: ScriptedResponse) {
        self.recorder.script(response);
    }

    /// The next call reports `FailedEntryCount > 0`: the entries at
    /// `indices` fail with `code` (retryable as [`is_retryable_entry_code`] says).
    pub fn fail_entries(&self, indices: &[usize], code: &str) {
        self.script(ScriptedResponse::FailEntries {
            indices: indices.to_vec(),
            failure: EntryFailure {
                code: code.to_owned(),
                message: format!("scripted {code}"),
                retryable: is_retryable_entry_code(code),
            },
        });
    }

    /// Every call received, in order.
    pub fn calls(&self) -> Vec<RecordedCall<EventBridgeEntry>> {
        self.recorder.calls()
    }

    /// The number of entries of each call, in order.
    pub fn call_sizes(&self) -> Vec<usize> {
        self.recorder.call_sizes()
    }

    /// Forgets the calls and the script.
    pub fn clear(&self) {
        self.recorder.clear();
    }
}

#[async_trait]
impl PutEventsApi for InMemoryPutEvents {
    async fn put_events(
        &self,
        event_bus_name: &str,
        entries: Vec<EventBridgeEntry>,
    ) -> Result<Vec<EntryResult>, CallError> {
        self.recorder.respond(event_bus_name, entries, "eb")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_follows_the_documented_formula() {
        let entry = EventBridgeEntry {
            source: "src".into(),
            detail_type: "order.placed".into(),
            detail: r#"{"é":1}"#.into(),
            time: Some(Utc::now()),
            resources: vec!["arn:a".into(), "arn:bc".into()],
            trace_header: Some("not counted".into()),
        };
        // 14 (Time) + 3 + 12 + 8 (é is 2 bytes in UTF-8) + 5 + 6
        assert_eq!(entry.size(), 14 + 3 + 12 + 8 + 5 + 6);
        let untimed = EventBridgeEntry {
            time: None,
            ..entry
        };
        assert_eq!(untimed.size(), 3 + 12 + 8 + 5 + 6);
    }

    #[test]
    fn permanent_codes_are_not_retried() {
        assert!(is_retryable_entry_code("ThrottlingException"));
        assert!(is_retryable_entry_code("InternalFailure"));
        assert!(!is_retryable_entry_code("MalformedDetail"));
        assert!(!is_retryable_entry_code("InvalidArgument"));
    }
}
