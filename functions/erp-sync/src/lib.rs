#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod erp;
mod function;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use switchyard_contracts::events::{CustomerUpdatedV1, ErpOrderSyncedV1, OrderPlacedV2};
use switchyard_contracts::{Envelope, event_set};
use switchyard_publish::to_outgoing;
use switchyard_triggers::{Context, Handled, Handler, HandlerError};

pub use erp::{ErpClient, OrderAccepted};
pub use function::{ORDERED, SETTINGS, build, function};

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
}

impl ErpSync {
    /// A handler over an ERP client. The `erp.order-synced` events it
    /// returns are published by the platform's publisher.
    pub fn new(erp: ErpClient) -> Self {
        ErpSync { erp }
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
                // Returned, not published inline: the adapter publishes the
                // batch's events in as few calls as the bus allows, and a
                // message counts as done only once its event was accepted.
                // The id is derived from the order event's, so a retry
                // republishes the same id.
                let synced = Envelope::new(
                    SOURCE,
                    ErpOrderSyncedV1 {
                        order_id: order.order_id.clone(),
                        erp_order_number: accepted.erp_order_number.clone(),
                        outcome: accepted.outcome,
                        synced_at: Utc::now(),
                        origin: order.origin.clone(),
                    },
                )
                .derived_from(&event, FUNCTION_NAME);
                let outgoing = to_outgoing(&synced)
                    .map_err(|e| HandlerError::permanent("publish_encode", e.to_string()))?;
                Ok(Handled::new(Synced::Order {
                    erp_order_number: accepted.erp_order_number,
                    published_event_id: synced.id,
                })
                .publishing(outgoing))
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
