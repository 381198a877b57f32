//! Processing one message: the decode result and the claim decide whether
//! the handler runs; the deadline bounds it. The events it returns wait for
//! the batch's flush ([`flush`](crate::pipeline::flush)): the message counts
//! as handled only once they are all accepted.

use std::time::{Duration, SystemTime};

use switchyard_contracts::DecodeError;
use switchyard_publish::{Cause, OutgoingEvent, apply_cause};
use tracing::Instrument;

use crate::handler::{Context, Handled, Handler, HandlerError};
use crate::layers::{Claim, Order, OwnedKey, catch_panic, span_for};
use crate::pipeline::batch::Item;
use crate::pipeline::builder::Pipeline;
use crate::pipeline::message::Outcome;
use crate::pipeline::settings::Unsubscribed;

/// A message's final outcome, with what to do with its claim.
pub(crate) enum Settled {
    /// No claim to complete or release.
    Outcome(Outcome),
    /// Complete the claim with `response`.
    Completed(Outcome, OwnedKey, String),
    /// Release the claim `key`.
    Release(Outcome, String),
}

impl Settled {
    /// The outcome.
    pub(crate) fn outcome(&self) -> &Outcome {
        match self {
            Settled::Outcome(o) | Settled::Completed(o, ..) | Settled::Release(o, _) => o,
        }
    }
}

/// Where one message stands after its handler ran.
pub(crate) enum Ran {
    /// Done with: nothing waits for the flush.
    Settled(Settled),
    /// The handler succeeded; its events wait for the flush.
    Handled(Done),
}

impl From<Settled> for Ran {
    fn from(settled: Settled) -> Self {
        Ran::Settled(settled)
    }
}

impl From<Outcome> for Ran {
    fn from(outcome: Outcome) -> Self {
        Ran::Settled(Settled::Outcome(outcome))
    }
}

/// A successful run whose events are not published yet.
pub(crate) struct Done {
    /// The message's span, for what the flush logs about it.
    pub(crate) span: tracing::Span,
    /// Which delivery this is, from 1.
    pub(crate) attempt: u32,
    /// The claim to complete once the events are accepted.
    pub(crate) key: Option<OwnedKey>,
    /// The serialised output to store; `None` when it could not be
    /// serialised (the claim is then released instead of completed).
    pub(crate) response: Option<String>,
    /// The events to publish, the message's cause already applied.
    pub(crate) events: Vec<OutgoingEvent>,
}

impl<H: Handler> Pipeline<H> {
    pub(crate) async fn process(&self, item: Item<H::Event>, deadline: SystemTime) -> Ran {
        let Item {
            delivery,
            decoded,
            claim,
            order,
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
                    return Ran::from(Outcome::Ignored { event_type });
                }
                Err(err) => return Ran::from(self.park(&delivery, err.kind(), &err.to_string()).await),
            };
            let key = match claim {
                Claim::Unguarded => None,
                Claim::Owned(key) => Some(key),
                Claim::Completed => {
                    tracing::info!("duplicate of a completed message; acknowledged without running");
                    return Ran::from(Outcome::Duplicate);
                }
                Claim::InProgress => {
                    return Ran::from(Outcome::Retry {
                        reason: "another invocation is processing this event".to_owned(),
                    });
                }
                Claim::Mismatch => {
                    let reason = format!(
                        "event {} was already processed with a different payload",
                        event.id
                    );
                    return Ran::from(self.park(&delivery, "payload_mismatch", &reason).await);
                }
                Claim::BadKey(reason) => {
                    return Ran::from(self.park(&delivery, "idempotency_key", &reason).await);
                }
                Claim::StoreDown(reason) => {
                    return Ran::from(Outcome::Retry {
                        reason: format!("idempotency store unavailable: {reason}"),
                    });
                }
            };
            let finish = |outcome: Outcome| match &key {
                Some(k) => Settled::Release(outcome, k.key.clone()).into(),
                None => outcome.into(),
            };
            match order {
                Order::Unguarded | Order::Admitted => {}
                Order::Stale(s) => {
                    tracing::warn!(
                        entity = %s.entity,
                        position = s.position,
                        newest = s.newest,
                        newest_event = %s.newest_event,
                        "StaleEvent: older than an update already applied; acknowledged without running"
                    );
                    return finish(Outcome::Stale {
                        entity: s.entity,
                        position: s.position,
                        newest: s.newest,
                    });
                }
                Order::BadKey(reason) => {
                    return finish(self.park(&delivery, "ordering_key", &reason).await);
                }
                Order::StoreDown(reason) => {
                    return finish(Outcome::Retry {
                        reason: format!("ordering guard store unavailable: {reason}"),
                    });
                }
            }

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
            let cause = Cause::of(&event);
            // Inline publishes inside the handler carry the cause through the
            // task-local; the returned events get it applied below.
            let run = switchyard_publish::with_cause(
                cause.clone(),
                catch_panic(H::handle(&self.handler, event, ctx)),
            );
            let result = match tokio::time::timeout(budget, run).await {
                Ok(r) => r,
                Err(_) => Err(HandlerError::transient(format!(
                    "handler did not finish within {} ms before the deadline",
                    budget.as_millis()
                ))),
            };
            match result {
                Ok(Handled { output, publish: mut events }) => {
                    for e in &mut events {
                        apply_cause(&cause, e);
                    }
                    let response = match &key {
                        None => None,
                        Some(_) => serde_json::to_string(&output)
                            .inspect_err(|e| tracing::error!(error = %e, "cannot serialise the handler output for idempotency; the claim will be released"))
                            .ok(),
                    };
                    Ran::Handled(Done {
                        span: tracing::Span::current(),
                        attempt: delivery.attempt.max(1),
                        key,
                        response,
                        events,
                    })
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
}
