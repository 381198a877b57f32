use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CrmRecord, Event, Invalid};
use crate::decode::{DecodeError, DecodeOptions};
use crate::money::{Amount, Currency};

/// `order.placed` v1: an order was placed. Legacy: the total carries no
/// currency and there are no lines. Upcast to [`OrderPlacedV2`] with
/// [`OrderPlacedV1::upcast`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlacedV1 {
    /// The order's id in the system that placed it.
    pub order_id: String,
    /// The customer who placed it.
    pub customer_id: String,
    /// The order total, in a currency v1 did not record.
    pub total_amount: Amount,
    /// When the order was placed.
    pub placed_at: DateTime<Utc>,
}

/// `order.placed` v2: an order was placed, with its currency and lines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPlacedV2 {
    /// The order's id in the system that placed it.
    pub order_id: String,
    /// The customer who placed it.
    pub customer_id: String,
    /// ISO 4217 currency of every amount in this order.
    pub currency: Currency,
    /// The order lines; empty only for orders upcast from v1, which had none.
    pub lines: Vec<OrderLine>,
    /// The order total; equals the sum of the line totals when there are lines.
    pub total: Amount,
    /// When the order was placed.
    pub placed_at: DateTime<Utc>,
    /// The CRM record the order was placed as, when it came from a CRM
    /// (added in place: optional, absent from earlier producers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<CrmRecord>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderLine {
    /// Stock keeping unit.
    pub sku: String,
    /// Quantity ordered; positive.
    pub quantity: Amount,
    /// Price of one unit.
    pub unit_price: Amount,
    /// `quantity × unitPrice`.
    pub line_total: Amount,
}

/// Why a v1 payload could not be upcast.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpcastError {
    /// v1 has no currency and none was configured: inventing one would invent money.
    #[error(
        "order.placed v1 has no currency; configure the currency of v1 orders (DecodeOptions::order_placed_v1_currency) to upcast it"
    )]
    MissingCurrency,
}

impl OrderPlacedV1 {
    /// Upcasts to v2. v1 recorded no currency, so the caller must say which
    /// currency its v1 producers used; nothing is defaulted. v1 had no
    /// lines, so `lines` is empty and `total` is the v1 total unchanged.
    pub fn upcast(self, currency: Option<Currency>) -> Result<OrderPlacedV2, UpcastError> {
        let currency = currency.ok_or(UpcastError::MissingCurrency)?;
        Ok(OrderPlacedV2 {
            order_id: self.order_id,
            customer_id: self.customer_id,
            currency,
            lines: Vec::new(),
            total: self.total_amount,
            placed_at: self.placed_at,
            origin: None,
        })
    }
}

impl Event for OrderPlacedV1 {
    const TYPE: &'static str = "order.placed";
    const VERSION: u32 = 1;

    fn example() -> Option<Self> {
        serde_json::from_value(serde_json::json!({"orderId": "SO-1000", "customerId": "C-42", "totalAmount": "99.90", "placedAt": "2026-11-20T09:00:00Z"})).ok()
    }

    fn subject(&self) -> Option<String> {
        Some(self.order_id.clone())
    }

    fn validate(&self) -> Result<(), Invalid> {
        non_empty("orderId", &self.order_id)?;
        non_empty("customerId", &self.customer_id)
    }
}

impl Event for OrderPlacedV2 {
    const TYPE: &'static str = "order.placed";
    const VERSION: u32 = 2;

    fn example() -> Option<Self> {
        serde_json::from_value(serde_json::json!({"orderId": "SO-1001", "customerId": "C-42", "currency": "EUR", "lines": [{"sku": "SKU-1", "quantity": "2", "unitPrice": "49.95", "lineTotal": "99.90"}], "total": "99.90", "placedAt": "2026-11-20T09:00:00Z"})).ok()
    }
    const UPCASTS_FROM: &'static [u32] = &[1];

    fn upcast_from(
        version: u32,
        data: Value,
        options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        match version {
            1 => crate::decode::payload::<OrderPlacedV1>(data)?
                .upcast(options.order_placed_v1_currency)
                .map_err(|e| DecodeError::Upcast {
                    event_type: Self::TYPE.to_owned(),
                    from: 1,
                    reason: e.to_string(),
                }),
            _ => Err(DecodeError::UnknownVersion {
                event_type: Self::TYPE.to_owned(),
                version,
                known: vec![1, 2],
            }),
        }
    }

    fn subject(&self) -> Option<String> {
        Some(self.order_id.clone())
    }

    fn validate(&self) -> Result<(), Invalid> {
        non_empty("orderId", &self.order_id)?;
        non_empty("customerId", &self.customer_id)?;
        if let Some(origin) = &self.origin {
            origin.validate("origin")?;
        }
        let mut sum = Decimal::ZERO;
        for (i, line) in self.lines.iter().enumerate() {
            non_empty(&format!("lines[{i}].sku"), &line.sku)?;
            if line.quantity.0 <= Decimal::ZERO {
                return Err(Invalid::new(
                    format!("lines[{i}].quantity"),
                    "quantity must be positive",
                ));
            }
            let expected = line
                .quantity
                .0
                .checked_mul(line.unit_price.0)
                .ok_or_else(|| {
                    Invalid::new(
                        format!("lines[{i}].lineTotal"),
                        "quantity × unitPrice overflows",
                    )
                })?;
            if expected != line.line_total.0 {
                return Err(Invalid::new(
                    format!("lines[{i}].lineTotal"),
                    format!(
                        "lineTotal {} is not quantity × unitPrice = {expected}",
                        line.line_total
                    ),
                ));
            }
            sum += line.line_total.0;
        }
        if !self.lines.is_empty() && sum != self.total.0 {
            return Err(Invalid::new(
                "total",
                format!(
                    "total {} is not the sum of the line totals {sum}",
                    self.total
                ),
            ));
        }
        Ok(())
    }
}

pub(super) fn non_empty(path: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        Err(Invalid::new(path, "must not be empty"))
    } else {
        Ok(())
    }
}
