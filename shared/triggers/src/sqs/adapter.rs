use std::sync::Arc;
use std::time::SystemTime;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::handler::Handler;
use crate::layers::Idempotency;
use crate::pipeline::{Delivery, Ordering, Outcome, Pipeline, PipelineSettings};
use crate::sqs::config::SqsAdapterConfig;
use crate::sqs::park::SqsParkTarget;
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
    pub async fn handle(&self, event: SqsEvent, deadline: SystemTime) -> SqsBatchResponse {
        self.handle_with_report(event, deadline).await.0
    }

    /// Like [`handle`](Self::handle), also returning what happened to each message.
    pub async fn handle_with_report(
        &self,
        event: SqsEvent,
        deadline: SystemTime,
    ) -> (SqsBatchResponse, BatchReport) {
        let fifo = event
            .records
            .first()
            .and_then(|r| r.event_source_arn.as_deref())
            .is_some_and(|arn| arn.ends_with(".fifo"));
        let mut deliveries = Vec::with_capacity(event.records.len());
        let mut receipts = Vec::with_capacity(event.records.len());
        for mut record in event.records {
            let Some(message_id) = record.message_id.take() else {
                // Without an id a message cannot be reported; Lambda always sends one.
                tracing::error!("SQS record without messageId; cannot report it");
                continue;
            };
            let attempt = record
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let source = record
                .event_source_arn
                .as_deref()
                .and_then(|arn| arn.rsplit(':').next())
                .unwrap_or("sqs")
                .to_owned();
            deliveries.push(Delivery {
                message_id,
                body: record.body.take().unwrap_or_default(),
                attempt,
                group: record.attributes.remove("MessageGroupId"),
                source,
            });
            receipts.push((record.receipt_handle, record.event_source_arn, attempt));
        }
        let ids: Vec<String> = deliveries.iter().map(|d| d.message_id.clone()).collect();
        let ordering = if fifo {
            Ordering::InOrderPerGroup
        } else {
            Ordering::Concurrent
        };
        let outcomes = self
            .pipeline
            .run_batch(deliveries, deadline, ordering)
            .await;

        let mut response = SqsBatchResponse::default();
        let mut backoff: Vec<(String, VisibilityChange)> = Vec::new();
        for ((id, outcome), (receipt, arn, attempt)) in ids.iter().zip(&outcomes).zip(receipts) {
            if !outcome.needs_retry() {
                continue;
            }
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.clone();
            response.batch_item_failures.push(failure);
            // FIFO queues keep the group blocked while a message is invisible,
            // so backoff applies to standard queues only.
            if let (Some(b), Some(receipt), Some(arn), false) =
                (self.config.backoff, receipt, arn, fifo)
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
        if let (Some(api), false) = (&self.sqs, backoff.is_empty()) {
            let arn = backoff[0].0.clone();
            let changes = backoff.into_iter().map(|(_, c)| c).collect();
            if let Err(e) = api.change_visibility(&arn, changes).await {
                tracing::warn!(error = %e, "could not set backoff visibility; SQS retries at the queue's visibility timeout");
            }
        }
        let report = BatchReport {
            outcomes: ids.into_iter().zip(outcomes).collect(),
        };
        tracing::info!(
            records = report.outcomes.len(),
            failures = response.batch_item_failures.len(),
            "SqsBatchHandled"
        );
        (response, report)
    }
}
