//! The local event source mappings: an SQS-like poller per queue a
//! function consumes, and an EventBridge-target poller per rule target,
//! each invoking the registered function through its trigger.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use switchyard_triggers::Outcome;
use switchyard_triggers::registry::MessageApp;
use tokio::sync::watch;

use crate::queue::{LocalQueues, Received};
use crate::sqs::local_arn;
use crate::stack::StackHandle;

/// Waits for new messages, a visibility timeout to end, or shutdown.
/// Returns false on shutdown.
async fn idle(queues: &LocalQueues, queue: &str, shutdown: &mut watch::Receiver<bool>) -> bool {
    let wait = queues
        .next_visible_in(queue)
        .unwrap_or(Duration::from_millis(500))
        .min(Duration::from_millis(500));
    tokio::select! {
        _ = queues.changed() => true,
        _ = tokio::time::sleep(wait) => true,
        _ = shutdown.wait_for(|stop| *stop) => false,
    }
}

fn sqs_event(queue: &str, received: &[Received]) -> SqsEvent {
    let mut event = SqsEvent::default();
    for r in received {
        let mut m = SqsMessage::default();
        m.message_id = Some(r.message.id.clone());
        m.receipt_handle = Some(r.receipt_handle.clone());
        m.body = Some(r.message.body.clone());
        m.attributes.insert(
            "ApproximateReceiveCount".to_owned(),
            r.message.receive_count.to_string(),
        );
        m.attributes
            .insert("SentTimestamp".to_owned(), r.message.sent_at_ms.to_string());
        m.event_source = Some("aws:sqs".to_owned());
        m.event_source_arn = Some(local_arn(queue));
        m.aws_region = Some("local".to_owned());
        event.records.push(m);
    }
    event
}

/// Polls `queue` like Lambda's event source mapping: receive up to
/// `batch_size`, invoke, delete what was not reported failed.
pub(crate) async fn sqs_poller(
    handle: StackHandle,
    function: String,
    queue: String,
    batch_size: usize,
    timeout: Duration,
    app: Arc<dyn MessageApp>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = match handle.queues.receive(&queue, batch_size.max(1)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(%queue, error = %e, "receive failed");
                Vec::new()
            }
        };
        if received.is_empty() {
            if !idle(&handle.queues, &queue, &mut shutdown).await {
                return;
            }
            continue;
        }
        let (response, report) = match app
            .sqs(
                sqs_event(&queue, &received).into(),
                SystemTime::now() + timeout,
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                // a wiring error: leave the messages for their redrive policy
                tracing::error!(%queue, error = %e, "FunctionNotHosted");
                return;
            }
        };
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        for r in &received {
            if !failed.contains(&r.message.id.as_str()) {
                if let Err(e) = handle.queues.delete(&r.receipt_handle) {
                    tracing::warn!(%queue, error = %e, "delete failed");
                }
            }
        }
        let outcomes: Vec<Outcome> = report.outcomes.into_iter().map(|(_, o)| o).collect();
        handle.stats.record(&function, &outcomes);
    }
}

/// Delivers a rule's target queue to the function one event at a time, as
/// EventBridge invokes a target: success deletes, failure backs off and
/// the queue's redrive policy plays the target DLQ.
pub(crate) async fn event_poller(
    handle: StackHandle,
    function: String,
    queue: String,
    timeout: Duration,
    app: Arc<dyn MessageApp>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        let received = handle.queues.receive(&queue, 1).unwrap_or_default();
        let Some(r) = received.into_iter().next() else {
            if !idle(&handle.queues, &queue, &mut shutdown).await {
                return;
            }
            continue;
        };
        let outcome = match serde_json::from_str::<EventBridgeEvent>(&r.message.body) {
            Ok(event) => match app
                .eventbridge(event.into(), SystemTime::now() + timeout)
                .await
            {
                Ok(outcome) => outcome,
                Err(e) => {
                    tracing::error!(%queue, error = %e, "FunctionNotHosted");
                    return;
                }
            },
            Err(e) => {
                tracing::error!(%queue, error = %e, "not an EventBridge event; dropped from the target queue");
                Ok(Outcome::Parked {
                    kind: "invalid_event".to_owned(),
                })
            }
        };
        match &outcome {
            Ok(_) => {
                let _ = handle.queues.delete(&r.receipt_handle);
            }
            Err(e) => {
                // EventBridge's retry policy: back off, then the target DLQ via the queue's redrive
                tracing::warn!(%queue, reason = %e.reason, attempt = r.message.receive_count, "EventBridge target failed; retrying");
                let _ = handle.queues.change_visibility(
                    &r.receipt_handle,
                    Duration::from_secs(u64::from(r.message.receive_count)),
                );
            }
        }
        let o = match outcome {
            Ok(o) => o,
            Err(e) => Outcome::Retry { reason: e.reason },
        };
        handle.stats.record(&function, &[o]);
    }
}
