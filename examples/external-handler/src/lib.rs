//! An application's own event and handler, outside the Switchyard workspace.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use switchyard_contracts::{DecodeError, DecodeOptions, Envelope, Event};
use switchyard_triggers::{Context, Handled, Handler, HandlerError};

/// `invoice.issued` v1: an invoice was issued. The application owns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceIssuedV1 {
    /// The invoice number.
    pub invoice_id: String,
    /// The order it bills.
    pub order_id: String,
    /// Amount due, in minor units.
    pub amount_cents: u64,
}

/// The v0 payload producers still send: no order id yet.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InvoiceIssuedV0 {
    invoice_id: String,
    amount_cents: u64,
}

impl Event for InvoiceIssuedV1 {
    const TYPE: &'static str = "invoice.issued";
    const VERSION: u32 = 1;
    const UPCASTS_FROM: &'static [u32] = &[0];

    fn subject(&self) -> Option<String> {
        Some(self.invoice_id.clone())
    }

    fn upcast_from(
        version: u32,
        data: serde_json::Value,
        _options: &DecodeOptions,
    ) -> Result<Self, DecodeError> {
        let v0: InvoiceIssuedV0 =
            serde_json::from_value(data).map_err(|e| DecodeError::InvalidPayload {
                event_type: Self::TYPE.to_owned(),
                version,
                path: "data".to_owned(),
                message: e.to_string(),
            })?;
        Ok(InvoiceIssuedV1 {
            // v0 invoices were numbered after their order
            order_id: v0.invoice_id.trim_start_matches("INV-").to_owned(),
            invoice_id: v0.invoice_id,
            amount_cents: v0.amount_cents,
        })
    }
}

/// Books issued invoices; a zero amount is refused (parked).
#[derive(Default)]
pub struct BookInvoice;

#[async_trait::async_trait]
impl Handler for BookInvoice {
    type Event = InvoiceIssuedV1;
    type Output = String;

    async fn handle(
        &self,
        event: Envelope<InvoiceIssuedV1>,
        _ctx: Context,
    ) -> Result<Handled<String>, HandlerError> {
        if event.data.amount_cents == 0 {
            return Err(HandlerError::permanent(
                "zero_amount",
                format!("invoice {} has no amount", event.data.invoice_id),
            ));
        }
        Ok(format!(
            "booked {} for {}",
            event.data.invoice_id, event.data.order_id
        )
        .into())
    }
}
