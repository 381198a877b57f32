//! Processing one message: the decode result and the claim decide whether
//! the handler runs; the deadline bounds it; the events it returns are
//! published before the message counts as handled.

use std::time::{Duration, SystemTime};

use switchyard_contracts::DecodeError;
use switchyard_publish::{PublishOutcome, Publisher};
use tracing::Instrument;

use crate::handler::{Context, Handled, Handler, HandlerError};
use crate::layers::{Claim, catch_panic, cause_of, span_for};
use crate::pipeline::batch::Item;
use crate::pipeline::builder::Pipeline;
use crate::pipeline::message::Outcome;
use crate::pipeline::settings::Unsubscribed;

pub(crate) enum Ran {
    Outcome(Outcome),
    Completed(Outcome, String, String),
    Release(Outcome, String),
}

impl<H: Handler> Pipeline<H> {
    pub(crate) async fn process(&self, item: Item<H::Event>, deadline: SystemTime) -> Ran {
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
}

pub(crate) fn ran_outcome(ran: &Ran) -> &Outcome {
    match ran {
        Ran::Outcome(o) | Ran::Completed(o, ..) | Ran::Release(o, _) => o,
    }
}
