use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::order_placed::non_empty;
use super::{Event, Invalid};

/// `customer.updated` v1: a customer's master data changed in the CRM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerUpdatedV1 {
    /// The customer's id in the CRM.
    pub customer_id: String,
    /// Display name (person or organisation).
    pub display_name: String,
    /// Primary e-mail address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Primary phone number, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Billing address, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    /// The CRM attribute names that changed, when the CRM says.
    #[serde(default)]
    pub changed_fields: Vec<String>,
    /// When the change was made in the CRM.
    pub updated_at: DateTime<Utc>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Street and number.
    pub line1: String,
    /// Second address line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    /// City.
    pub city: String,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 country code.
    #[schemars(regex(pattern = "^[A-Z]{2}$"))]
    pub country: String,
}

impl Event for CustomerUpdatedV1 {
    const TYPE: &'static str = "customer.updated";
    const VERSION: u32 = 1;

    fn example() -> Option<Self> {
        serde_json::from_value(serde_json::json!({"customerId": "C-42", "displayName": "Ada Lovelace", "email": "ada@example.com", "changedFields": ["email"], "updatedAt": "2026-11-20T09:59:59Z"})).ok()
    }

    fn subject(&self) -> Option<String> {
        Some(self.customer_id.clone())
    }

    fn validate(&self) -> Result<(), Invalid> {
        non_empty("customerId", &self.customer_id)?;
        if let Some(address) = &self.billing_address {
            let c = address.country.as_bytes();
            if c.len() != 2 || !c.iter().all(u8::is_ascii_uppercase) {
                return Err(Invalid::new(
                    "billingAddress.country",
                    "must be an ISO 3166-1 alpha-2 code such as \"DE\"",
                ));
            }
        }
        Ok(())
    }
}
