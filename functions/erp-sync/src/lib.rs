#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod erp;
mod function;

use std::sync::Arc;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchyard_contracts::events::{CustomerUpdatedV1, ErpOrderSyncedV1, OrderPlacedV2};
use switchyard_contracts::{Envelope, event_set};
use switchyard_publish::{Publisher, to_outgoing};
use switchyard_triggers::{Context, Handled, Handler, HandlerError};

pub use erp::{ErpClient, OrderAccepted};
pub use function::{SETTINGS, build, function};

/// The function's name: its idempotency key prefix and log field.
pub const FUNCTION_NAME: &str = "erp-sync";

/// The `source` of the events erp-sync publishes.
pub const SOURCE: &str = "switchyard/erp-sync";

/// What erp-sync did with one event (stored for duplicates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "synced", rename_all = "camelCase")]
pub enum Synced {
    /// An order was upserted and `erp.order-synced` published.
    Order {
        /// The ERP's document number.
        erp_order_number: String,
        /// The id of the published `erp.order-synced` event.
        published_event_id: String,
    },
    /// A customer was upserted.
    Customer {
        /// The customer id.
        customer_id: String,
    },
}

event_set! {
    /// What erp-sync consumes.
    #[derive(Debug, Clone, PartialEq)]
    pub enum ErpSyncEvent {
        /// `order.placed` (v1 is upcast to v2).
        OrderPlaced(OrderPlacedV2),
        /// `customer.updated`.
        CustomerUpdated(CustomerUpdatedV1),
    }
}

/// The business handler: `order.placed` and `customer.updated` into the ERP.
pub struct ErpSync {
    erp: ErpClient,
    publisher: Arc<dyn Publisher>,
}

impl ErpSync {
    /// A handler over an ERP client and a publisher.
    pub fn new(erp: ErpClient, publisher: Arc<dyn Publisher>) -> Self {
        ErpSync { erp, publisher }
    }
}

#[async_trait::async_trait]
impl Handler for ErpSync {
    type Event = ErpSyncEvent;
    type Output = Synced;

    async fn handle(
        &self,
        event: Envelope<ErpSyncEvent>,
        ctx: Context,
    ) -> Result<Handled<Synced>, HandlerError> {
        match &event.data {
            ErpSyncEvent::OrderPlaced(order) => {
                let accepted = self
                    .erp
                    .upsert_order(order, &event.id, &ctx.correlation_id)
                    .await?;
                let synced = Envelope::new(
                    SOURCE,
                    ErpOrderSyncedV1 {
                        order_id: order.order_id.clone(),
                        erp_order_number: accepted.erp_order_number.clone(),
                        outcome: accepted.outcome,
                        synced_at: Utc::now(),
                    },
                )
                // explicit, though the publisher would apply the same cause
                .caused_by(&event);
                let outgoing = to_outgoing(&synced)
                    .map_err(|e| HandlerError::permanent("publish_encode", e.to_string()))?;
                self.publisher
                    .publish_all(vec![outgoing])
                    .await
                    .map_err(|e| {
                        HandlerError::transient(format!("could not publish erp.order-synced: {e}"))
                    })?;
                Ok(Synced::Order {
                    erp_order_number: accepted.erp_order_number,
                    published_event_id: synced.id,
                }
                .into())
            }
            ErpSyncEvent::CustomerUpdated(customer) => {
                self.erp
                    .upsert_customer(customer, &event.id, &ctx.correlation_id)
                    .await?;
                Ok(Synced::Customer {
                    customer_id: customer.customer_id.clone(),
                }
                .into())
            }
        }
    }
}
