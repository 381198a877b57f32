use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::order_placed::non_empty;
use super::{CrmRecord, Event, Invalid};

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
    /// The CRM record the order came from (`order.placed`'s `origin`), where
    /// crm-writeback writes the ERP number back; absent for orders that did
    /// not come from a CRM (added in place: optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<CrmRecord>,
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
        serde_json::from_value(serde_json::json!({"orderId": "SO-1001", "erpOrderNumber": "ERP-000123", "outcome": "created", "syncedAt": "2026-11-20T09:16:01Z", "origin": {"system": "dynamics", "object": "salesorder", "id": "5d3e6f1a-8c2b-4e7d-9a10-3f2b1c4d5e6f"}})).ok()
    }

    fn subject(&self) -> Option<String> {
        Some(self.order_id.clone())
    }

    fn validate(&self) -> Result<(), Invalid> {
        non_empty("orderId", &self.order_id)?;
        non_empty("erpOrderNumber", &self.erp_order_number)?;
        match &self.origin {
            Some(origin) => origin.validate("origin"),
            None => Ok(()),
        }
    }
}
