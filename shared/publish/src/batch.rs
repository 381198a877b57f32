//! Shared by every batching target: packing entries into calls, the retry
//! loop over partial failures, the result types the client traits speak, and
//! the recording test double behind each target's in-memory client.

use std::collections::VecDeque;
#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
use std::future::Future;
#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
use tokio::time::Instant;

// The packing and retry engine below serves the real publishers only.
#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
use crate::error::PublishError;
#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
use crate::publisher::{OutgoingEvent, PublishOutcome};
#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
use crate::retry::RetryConfig;

/// What a target said about one entry of a call: the id it gave the entry
/// (if any), or why it refused it.
pub type EntryResult = Result<Option<String>, EntryFailure>;

/// One entry of a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFailure {
    /// The target's error code, e.g. `ThrottlingException`.
    pub code: String,
    /// The target's error message.
    pub message: String,
    /// Whether sending the entry again may succeed.
    pub retryable: bool,
}

impl EntryFailure {
    /// A failure worth retrying (throttling, internal error).
    pub fn retryable(code: impl Into<String>, message: impl Into<String>) -> Self {
        EntryFailure {
            code: code.into(),
            message: message.into(),
            retryable: true,
        }
    }

    /// A failure that will not go away by retrying (malformed entry, access denied).
    pub fn permanent(code: impl Into<String>, message: impl Into<String>) -> Self {
        EntryFailure {
            code: code.into(),
            message: message.into(),
            retryable: false,
        }
    }
}

/// A whole call failed (transport, throttling of the call, unknown target).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct CallError {
    /// A bounded code: the service's error code, or `DispatchFailure`,
    /// `Timeout`, `ResponseError`, `ConstructionFailure`.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// Whether the same call may succeed later.
    pub retryable: bool,
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
impl CallError {
    fn as_failure(&self) -> EntryFailure {
        EntryFailure {
            code: self.code.clone(),
            message: self.message.clone(),
            retryable: self.retryable,
        }
    }
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
/// The count and size limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BatchLimits {
    /// Entries per call at most.
    pub(crate) max_entries: usize,
    /// Bytes of one entry at most (inclusive), as the target measures them.
    pub(crate) max_entry_bytes: usize,
    /// Bytes of all entries of one call at most (inclusive).
    pub(crate) max_batch_bytes: usize,
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
/// Splits entries of the given sizes, in order, into consecutive calls:
/// greedy next-fit, a call is closed only when the next entry would break
/// the count or byte limit. Every size must be at most `max_entry_bytes`.
pub(crate) fn pack(sizes: &[usize], limits: BatchLimits) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut bytes = 0usize;
    for (i, &size) in sizes.iter().enumerate() {
        let count = i - start;
        if count > 0 && (count == limits.max_entries || bytes + size > limits.max_batch_bytes) {
            ranges.push(start..i);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < sizes.len() {
        ranges.push(start..sizes.len());
    }
    ranges
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
/// One event made into a target entry, waiting to be sent.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<E> {
    /// Position of the event in the `publish` call.
    pub(crate) index: usize,
    /// The target entry.
    pub(crate) entry: E,
    /// Its size as the target measures it.
    pub(crate) size: usize,
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
/// The events of one `publish` call, made into entries; events that cannot
/// be sent already have their (failed) outcome.
pub(crate) struct Plan<E> {
    event_ids: Vec<String>,
    outcomes: Vec<Option<PublishOutcome>>,
    pending: Vec<Prepared<E>>,
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
/// Builds each event's entry with `build` (which returns the entry and its
/// size); events that cannot be serialized or are over `max_entry_bytes`
/// get a failed outcome (`SerializeFailed`, `EntryTooLarge`) and are never sent.
pub(crate) fn plan<E>(
    events: &[OutgoingEvent],
    max_entry_bytes: usize,
    mut build: impl FnMut(&OutgoingEvent) -> Result<(E, usize), PublishError>,
) -> Plan<E> {
    let mut plan = Plan {
        event_ids: Vec::with_capacity(events.len()),
        outcomes: Vec::with_capacity(events.len()),
        pending: Vec::with_capacity(events.len()),
    };
    for (index, event) in events.iter().enumerate() {
        plan.event_ids.push(event.id.clone());
        let outcome = match build(event) {
            Ok((_, size)) if size > max_entry_bytes => {
                let err = PublishError::TooLarge {
                    event_id: event.id.clone(),
                    size,
                    limit: max_entry_bytes,
                };
                tracing::warn!(event_id = %event.id, size, limit = max_entry_bytes, "PublishEventTooLarge");
                Some(PublishOutcome::failed(&event.id, &err))
            }
            Ok((entry, size)) => {
                plan.pending.push(Prepared { index, entry, size });
                None
            }
            Err(err) => {
                tracing::warn!(event_id = %event.id, error = %err, "PublishEventSerializeError");
                Some(PublishOutcome::failed(&event.id, &err))
            }
        };
        plan.outcomes.push(outcome);
    }
    plan
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
/// Sends a [`Plan`]: packs the pending entries into calls, then resends only
/// the entries a call refused with a retryable failure (and the entries of
/// calls that failed as a whole, when retryable), packed anew, after a
/// backoff — until none is left, the attempts are used up or the time budget
/// is spent. Entries still failing come back as [`PublishOutcome::Failed`]
/// with the target's last code and message.
///
/// # Errors
/// [`PublishError::Transport`] when not a single call succeeded (the target
/// is down): the caller must know nothing was published.
pub(crate) async fn deliver<E, F, Fut>(
    target: &str,
    plan: Plan<E>,
    limits: BatchLimits,
    retry: &RetryConfig,
    mut send: F,
) -> Result<Vec<PublishOutcome>, PublishError>
where
    E: Clone,
    F: FnMut(Vec<E>) -> Fut,
    Fut: Future<Output = Result<Vec<EntryResult>, CallError>>,
{
    let Plan {
        event_ids,
        mut outcomes,
        mut pending,
    } = plan;
    let started = Instant::now();
    let mut attempt: u32 = 1;
    let mut any_call_succeeded = false;
    let mut last_call_error: Option<CallError> = None;

    while !pending.is_empty() {
        let sizes: Vec<usize> = pending.iter().map(|p| p.size).collect();
        let ranges = pack(&sizes, limits);
        let mut entries = pending.into_iter();
        let mut failed: Vec<(Prepared<E>, EntryFailure)> = Vec::new();

        for range in ranges {
            let batch: Vec<Prepared<E>> = entries.by_ref().take(range.len()).collect();
            let request = batch.iter().map(|p| p.entry.clone()).collect();
            match send(request).await {
                Ok(results) => {
                    any_call_succeeded = true;
                    for (i, prepared) in batch.into_iter().enumerate() {
                        match results.get(i) {
                            Some(Ok(provider_id)) => {
                                outcomes[prepared.index] = Some(PublishOutcome::Published {
                                    event_id: event_ids[prepared.index].clone(),
                                    provider_id: provider_id.clone(),
                                });
                            }
                            Some(Err(failure)) => failed.push((prepared, failure.clone())),
                            None => failed.push((
                                prepared,
                                EntryFailure::retryable(
                                    "MissingResult",
                                    format!("{target} returned no result for this entry"),
                                ),
                            )),
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(target_name = target, code = %err.code, error = %err.message, entries = batch.len(), attempt, "PublishCallError");
                    let failure = err.as_failure();
                    failed.extend(batch.into_iter().map(|p| (p, failure.clone())));
                    last_call_error = Some(err);
                }
            }
        }

        let (retry_now, permanent): (Vec<_>, Vec<_>) =
            failed.into_iter().partition(|(_, f)| f.retryable);
        for (prepared, failure) in permanent {
            outcomes[prepared.index] = Some(failed_outcome(&event_ids[prepared.index], failure));
        }
        if retry_now.is_empty() {
            break;
        }
        let delay = retry.backoff(attempt);
        if attempt >= retry.max_attempts || started.elapsed() + delay > retry.max_retry_time() {
            tracing::warn!(
                target_name = target,
                entries = retry_now.len(),
                attempt,
                "PublishEntriesFailed"
            );
            for (prepared, failure) in retry_now {
                outcomes[prepared.index] =
                    Some(failed_outcome(&event_ids[prepared.index], failure));
            }
            break;
        }
        tracing::debug!(
            target_name = target,
            entries = retry_now.len(),
            attempt,
            delay_ms = delay.as_millis() as u64,
            "PublishEntriesRetrying"
        );
        tokio::time::sleep(delay).await;
        attempt += 1;
        pending = retry_now.into_iter().map(|(p, _)| p).collect();
    }

    if let (false, Some(err)) = (any_call_succeeded, last_call_error) {
        return Err(PublishError::Transport {
            target: target.to_owned(),
            code: err.code,
            message: err.message,
        });
    }
    Ok(outcomes
        .into_iter()
        .zip(event_ids)
        .map(|(outcome, event_id)| {
            outcome.unwrap_or_else(|| PublishOutcome::Failed {
                event_id,
                code: "NotSent".to_owned(),
                message: "the event was never sent (internal error)".to_owned(),
            })
        })
        .collect())
}

#[cfg(any(feature = "eventbridge", feature = "sqs", feature = "servicebus"))]
fn failed_outcome(event_id: &str, failure: EntryFailure) -> PublishOutcome {
    PublishOutcome::Failed {
        event_id: event_id.to_owned(),
        code: failure.code,
        message: failure.message,
    }
}

/// One call a recording test client received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall<E> {
    /// The bus name or queue URL the call went to.
    pub target: String,
    /// The entries of the call, in order.
    pub entries: Vec<E>,
}

/// What a recording test client answers to its next call (calls without a
/// script succeed for every entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptedResponse {
    /// The entries at these positions of the call fail with `failure`; the
    /// others succeed (EventBridge's `FailedEntryCount > 0`, SQS's `Failed` list).
    FailEntries {
        /// Positions in the call, 0-based.
        indices: Vec<usize>,
        /// How they fail.
        failure: EntryFailure,
    },
    /// The whole call fails.
    FailCall(CallError),
}

/// The state of a recording test client, shared by the EventBridge and SQS doubles.
#[derive(Debug)]
pub(crate) struct Recorder<E> {
    state: Mutex<RecorderState<E>>,
}

#[derive(Debug)]
struct RecorderState<E> {
    calls: Vec<RecordedCall<E>>,
    script: VecDeque<ScriptedResponse>,
    next_id: u64,
}

impl<E: Clone> Recorder<E> {
    pub(crate) fn new() -> Self {
        Recorder {
            state: Mutex::new(RecorderState {
                calls: Vec::new(),
                script: VecDeque::new(),
                next_id: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RecorderState<E>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn script(&self, response: ScriptedResponse) {
        self.lock().script.push_back(response);
    }

    pub(crate) fn calls(&self) -> Vec<RecordedCall<E>> {
        self.lock().calls.clone()
    }

    pub(crate) fn call_sizes(&self) -> Vec<usize> {
        self.lock().calls.iter().map(|c| c.entries.len()).collect()
    }

    pub(crate) fn clear(&self) {
        let mut state = self.lock();
        state.calls.clear();
        state.script.clear();
    }

    /// Records the call and answers it from the script.
    pub(crate) fn respond(
        &self,
        target: &str,
        entries: Vec<E>,
        id_prefix: &str,
    ) -> Result<Vec<EntryResult>, CallError> {
        let mut state = self.lock();
        let count = entries.len();
        state.calls.push(RecordedCall {
            target: target.to_owned(),
            entries,
        });
        let scripted = state.script.pop_front();
        let (failing, failure) = match scripted {
            Some(ScriptedResponse::FailCall(err)) => return Err(err),
            Some(ScriptedResponse::FailEntries { indices, failure }) => (indices, Some(failure)),
            None => (Vec::new(), None),
        };
        let mut results = Vec::with_capacity(count);
        for i in 0..count {
            match &failure {
                Some(f) if failing.contains(&i) => results.push(Err(f.clone())),
                _ => {
                    state.next_id += 1;
                    results.push(Ok(Some(format!("{id_prefix}-{}", state.next_id))));
                }
            }
        }
        Ok(results)
    }
}

#[cfg(all(
    test,
    any(feature = "eventbridge", feature = "sqs", feature = "servicebus")
))]
mod tests {
    use super::*;

    const LIMITS: BatchLimits = BatchLimits {
        max_entries: 10,
        max_entry_bytes: 100,
        max_batch_bytes: 100,
    };

    fn lens(ranges: &[Range<usize>]) -> Vec<usize> {
        ranges.iter().map(|r| r.len()).collect()
    }

    #[test]
    fn packs_by_count() {
        for (n, expected) in [
            (0, vec![]),
            (1, vec![1]),
            (10, vec![10]),
            (11, vec![10, 1]),
            (25, vec![10, 10, 5]),
        ] {
            assert_eq!(lens(&pack(&vec![1; n], LIMITS)), expected, "{n} entries");
        }
    }

    #[test]
    fn packs_by_bytes_in_order() {
        assert_eq!(lens(&pack(&[40, 40, 40], LIMITS)), vec![2, 1]);
        assert_eq!(lens(&pack(&[100, 1, 99, 1], LIMITS)), vec![1, 2, 1]);
        assert_eq!(lens(&pack(&[50, 50, 50, 50], LIMITS)), vec![2, 2]);
        assert_eq!(pack(&[60, 60], LIMITS), vec![0..1, 1..2]);
    }
}
