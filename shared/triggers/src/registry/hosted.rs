//! A built function behind its triggers: one handler, one adapter per
//! trigger the platform runs, every adapter configured by the same code.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::SqsBatchResponse;
use switchyard_contracts::DecodeOptions;
use switchyard_idempotency::IdempotencyConfig;

use crate::config::{ConfigError, Settings};
use crate::eventbridge::{
    EventBridgeAdapter, EventBridgeAdapterConfig, EventBridgeInput, EventBridgeRetry,
};
use crate::handler::Handler;
use crate::layers::{DEFAULT_ORDERING_KEEP, Idempotency, OrderingGuard};
use crate::pipeline::{Outcome, Pipeline};
use crate::registry::function::{Function, Platform, Trigger};
use crate::servicebus::{
    InvocationRequest, ServiceBusAdapter, ServiceBusAdapterConfig, ServiceBusInvocation,
};
use crate::sqs::{BatchReport, SqsAdapter, SqsAdapterConfig, SqsBatch};

/// The function was asked to run a trigger it was not built for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("function {function} has no {trigger} trigger on this platform")]
pub struct NotHosted {
    /// The function.
    pub function: &'static str,
    /// The trigger asked for.
    pub trigger: &'static str,
}

/// A message function, built: it answers each trigger's payload with that
/// trigger's acknowledgement.
#[async_trait::async_trait]
pub trait MessageApp: Send + Sync {
    /// An SQS batch → its `batchItemFailures` (and what happened to each).
    /// An `SqsEvent` converts with `.into()`.
    async fn sqs(
        &self,
        event: SqsBatch,
        deadline: SystemTime,
    ) -> Result<(SqsBatchResponse, BatchReport), NotHosted>;

    /// One EventBridge event → `Ok` (done) or the retry error. An
    /// `EventBridgeEvent` converts with `.into()`.
    async fn eventbridge(
        &self,
        event: EventBridgeInput,
        deadline: SystemTime,
    ) -> Result<Result<Outcome, EventBridgeRetry>, NotHosted>;

    /// One custom-handler request of a Service Bus trigger → the answer
    /// for the Functions host (its deadline from `SWITCHYARD_INVOCATION_TIMEOUT_MS`).
    async fn servicebus(
        &self,
        request: &InvocationRequest,
    ) -> Result<ServiceBusInvocation, NotHosted>;
}

/// An HTTP function, built: one request, one response.
#[async_trait::async_trait]
pub trait HttpApp: Send + Sync {
    /// Answers one request.
    async fn call(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>>;
}

pub(crate) struct Hosted<H: Handler> {
    name: &'static str,
    sqs: Option<SqsAdapter<Arc<H>>>,
    eventbridge: Option<EventBridgeAdapter<Arc<H>>>,
    servicebus: Option<ServiceBusAdapter<Arc<H>>>,
}

/// The lifetime of `function`'s idempotency records on `settings`:
/// `SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS` (scoped), else the function's default.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the variable.
pub fn idempotency_expiry(
    function: &Function,
    settings: &Settings,
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_secs(settings.parse_or(
        "SWITCHYARD_IDEMPOTENCY_EXPIRY_SECS",
        function.idempotency_expiry.as_secs(),
    )?))
}

/// The upcasters' inputs every function reads (`SWITCHYARD_ORDER_V1_CURRENCY`).
///
/// # Errors
/// [`ConfigError::Invalid`] naming the variable.
pub fn decode_options(settings: &Settings) -> Result<DecodeOptions, ConfigError> {
    Ok(DecodeOptions {
        order_placed_v1_currency: settings.parse("SWITCHYARD_ORDER_V1_CURRENCY")?,
    })
}

/// The function's ordering guard, when it declares one
/// ([`Function::ordered`]): its positions live in the idempotency store for
/// `SWITCHYARD_ORDERING_KEEP_SECS` (default 14 days).
///
/// # Errors
/// A rule for a type the function does not consume, no idempotency store,
/// or a malformed setting.
pub(crate) fn ordering_guard(
    f: &Function,
    p: &Platform,
) -> Result<Option<OrderingGuard>, ConfigError> {
    if f.ordered.is_empty() {
        return Ok(None);
    }
    if let Some(rule) = f
        .ordered
        .iter()
        .find(|r| !f.consumes.contains(&r.event_type))
    {
        return Err(ConfigError::unavailable(
            f.name,
            format!(
                "its ordering guard names {}, which it does not consume",
                rule.event_type
            ),
        ));
    }
    let Some(store) = p.store.clone() else {
        return Err(ConfigError::missing(
            p.settings.describe("SWITCHYARD_IDEMPOTENCY"),
            format!(
                "{}'s ordering guard keeps positions in the idempotency store",
                f.name
            ),
        ));
    };
    Ok(Some(OrderingGuard {
        rules: f.ordered,
        store,
        prefix: f.name.to_owned(),
        keep_for: Duration::from_secs(p.settings.parse_or(
            "SWITCHYARD_ORDERING_KEEP_SECS",
            DEFAULT_ORDERING_KEEP.as_secs(),
        )?),
    }))
}

impl<H: Handler> Hosted<H> {
    pub(crate) fn new(handler: Arc<H>, f: &Function, p: &Platform) -> Result<Self, ConfigError> {
        let s = &p.settings;
        let decode = decode_options(s)?;
        let idempotency = p.store.as_ref().map(|store| Idempotency {
            config: IdempotencyConfig::for_function(f.name),
            store: store.clone(),
        });
        let ordering = ordering_guard(f, p)?;
        let tune = |pipeline: Pipeline<Arc<H>>| {
            let mut pipeline = pipeline
                .with_publisher(p.publisher.clone())
                .with_unsubscribed(f.unsubscribed)
                .with_decode_options(decode.clone());
            if let Some(i) = &idempotency {
                pipeline = pipeline.with_idempotency(i.clone());
            }
            match &ordering {
                Some(guard) => pipeline.with_ordering(guard.clone()),
                None => pipeline,
            }
        };
        let wants = |t: Trigger| f.has(t) && p.triggers.contains(&t);
        let sqs = if wants(Trigger::Sqs) {
            Some(
                SqsAdapter::new(
                    handler.clone(),
                    f.name,
                    SqsAdapterConfig::from_settings(s)?,
                    p.sqs.clone(),
                )
                .with_pipeline(tune),
            )
        } else {
            None
        };
        let eventbridge = if wants(Trigger::EventBridge) {
            Some(
                EventBridgeAdapter::new(
                    handler.clone(),
                    f.name,
                    EventBridgeAdapterConfig::from_settings(s)?,
                    p.sqs.clone(),
                )
                .with_pipeline(tune),
            )
        } else {
            None
        };
        let servicebus = if wants(Trigger::ServiceBus) {
            Some(
                ServiceBusAdapter::new(
                    handler,
                    f.name,
                    ServiceBusAdapterConfig::from_settings(s)?,
                    p.servicebus.clone(),
                )
                .with_pipeline(tune),
            )
        } else {
            None
        };
        Ok(Hosted {
            name: f.name,
            sqs,
            eventbridge,
            servicebus,
        })
    }

    fn not_hosted(&self, trigger: Trigger) -> NotHosted {
        NotHosted {
            function: self.name,
            trigger: trigger.name(),
        }
    }
}

#[async_trait::async_trait]
impl<H: Handler> MessageApp for Hosted<H> {
    async fn sqs(
        &self,
        event: SqsBatch,
        deadline: SystemTime,
    ) -> Result<(SqsBatchResponse, BatchReport), NotHosted> {
        match &self.sqs {
            Some(a) => Ok(a.handle_with_report(event, deadline).await),
            None => Err(self.not_hosted(Trigger::Sqs)),
        }
    }

    async fn eventbridge(
        &self,
        event: EventBridgeInput,
        deadline: SystemTime,
    ) -> Result<Result<Outcome, EventBridgeRetry>, NotHosted> {
        match &self.eventbridge {
            Some(a) => Ok(a.handle(event, deadline).await),
            None => Err(self.not_hosted(Trigger::EventBridge)),
        }
    }

    async fn servicebus(
        &self,
        request: &InvocationRequest,
    ) -> Result<ServiceBusInvocation, NotHosted> {
        match &self.servicebus {
            Some(a) => Ok(a.handle(request, a.deadline_from_now()).await),
            None => Err(self.not_hosted(Trigger::ServiceBus)),
        }
    }
}
