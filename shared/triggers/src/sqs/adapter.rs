use std::sync::Arc;
use std::time::SystemTime;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};

use crate::handler::Handler;
use crate::layers::Idempotency;
use crate::pipeline::{Delivery, Ordering, Outcome, Pipeline, PipelineSettings};
use crate::sqs::config::SqsAdapterConfig;
use crate::sqs::park::SqsParkTarget;
use crate::sqs::records::{SqsBatch, SqsRecord, queue_name};
use crate::sqs::{SqsApi, VisibilityChange};

/// Turns an SQS batch into handler calls and the results into a
/// `SqsBatchResponse` for an event source mapping with
/// `ReportBatchItemFailures`: only messages that must be retried are listed;
/// handled, duplicate and parked messages are not (SQS deletes them).
pub struct SqsAdapter<H: Handler> {
    pipeline: Pipeline<H>,
    config: SqsAdapterConfig,
    sqs: Option<Arc<dyn SqsApi>>,
}

/// What the adapter did with one batch, for logs, metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReport {
    /// One (message id, outcome) per record, in order.
    pub outcomes: Vec<(String, Outcome)>,
}

impl<H: Handler> SqsAdapter<H> {
    /// An adapter for `handler`. `sqs` is used to park messages and to set
    /// backoff visibility timeouts; without it, neither happens.
    pub fn new(
        handler: H,
        function_name: &str,
        config: SqsAdapterConfig,
        sqs: Option<Arc<dyn SqsApi>>,
    ) -> Self {
        let mut settings = PipelineSettings::new(function_name);
        settings.max_concurrency = config.max_concurrency;
        settings.deadline_margin = config.deadline_margin();
        settings.bare_payload = config.bare_payload.clone();
        let mut pipeline = Pipeline::new(handler, settings);
        if let (Some(api), Some(url)) = (&sqs, &config.park_queue_url) {
            pipeline =
                pipeline.with_park_target(Arc::new(SqsParkTarget::new(api.clone(), url.clone())));
        }
        SqsAdapter {
            pipeline,
            config,
            sqs,
        }
    }

    /// Sets the upcasters' inputs.
    #[must_use]
    pub fn with_decode_options(mut self, options: switchyard_contracts::DecodeOptions) -> Self {
        self.pipeline = self.pipeline.with_decode_options(options);
        self
    }

    /// Adjusts the pipeline: a publisher for returned events, the
    /// unsubscribed-event policy, ...
    #[must_use]
    pub fn with_pipeline(mut self, f: impl FnOnce(Pipeline<H>) -> Pipeline<H>) -> Self {
        self.pipeline = f(self.pipeline);
        self
    }

    /// Guards the handler with an idempotency store.
    #[must_use]
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.pipeline = self.pipeline.with_idempotency(idempotency);
        self
    }

    /// Handles one batch; `deadline` is the invocation's deadline.
    pub async fn handle(
        &self,
        event: impl Into<SqsBatch>,
        deadline: SystemTime,
    ) -> SqsBatchResponse {
        self.handle_with_report(event, deadline).await.0
    }

    /// Like [`handle`](Self::handle), also returning what happened to each message.
    ///
    /// A record that could not be read is parked with the reason (kind
    /// `unreadable_record`) before the others run. When it cannot be parked
    /// it is reported failed; one that names no message id is reported with
    /// an empty identifier, which Lambda treats as a failure of the whole
    /// batch — redelivered, never dropped. In a FIFO batch the records after
    /// an unreadable one that could not be parked are not started.
    pub async fn handle_with_report(
        &self,
        event: impl Into<SqsBatch>,
        deadline: SystemTime,
    ) -> (SqsBatchResponse, BatchReport) {
        let batch: SqsBatch = event.into();
        let fifo = batch
            .records
            .iter()
            .find_map(|r| match r {
                SqsRecord::Read(m) => m.event_source_arn.as_deref(),
                SqsRecord::Unreadable(_) => None,
            })
            .is_some_and(|arn| arn.ends_with(".fifo"));
        let total = batch.records.len();
        let mut deliveries = Vec::with_capacity(total);
        let mut receipts = Vec::with_capacity(total);
        // Every record's (id, outcome) in batch order; `None` until it ran.
        let mut slots: Vec<(String, Option<Outcome>)> = Vec::with_capacity(total);
        let mut blocked: Option<String> = None;
        for record in batch.records {
            let mut record = match record {
                SqsRecord::Read(m) => m,
                SqsRecord::Unreadable(u) => {
                    let outcome = self.pipeline.park_unreadable(&u).await;
                    if fifo && outcome.needs_retry() && blocked.is_none() {
                        blocked = Some(u.message_id.clone().unwrap_or_default());
                    }
                    slots.push((u.message_id.unwrap_or_default(), Some(outcome)));
                    continue;
                }
            };
            let message_id = record.message_id.take().unwrap_or_default();
            if let Some(earlier) = &blocked {
                let reason = format!(
                    "an earlier record of this FIFO batch ({earlier}) could not be read or parked"
                );
                slots.push((message_id, Some(Outcome::NotStarted { reason })));
                continue;
            }
            let attempt = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            deliveries.push(Delivery {
                message_id: message_id.clone(),
                body: record.body.take().unwrap_or_default(),
                attempt,
                group: record.attributes.remove("MessageGroupId"),
                source: queue_name(record.event_source_arn.as_deref()),
            });
            receipts.push((record.receipt_handle, record.event_source_arn, attempt));
            slots.push((message_id, None));
        }
        let ordering = if fifo {
            Ordering::InOrderPerGroup
        } else {
            Ordering::Concurrent
        };
        let mut ran = self
            .pipeline
            .run_batch(deliveries, deadline, ordering)
            .await
            .into_iter()
            .zip(receipts);

        let mut response = SqsBatchResponse::default();
        let mut backoff: Vec<(String, VisibilityChange)> = Vec::new();
        let mut outcomes = Vec::with_capacity(total);
        for (id, settled) in slots {
            let (outcome, receipt) = match settled {
                Some(outcome) => (outcome, None),
                None => match ran.next() {
                    Some((outcome, receipt)) => (outcome, Some(receipt)),
                    None => (
                        Outcome::Retry {
                            reason: "no outcome".to_owned(),
                        },
                        None,
                    ),
                },
            };
            if outcome.needs_retry() {
                if id.is_empty() {
                    tracing::error!(
                        "a record without messageId could not be parked; failing the whole batch"
                    );
                }
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                response.batch_item_failures.push(failure);
                // FIFO queues keep the group blocked while a message is invisible,
                // so backoff applies to standard queues only.
                if let (Some(b), Some((Some(receipt), Some(arn), attempt)), false) =
                    (self.config.backoff, receipt, fifo)
                {
                    if matches!(outcome, Outcome::Retry { .. }) {
                        backoff.push((
                            arn,
                            VisibilityChange {
                                receipt_handle: receipt,
                                timeout: b.visibility_for(attempt),
                            },
                        ));
                    }
                }
            }
            outcomes.push((id, outcome));
        }
        if let (Some(api), false) = (&self.sqs, backoff.is_empty()) {
            let arn = backoff[0].0.clone();
            let changes = backoff.into_iter().map(|(_, c)| c).collect();
            if let Err(e) = api.change_visibility(&arn, changes).await {
                tracing::warn!(error = %e, "could not set backoff visibility; SQS retries at the queue's visibility timeout");
            }
        }
        let report = BatchReport { outcomes };
        tracing::info!(
            records = report.outcomes.len(),
            failures = response.batch_item_failures.len(),
            "SqsBatchHandled"
        );
        (response, report)
    }
}
