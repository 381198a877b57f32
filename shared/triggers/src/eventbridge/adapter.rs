use std::sync::Arc;
use std::time::SystemTime;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;

use crate::eventbridge::config::EventBridgeAdapterConfig;
use crate::handler::Handler;
use crate::layers::Idempotency;
use crate::pipeline::message::text;
use crate::pipeline::{
    BarePayload, Delivery, Ordering, Outcome, Pipeline, PipelineSettings, Unreadable,
};
use crate::sqs::{SqsApi, SqsParkTarget};

/// The invocation must fail so EventBridge retries it (target retry
/// policy, then the target's DLQ).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event_id} must be retried: {reason}")]
pub struct EventBridgeRetry {
    /// The EventBridge event id.
    pub event_id: String,
    /// Why.
    pub reason: String,
}

/// One EventBridge invocation's payload: the event, or what is left of a
/// payload that `aws_lambda_events` cannot read as one.
#[derive(Debug, Clone)]
pub enum EventBridgeInput {
    /// Read as an EventBridge event.
    Read(Box<EventBridgeEvent>),
    /// Could not be read; parked with the reason.
    Unreadable(Unreadable),
}

impl From<EventBridgeEvent> for EventBridgeInput {
    fn from(event: EventBridgeEvent) -> Self {
        EventBridgeInput::Read(Box::new(event))
    }
}

#[derive(serde::Deserialize)]
struct Lenient {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    source: Option<serde_json::Value>,
}

impl EventBridgeInput {
    /// Reads an invocation payload; never fails: a payload that is not an
    /// EventBridge event is kept whole as the body of an [`Unreadable`].
    pub fn read(payload: &str) -> Self {
        let reason = match serde_json::from_str::<EventBridgeEvent>(payload) {
            Ok(event) => return event.into(),
            Err(e) => format!("the payload is not an EventBridge event: {e}"),
        };
        let lenient = serde_json::from_str::<Lenient>(payload).ok();
        let (id, source) = lenient.map_or((None, None), |l| (text(l.id), text(l.source)));
        EventBridgeInput::Unreadable(Unreadable {
            message_id: id,
            body: payload.to_owned(),
            source: source.unwrap_or_else(|| "eventbridge".to_owned()),
            group: None,
            attempt: 1,
            reason,
        })
    }
}

/// Runs a handler for one EventBridge event: success, duplicate or parked →
/// `Ok` (the invocation succeeds); transient → `Err` (the invocation fails
/// and EventBridge's retry policy applies).
pub struct EventBridgeAdapter<H: Handler> {
    pipeline: Pipeline<H>,
    config: EventBridgeAdapterConfig,
}

impl<H: Handler> EventBridgeAdapter<H> {
    /// An adapter for `handler`; `sqs` is used to park into
    /// `config.park_queue_url`.
    pub fn new(
        handler: H,
        function_name: &str,
        config: EventBridgeAdapterConfig,
        sqs: Option<Arc<dyn SqsApi>>,
    ) -> Self {
        let mut settings = PipelineSettings::new(function_name);
        settings.max_concurrency = 1;
        settings.deadline_margin = config.deadline_margin();
        let mut pipeline = Pipeline::new(handler, settings);
        if let (Some(api), Some(url)) = (sqs, &config.park_queue_url) {
            pipeline = pipeline.with_park_target(Arc::new(SqsParkTarget::new(api, url.clone())));
        }
        EventBridgeAdapter { pipeline, config }
    }

    /// Adjusts the pipeline: a publisher for returned events, the
    /// unsubscribed-event policy, ...
    #[must_use]
    pub fn with_pipeline(mut self, f: impl FnOnce(Pipeline<H>) -> Pipeline<H>) -> Self {
        self.pipeline = f(self.pipeline);
        self
    }

    /// Guards the handler with an idempotency store (one key per invocation).
    #[must_use]
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.pipeline = self.pipeline.with_idempotency(idempotency);
        self
    }

    /// Sets the upcasters' inputs.
    #[must_use]
    pub fn with_decode_options(mut self, options: switchyard_contracts::DecodeOptions) -> Self {
        self.pipeline = self.pipeline.with_decode_options(options);
        self
    }

    /// Handles one event; `deadline` is the invocation's deadline. A
    /// payload that is not an EventBridge event is parked with the reason
    /// (kind `unreadable_record`), or retried when it cannot be parked.
    pub async fn handle(
        &self,
        event: impl Into<EventBridgeInput>,
        deadline: SystemTime,
    ) -> Result<Outcome, EventBridgeRetry> {
        let (event_id, outcome) = match event.into() {
            EventBridgeInput::Read(event) => self.run(&event, deadline).await,
            EventBridgeInput::Unreadable(record) => (
                record
                    .message_id
                    .clone()
                    .unwrap_or_else(|| "(no id)".to_owned()),
                self.pipeline.park_unreadable(&record).await,
            ),
        };
        match outcome {
            Outcome::Retry { reason } | Outcome::NotStarted { reason } => {
                tracing::warn!(%event_id, %reason, "EventBridgeEventRetried");
                Err(EventBridgeRetry { event_id, reason })
            }
            done => Ok(done),
        }
    }

    /// Runs one readable event through the pipeline: its id and outcome.
    async fn run(&self, event: &EventBridgeEvent, deadline: SystemTime) -> (String, Outcome) {
        let event_id = event.id.clone().unwrap_or_else(|| "(no id)".to_owned());
        let body = match &self.config.partner {
            None => event.detail.to_string(),
            Some(partner) => wrap_partner_event(partner, event, &event_id),
        };
        let delivery = Delivery {
            message_id: event_id.clone(),
            body,
            attempt: 1,
            group: None,
            source: event.source.clone(),
        };
        let outcome = self
            .pipeline
            .run_batch(vec![delivery], deadline, Ordering::Concurrent)
            .await
            .pop()
            .unwrap_or(Outcome::Retry {
                reason: "no outcome".to_owned(),
            });
        (event_id, outcome)
    }
}

/// Wraps a partner's bare `detail` into an envelope of the configured
/// contract. Its id is the EventBridge event id, which EventBridge keeps
/// across retries, so the idempotency layer recognises a retried event.
fn wrap_partner_event(partner: &BarePayload, event: &EventBridgeEvent, event_id: &str) -> String {
    serde_json::json!({
        "specversion": switchyard_contracts::envelope::SPEC_VERSION,
        "id": event_id,
        "source": event.source,
        "type": partner.event_type,
        "time": event.time.unwrap_or_else(chrono::Utc::now),
        "datacontenttype": switchyard_contracts::envelope::DATA_CONTENT_TYPE,
        "dataschema": switchyard_contracts::envelope::schema_uri(&partner.event_type, partner.version),
        "dataversion": partner.version,
        "correlationid": event_id,
        "data": event.detail,
    })
    .to_string()
}
