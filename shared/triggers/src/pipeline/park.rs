//! Parking a permanent failure with its bounded reason, or retrying it
//! when there is no park target (so the trigger dead-letters it).

use crate::handler::Handler;
use crate::park::{ParkedMessage, bounded_reason};
use crate::pipeline::builder::Pipeline;
use crate::pipeline::message::{Delivery, Outcome, Unreadable};

impl<H: Handler> Pipeline<H> {
    /// Parks a record the trigger delivered but that could not be read.
    pub(crate) async fn park_unreadable(&self, record: &Unreadable) -> Outcome {
        tracing::warn!(message_id = ?record.message_id, reason = %record.reason, "UnreadableRecord");
        self.park(&record.delivery(), Unreadable::KIND, &record.reason)
            .await
    }

    pub(crate) async fn park(&self, delivery: &Delivery, kind: &str, reason: &str) -> Outcome {
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
