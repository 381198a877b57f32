//! The trigger-independent part of every adapter: decode, claim the batch's
//! idempotency keys in one call, run the handler inside its layers (span,
//! cause, panic catch, deadline), park or retry, settle the claims.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use switchyard_contracts::{DecodeError, DecodeOptions, Envelope, decode, decode_data};
use switchyard_publish::{PublishOutcome, Publisher};
use tracing::Instrument;

use crate::handler::{Context, Handled, Handler, HandlerError};
use crate::layers::{Claim, Idempotency, Settlement, catch_panic, cause_of, span_for};
use crate::park::{ParkTarget, ParkedMessage, bounded_reason};

/// For producers that cannot wrap: message bodies are bare payloads of
/// this type and version, wrapped into an envelope on receipt.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BarePayload {
    /// The contract type, e.g. `order.placed`.
    pub event_type: String,
    /// The contract version.
    pub version: u32,
    /// The `source` given to the wrapped envelope.
    pub source: String,
}

/// What a function does with an event whose type it does not consume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unsubscribed {
    /// Acknowledge it without running the handler; counted as ignored.
    /// For functions on a shared bus or topic that see more than they need.
    Ignore,
    /// Park it with kind `not_subscribed` (the default: a queue that
    /// receives what its function does not handle is a wiring error, and
    /// parking loses nothing).
    #[default]
    Park,
}

/// Settings shared by every adapter.
#[derive(Debug, Clone)]
pub struct PipelineSettings {
    /// The function's stable name.
    pub function_name: Arc<str>,
    /// Upcaster inputs.
    pub decode: DecodeOptions,
    /// Accept bare payloads of this type instead of envelopes.
    pub bare_payload: Option<BarePayload>,
    /// How many messages run at once.
    pub max_concurrency: usize,
    /// Start no message when less than this is left before the deadline.
    pub deadline_margin: Duration,
    /// What happens to events outside the handler's set.
    pub unsubscribed: Unsubscribed,
}

impl PipelineSettings {
    /// Defaults for a function: concurrency 10, margin 2 s, envelopes only.
    pub fn new(function_name: impl Into<Arc<str>>) -> Self {
        PipelineSettings {
            function_name: function_name.into(),
            decode: DecodeOptions::default(),
            bare_payload: None,
            max_concurrency: 10,
            deadline_margin: Duration::from_secs(2),
            unsubscribed: Unsubscribed::Park,
        }
    }
}

/// One message as the trigger delivered it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The trigger's message id.
    pub message_id: String,
    /// The raw body.
    pub body: String,
    /// Delivery attempt, from 1.
    pub attempt: u32,
    /// FIFO message group.
    pub group: Option<String>,
    /// Where it came from (queue or bus name).
    pub source: String,
}

/// What happened to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The handler ran and succeeded.
    Handled,
    /// A completed duplicate: acknowledged without running.
    Duplicate,
    /// Not a type the function consumes, and its policy is to ignore it:
    /// acknowledged without running.
    Ignored {
        /// The event type.
        event_type: String,
    },
    /// Parked with its reason.
    Parked {
        /// The bounded error kind.
        kind: String,
    },
    /// Must be retried (report failed / abandon / fail the invocation).
    Retry {
        /// Why.
        reason: String,
    },
    /// Not started: the deadline was near, or an earlier message of its FIFO group failed.
    NotStarted {
        /// Why.
        reason: String,
    },
}

impl Outcome {
    /// True when the trigger must redeliver the message.
    pub fn needs_retry(&self) -> bool {
        matches!(self, Outcome::Retry { .. } | Outcome::NotStarted { .. })
    }
}

/// How a batch is scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Any order, up to `max_concurrency` at once (standard queues).
    Concurrent,
    /// Strictly in order within a message group; after the first failure
    /// in a group the rest of it is not started; groups run concurrently.
    InOrderPerGroup,
}

/// The pipeline for one function.
pub struct Pipeline<H: Handler> {
    handler: Arc<H>,
    settings: PipelineSettings,
    idempotency: Option<Idempotency>,
    park: Option<Arc<dyn ParkTarget>>,
    publisher: Option<Arc<dyn Publisher>>,
}

/// One FIFO group's messages with their positions in the batch.
type Group<E> = Vec<(usize, Item<E>)>;

struct Item<E> {
    delivery: Delivery,
    decoded: Result<Envelope<E>, DecodeError>,
    claim: Claim,
}

enum Ran {
    Outcome(Outcome),
    Completed(Outcome, String, String),
    Release(Outcome, String),
}

impl<H: Handler> Pipeline<H> {
    /// A pipeline around `handler`.
    pub fn new(handler: H, settings: PipelineSettings) -> Self {
        Pipeline {
            handler: Arc::new(handler),
            settings,
            idempotency: None,
            park: None,
            publisher: None,
        }
    }

    /// Publishes the events handlers return in [`Handled::publish`] there.
    #[must_use]
    pub fn with_publisher(mut self, publisher: Arc<dyn Publisher>) -> Self {
        self.publisher = Some(publisher);
        self
    }

    /// Sets the policy for events outside the handler's set.
    #[must_use]
    pub fn with_unsubscribed(mut self, policy: Unsubscribed) -> Self {
        self.settings.unsubscribed = policy;
        self
    }

    /// Guards the handler with an idempotency store.
    #[must_use]
    pub fn with_idempotency(mut self, idempotency: Idempotency) -> Self {
        self.idempotency = Some(idempotency);
        self
    }

    /// Parks permanent failures there. Without a park target, permanent
    /// failures are retried, so the trigger's own dead-lettering takes them.
    #[must_use]
    pub fn with_park_target(mut self, park: Arc<dyn ParkTarget>) -> Self {
        self.park = Some(park);
        self
    }

    /// Sets the upcasters' inputs.
    #[must_use]
    pub fn with_decode_options(mut self, options: DecodeOptions) -> Self {
        self.settings.decode = options;
        self
    }

    /// The settings.
    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// Decodes a body as an envelope, or as a bare payload when configured.
    pub fn decode(&self, body: &str) -> Result<Envelope<H::Event>, DecodeError> {
        match &self.settings.bare_payload {
            None => {
                // An EventBridge rule's SQS target without `InputPath: $.detail`
                // delivers the whole EventBridge event; its `detail` is the envelope.
                if body.contains("\"detail-type\"") {
                    if let Ok(serde_json::Value::Object(mut event)) = serde_json::from_str(body) {
                        if event.contains_key("detail-type") {
                            if let Some(detail) = event.remove("detail") {
                                return switchyard_contracts::decode_value(
                                    detail,
                                    &self.settings.decode,
                                );
                            }
                        }
                    }
                }
                decode(body.as_bytes(), &self.settings.decode)
            }
            Some(bare) => {
                let value: serde_json::Value =
                    serde_json::from_str(body).map_err(|e| DecodeError::InvalidPayload {
                        event_type: bare.event_type.clone(),
                        version: bare.version,
                        path: "data".to_owned(),
                        message: e.to_string(),
                    })?;
                let data: H::Event =
                    decode_data(&bare.event_type, bare.version, value, &self.settings.decode)?;
                // Deterministic id: redeliveries and resends of the same
                // payload share it, so the idempotency layer dedupes them.
                let digest =
                    Sha256::digest(format!("{}\n{}\n{body}", bare.event_type, bare.version));
                let id: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
                Ok(Envelope::new(bare.source.clone(), data).with_id(format!("bare-{id}")))
            }
        }
    }

    /// Runs a batch; one outcome per delivery, in order.
    pub async fn run_batch(
        &self,
        deliveries: Vec<Delivery>,
        deadline: SystemTime,
        ordering: Ordering,
    ) -> Vec<Outcome> {
        let decoded: Vec<_> = deliveries.iter().map(|d| self.decode(&d.body)).collect();
        let refs: Vec<Option<&Envelope<H::Event>>> =
            decoded.iter().map(|d| d.as_ref().ok()).collect();
        let claims = crate::layers::claim_batch(self.idempotency.as_ref(), &refs, deadline).await;
        let items: Vec<Item<H::Event>> = deliveries
            .into_iter()
            .zip(decoded)
            .zip(claims)
            .map(|((delivery, decoded), claim)| Item {
                delivery,
                decoded,
                claim,
            })
            .collect();

        let limit = self.settings.max_concurrency.max(1);
        let results: Vec<Ran> = match ordering {
            Ordering::Concurrent => {
                futures_util::stream::iter(
                    items.into_iter().map(|item| self.process(item, deadline)),
                )
                .buffered(limit)
                .collect()
                .await
            }
            Ordering::InOrderPerGroup => {
                let mut groups: BTreeMap<String, Group<H::Event>> = BTreeMap::new();
                let total = items.len();
                for (i, item) in items.into_iter().enumerate() {
                    let key = item.delivery.group.clone().unwrap_or_default();
                    groups.entry(key).or_default().push((i, item));
                }
                let per_group = futures_util::stream::iter(
                    groups
                        .into_values()
                        .map(|g| self.process_group(g, deadline)),
                )
                .buffer_unordered(limit)
                .collect::<Vec<_>>()
                .await;
                let mut slots: Vec<Option<Ran>> = (0..total).map(|_| None).collect();
                for (i, ran) in per_group.into_iter().flatten() {
                    slots[i] = Some(ran);
                }
                slots
                    .into_iter()
                    .map(|s| {
                        s.unwrap_or(Ran::Outcome(Outcome::NotStarted {
                            reason: "not scheduled".to_owned(),
                        }))
                    })
                    .collect()
            }
        };

        let mut settlement = Settlement::default();
        let outcomes = results
            .into_iter()
            .map(|ran| match ran {
                Ran::Outcome(o) => o,
                Ran::Completed(o, key, response) => {
                    settlement
                        .completions
                        .push(switchyard_idempotency::Completion { key, response });
                    o
                }
                Ran::Release(o, key) => {
                    settlement.releases.push(key);
                    o
                }
            })
            .collect();
        settlement.settle(self.idempotency.as_ref()).await;
        outcomes
    }

    async fn process_group(
        &self,
        group: Group<H::Event>,
        deadline: SystemTime,
    ) -> Vec<(usize, Ran)> {
        let mut out = Vec::with_capacity(group.len());
        let mut failed: Option<String> = None;
        for (i, item) in group {
            let ran = match &failed {
                Some(id) => {
                    let outcome = Outcome::NotStarted {
                        reason: format!("an earlier message of its FIFO group failed ({id})"),
                    };
                    match item.claim {
                        Claim::Owned(key) => Ran::Release(outcome, key),
                        _ => Ran::Outcome(outcome),
                    }
                }
                None => {
                    let id = item.delivery.message_id.clone();
                    let ran = self.process(item, deadline).await;
                    if ran_outcome(&ran).needs_retry() {
                        failed = Some(id);
                    }
                    ran
                }
            };
            out.push((i, ran));
        }
        out
    }

    async fn process(&self, item: Item<H::Event>, deadline: SystemTime) -> Ran {
        let Item {
            delivery,
            decoded,
            claim,
        } = item;
        let span = span_for(
            &self.settings.function_name,
            &delivery.message_id,
            decoded.as_ref().ok(),
        );
        async move {
            let event = match decoded {
                Ok(e) => e,
                Err(DecodeError::NotSubscribed { event_type, .. })
                    if self.settings.unsubscribed == Unsubscribed::Ignore =>
                {
                    tracing::info!(%event_type, "not a type this function consumes; ignored");
                    return Ran::Outcome(Outcome::Ignored { event_type });
                }
                Err(err) => return Ran::Outcome(self.park(&delivery, err.kind(), &err.to_string()).await),
            };
            let key = match claim {
                Claim::Unguarded => None,
                Claim::Owned(key) => Some(key),
                Claim::Completed => {
                    tracing::info!("duplicate of a completed message; acknowledged without running");
                    return Ran::Outcome(Outcome::Duplicate);
                }
                Claim::InProgress => {
                    return Ran::Outcome(Outcome::Retry {
                        reason: "another invocation is processing this event".to_owned(),
                    });
                }
                Claim::Mismatch => {
                    let reason = format!(
                        "event {} was already processed with a different payload",
                        event.id
                    );
                    return Ran::Outcome(self.park(&delivery, "payload_mismatch", &reason).await);
                }
                Claim::BadKey(reason) => {
                    return Ran::Outcome(self.park(&delivery, "idempotency_key", &reason).await);
                }
                Claim::StoreDown(reason) => {
                    return Ran::Outcome(Outcome::Retry {
                        reason: format!("idempotency store unavailable: {reason}"),
                    });
                }
            };
            let finish = |outcome: Outcome| match &key {
                Some(k) => Ran::Release(outcome, k.clone()),
                None => Ran::Outcome(outcome),
            };

            let now = SystemTime::now();
            let budget = deadline
                .duration_since(now)
                .unwrap_or(Duration::ZERO)
                .saturating_sub(self.settings.deadline_margin);
            if budget.is_zero() {
                tracing::warn!("deadline too close; not starting this message");
                return finish(Outcome::NotStarted {
                    reason: "invocation deadline too close to start".to_owned(),
                });
            }

            let ctx = Context {
                function_name: self.settings.function_name.clone(),
                deadline,
                correlation_id: event.correlationid.clone(),
                causation_id: event.causationid.clone(),
                delivery_attempt: delivery.attempt.max(1),
                message_id: delivery.message_id.clone(),
            };
            let cause = cause_of(&event);
            let run = switchyard_publish::with_cause(cause, async {
                let handled = catch_panic(self.handler.handle(event, ctx)).await?;
                self.publish(handled).await
            });
            let result = match tokio::time::timeout(budget, run).await {
                Ok(r) => r,
                Err(_) => Err(HandlerError::transient(format!(
                    "handler did not finish within {} ms before the deadline",
                    budget.as_millis()
                ))),
            };
            match result {
                Ok(output) => {
                    tracing::info!("handled");
                    match (&key, serde_json::to_string(&output)) {
                        (Some(k), Ok(response)) => Ran::Completed(Outcome::Handled, k.clone(), response),
                        (Some(k), Err(e)) => {
                            tracing::error!(error = %e, "cannot serialise the handler output for idempotency; releasing the claim");
                            Ran::Release(Outcome::Handled, k.clone())
                        }
                        (None, _) => Ran::Outcome(Outcome::Handled),
                    }
                }
                Err(HandlerError::Transient { reason }) => {
                    tracing::warn!(%reason, "transient failure; will be retried");
                    finish(Outcome::Retry { reason })
                }
                Err(HandlerError::Permanent { kind, reason }) => finish(self.park(&delivery, kind, &reason).await),
            }
        }
        .instrument(span)
        .await
    }

    /// Publishes what the handler asked for; a message whose events were not
    /// all accepted is retried.
    async fn publish(&self, handled: Handled<H::Output>) -> Result<H::Output, HandlerError> {
        let Handled { output, publish } = handled;
        if publish.is_empty() {
            return Ok(output);
        }
        let Some(publisher) = &self.publisher else {
            return Err(HandlerError::transient(
                "the handler returned events to publish but the function has no publisher",
            ));
        };
        let count = publish.len();
        let outcomes = publisher
            .publish(publish)
            .await
            .map_err(|e| HandlerError::transient(format!("could not publish: {e}")))?;
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o, PublishOutcome::Failed { .. }))
            .count();
        if failed > 0 {
            return Err(HandlerError::transient(format!(
                "{failed} of {count} events were not accepted by the publisher"
            )));
        }
        Ok(output)
    }

    async fn park(&self, delivery: &Delivery, kind: &str, reason: &str) -> Outcome {
        let Some(target) = &self.park else {
            tracing::warn!(kind, %reason, "permanent failure and no park target; retrying so the trigger dead-letters it");
            return Outcome::Retry {
                reason: format!("permanent ({kind}) but no park target configured: {reason}"),
            };
        };
        let parked = ParkedMessage {
            body: delivery.body.clone(),
            message_id: delivery.message_id.clone(),
            reason: bounded_reason(reason),
            kind: kind.to_owned(),
            function: self.settings.function_name.to_string(),
            source: delivery.source.clone(),
            group_id: delivery.group.clone(),
        };
        match target.park(&parked).await {
            Ok(()) => {
                tracing::warn!(kind, %reason, "MessageParked");
                Outcome::Parked {
                    kind: kind.to_owned(),
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "MessageParkError: reporting the message failed instead");
                Outcome::Retry {
                    reason: e.to_string(),
                }
            }
        }
    }
}

fn ran_outcome(ran: &Ran) -> &Outcome {
    match ran {
        Ran::Outcome(o) | Ran::Completed(o, ..) | Ran::Release(o, _) => o,
    }
}
