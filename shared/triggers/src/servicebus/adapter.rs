use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;
use switchyard_publish::servicebus::ServiceBusSendApi;
use tracing::Instrument;

use crate::handler::Handler;
use crate::layers::Idempotency;
use crate::park::ParkTarget;
use crate::pipeline::{Delivery, Ordering, Outcome, Pipeline, PipelineSettings};
use crate::servicebus::config::ServiceBusAdapterConfig;
use crate::servicebus::park::ServiceBusParkTarget;
use crate::servicebus::request::{InvocationRequest, InvocationResponse, service_bus_message};

/// What the adapter answers the Functions host for one message.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceBusInvocation {
    /// The HTTP status: 200 (the host completes the message) or non-2xx
    /// (the host abandons it; Service Bus redelivers it until
    /// `maxDeliveryCount`, then dead-letters it).
    pub status: u16,
    /// The custom-handler response body.
    pub response: InvocationResponse,
    /// What happened, when the request could be read.
    pub outcome: Option<Outcome>,
}

impl ServiceBusInvocation {
    /// True when the host will complete the message.
    pub fn completes(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Runs a handler for one Service Bus message delivered by the Functions
/// host to a custom handler: success and duplicates → 200; permanent
/// failures and undecodable messages → parked in the park queue, then 200
/// (or non-2xx if parking fails, so nothing is dropped); transient failures
/// → 500 (the host abandons the message).
pub struct ServiceBusAdapter<H: Handler> {
    pipeline: Pipeline<H>,
    config: ServiceBusAdapterConfig,
}

impl<H: Handler> ServiceBusAdapter<H> {
    /// An adapter for `handler`; `sender` parks into `config.park_queue`.
    pub fn new(
        handler: H,
        function_name: &str,
        config: ServiceBusAdapterConfig,
        sender: Option<Arc<dyn ServiceBusSendApi>>,
    ) -> Self {
        let park = match (sender, &config.park_queue) {
            (Some(api), Some(queue)) => {
                Some(Arc::new(ServiceBusParkTarget::new(api, queue.clone())) as Arc<dyn ParkTarget>)
            }
            _ => None,
        };
        Self::with_park_target(handler, function_name, config, park)
    }

    /// An adapter with any park target (or none).
    pub fn with_park_target(
        handler: H,
        function_name: &str,
        config: ServiceBusAdapterConfig,
        park: Option<Arc<dyn ParkTarget>>,
    ) -> Self {
        let mut settings = PipelineSettings::new(function_name);
        settings.max_concurrency = 1;
        settings.deadline_margin = config.deadline_margin();
        let mut pipeline = Pipeline::new(handler, settings);
        if let Some(park) = park {
            pipeline = pipeline.with_park_target(park);
        }
        ServiceBusAdapter { pipeline, config }
    }

    /// Adjusts the pipeline: a publisher for returned events, the
    /// unsubscribed-event policy, ...
    #[must_use]
    pub fn with_pipeline(mut self, f: impl FnOnce(Pipeline<H>) -> Pipeline<H>) -> Self {
        self.pipeline = f(self.pipeline);
        self
    }

    /// Guards the handler with an idempotency store (keyed on the envelope id).
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

    /// The settings.
    pub fn config(&self) -> &ServiceBusAdapterConfig {
        &self.config
    }

    /// The deadline of an invocation starting now.
    pub fn deadline_from_now(&self) -> SystemTime {
        SystemTime::now() + self.config.invocation_timeout()
    }

    /// Handles one custom-handler request.
    pub async fn handle(
        &self,
        request: &InvocationRequest,
        deadline: SystemTime,
    ) -> ServiceBusInvocation {
        let function = self.pipeline.settings().function_name.clone();
        let message = match service_bus_message(
            request,
            &self.config.binding,
            self.config.binary_body,
        ) {
            Ok(m) => m,
            Err(e) => {
                // Nothing to park: without the body the message cannot be
                // redriven. Abandon; maxDeliveryCount dead-letters it.
                tracing::error!(function = %function, error = %e, "ServiceBusRequestUnreadable");
                return ServiceBusInvocation {
                    status: 400,
                    response: InvocationResponse {
                        logs: vec![format!("{function}: unreadable invocation request: {e}")],
                        ..InvocationResponse::default()
                    },
                    outcome: None,
                };
            }
        };
        let message_id = message
            .message_id
            .clone()
            .unwrap_or_else(|| "(no MessageId)".to_owned());
        let span = tracing::info_span!(
            "servicebus_invocation",
            function = %function,
            message_id = %message_id,
            delivery_count = message.delivery_count,
            correlation_id = tracing::field::Empty,
            label = tracing::field::Empty,
        );
        if let Some(c) = message.correlation() {
            span.record("correlation_id", c.as_str());
        }
        if let Some(l) = &message.label {
            span.record("label", l.as_str());
        }
        let delivery = Delivery {
            message_id: message_id.clone(),
            body: message.body,
            attempt: message.delivery_count.max(1),
            group: None,
            source: self.config.source.clone(),
        };
        let outcome = self
            .pipeline
            .run_batch(vec![delivery], deadline, Ordering::Concurrent)
            .instrument(span.clone())
            .await
            .pop()
            .unwrap_or(Outcome::Retry {
                reason: "no outcome".to_owned(),
            });
        let _entered = span.enter();
        let (status, log) = match &outcome {
            Outcome::Handled => (200, format!("{function}: message {message_id} handled")),
            Outcome::Duplicate => (
                200,
                format!(
                    "{function}: message {message_id} is a duplicate; acknowledged without running"
                ),
            ),
            Outcome::Ignored { event_type } => (
                200,
                format!(
                    "{function}: message {message_id} ({event_type}) is not consumed here; ignored"
                ),
            ),
            Outcome::Parked { kind } => (
                200,
                format!("{function}: message {message_id} parked ({kind})"),
            ),
            Outcome::Stale {
                entity,
                position,
                newest,
            } => (
                200,
                format!(
                    "{function}: message {message_id} is stale for {entity} (position {position} < {newest}); acknowledged without running"
                ),
            ),
            Outcome::Retry { reason } | Outcome::NotStarted { reason } => {
                tracing::warn!(%reason, "ServiceBusMessageAbandoned");
                (
                    500,
                    format!("{function}: message {message_id} must be retried: {reason}"),
                )
            }
        };
        ServiceBusInvocation {
            status,
            response: InvocationResponse {
                outputs: serde_json::Map::new(),
                logs: vec![log],
                return_value: Value::Null,
            },
            outcome: Some(outcome),
        }
    }
}
