use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::order_placed::non_empty;
use super::{Event, Invalid};

/// `erp.order-synced` v1: the ERP accepted an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErpOrderSyncedV1 {
    /// The order's id in the system that placed it.
    pub order_id: String,
    /// The ERP's own document number for the order.
    pub erp_order_number: String,
    /// What the ERP did.
    pub outcome: SyncOutcome,
    /// When the ERP confirmed.
    pub synced_at: DateTime<Utc>,
}

/// What the ERP did with an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncOutcome {
    /// The order was new to the ERP.
    Created,
    /// The ERP already had the order and updated it.
    Updated,
    /// The ERP already had the order as it is.
    Unchanged,
}

impl Event for ErpOrderSyncedV1 {
    const TYPE: &'static str = "erp.order-synced";
    const VERSION: u32 = 1;

    fn example() -> Option<Self> {
        serde_json::from_value(serde_json::json!({"orderId": "SO-1001", "erpOrderNumber": "ERP-000123", "outcome": "created", "syncedAt": "2026-11-20T09:16:01Z"})).ok()
    }

    fn subject(&self) -> Option<String> {
        Some(self.order_id.clone())
    }

    fn validate(&self) -> Result<(), Invalid> {
        non_empty("orderId", &self.order_id)?;
        non_empty("erpOrderNumber", &self.erp_order_number)
    }
}
