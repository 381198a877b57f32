//! Salesforce notifications → contracts.
//!
//! | sObject | contract | fields read |
//! |---|---|---|
//! | `Contact` | `customer.updated` v1 | `Id`, `Name` or `FirstName`+`LastName`, `Email`, `Phone`, `MailingStreet`/`City`/`PostalCode`/`CountryCode`, `LastModifiedDate` |
//! | `Account` | `customer.updated` v1 | `Id`, `Name`, `Phone`, `BillingStreet`/`City`/`PostalCode`/`CountryCode`, `LastModifiedDate` |
//! | `Order` | `order.placed` v2 (no lines) | `Id`, `AccountId`, `TotalAmount`, `CurrencyIsoCode` (else the default currency), `ActivatedDate`/`EffectiveDate`/`CreatedDate` |
//! | anything else | acknowledged, counted as unmapped | |

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use switchyard_contracts::events::{
    Address, CrmRecord, CrmSystem, CustomerUpdatedV1, OrderPlacedV2,
};
use switchyard_contracts::{Amount, Currency, DomainEvent};

use super::model::{Notification, Notifications};
use crate::error::MapError;
use crate::mapped::{
    EnvelopeParts, MapOptions, Mapped, MappedEvent, Provider, Unmapped, envelope, is_alpha2,
};

/// Maps every notification of a message.
///
/// # Errors
/// [`MapError`] naming the notification and field that is missing or invalid.
pub fn map(message: &Notifications, options: &MapOptions) -> Result<Mapped, MapError> {
    let mut mapped = Mapped::default();
    for (i, n) in message.notifications.iter().enumerate() {
        let data = match n.sobject_type.as_str() {
            "Contact" => DomainEvent::CustomerUpdated(customer(i, n, "Mailing")?),
            "Account" => DomainEvent::CustomerUpdated(customer(i, n, "Billing")?),
            "Order" => DomainEvent::OrderPlaced(order(i, n, options)?),
            other => {
                mapped.unmapped.push(Unmapped {
                    delivery_id: n.id.clone(),
                    kind: format!("sObject {}", other.chars().take(64).collect::<String>()),
                    reason: "no_contract_for_sobject",
                });
                continue;
            }
        };
        let time = match &data {
            DomainEvent::CustomerUpdated(c) => c.updated_at,
            DomainEvent::OrderPlaced(o) => o.placed_at,
            DomainEvent::ErpOrderSynced(s) => s.synced_at,
        };
        let env = envelope(
            EnvelopeParts {
                provider: Provider::Salesforce,
                organisation: &message.organization_id,
                delivery_id: &n.id,
                index: 0,
                time,
                correlation_id: None,
            },
            data,
        )?;
        let d = mapped.delivery(n.id.clone());
        mapped.events.push(MappedEvent {
            deliveries: vec![d],
            envelope: env,
        });
    }
    Ok(mapped)
}

fn field<'a>(fields: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    fields
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

fn required<'a>(
    i: usize,
    n: &'a Notification,
    key: &str,
    hint: &'static str,
) -> Result<&'a str, MapError> {
    field(&n.fields, key)
        .ok_or_else(|| MapError::missing(format!("Notification[{i}].sObject.{key}"), hint))
}

fn datetime(i: usize, key: &str, value: &str) -> Result<DateTime<Utc>, MapError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| {
            MapError::invalid(
                format!("Notification[{i}].sObject.{key}"),
                "expected an xsd:dateTime or xsd:date",
            )
        })
}

fn customer(i: usize, n: &Notification, address: &str) -> Result<CustomerUpdatedV1, MapError> {
    let f = &n.fields;
    let id = required(i, n, "Id", "select the Id field in the outbound message")?;
    let display_name = match field(f, "Name") {
        Some(name) => name.to_owned(),
        None => {
            let parts: Vec<&str> = ["FirstName", "LastName"]
                .iter()
                .filter_map(|k| field(f, k))
                .collect();
            if parts.is_empty() {
                return Err(MapError::missing(
                    format!("Notification[{i}].sObject.Name"),
                    "select Name (or FirstName and LastName) in the outbound message",
                ));
            }
            parts.join(" ")
        }
    };
    let modified_key = if field(f, "LastModifiedDate").is_some() {
        "LastModifiedDate"
    } else {
        "SystemModstamp"
    };
    let updated_at = datetime(
        i,
        modified_key,
        required(
            i,
            n,
            modified_key,
            "select LastModifiedDate in the outbound message",
        )?,
    )?;
    let country = field(f, &format!("{address}CountryCode"))
        .or_else(|| field(f, &format!("{address}Country")));
    let billing_address = match (
        field(f, &format!("{address}Street")),
        field(f, &format!("{address}City")),
        country,
    ) {
        (Some(street), Some(city), Some(country)) if is_alpha2(country) => {
            let mut lines = street.lines();
            Some(Address {
                line1: lines.next().unwrap_or(street).to_owned(),
                line2: Some(lines.collect::<Vec<_>>().join(", ")).filter(|l| !l.is_empty()),
                city: city.to_owned(),
                postal_code: field(f, &format!("{address}PostalCode")).map(str::to_owned),
                country: country.to_owned(),
            })
        }
        _ => None,
    };
    Ok(CustomerUpdatedV1 {
        customer_id: id.to_owned(),
        display_name,
        email: field(f, "Email").map(str::to_owned),
        phone: field(f, "Phone").map(str::to_owned),
        billing_address,
        changed_fields: Vec::new(),
        updated_at,
    })
}

fn order(i: usize, n: &Notification, options: &MapOptions) -> Result<OrderPlacedV2, MapError> {
    let f = &n.fields;
    let id = required(i, n, "Id", "select the Id field in the outbound message")?;
    let customer_id = required(
        i,
        n,
        "AccountId",
        "select AccountId in the outbound message",
    )?;
    let currency = match field(f, "CurrencyIsoCode") {
        Some(code) => code.parse::<Currency>().map_err(|e| {
            MapError::invalid(
                format!("Notification[{i}].sObject.CurrencyIsoCode"),
                e.to_string(),
            )
        })?,
        None => options.default_currency.ok_or_else(|| {
            MapError::missing(
                format!("Notification[{i}].sObject.CurrencyIsoCode"),
                "select CurrencyIsoCode or configure SWITCHYARD_DEFAULT_CURRENCY",
            )
        })?,
    };
    let total = required(
        i,
        n,
        "TotalAmount",
        "select TotalAmount in the outbound message",
    )?
    .parse::<Amount>()
    .map_err(|e| {
        MapError::invalid(
            format!("Notification[{i}].sObject.TotalAmount"),
            e.to_string(),
        )
    })?;
    let placed_key = ["ActivatedDate", "EffectiveDate", "CreatedDate"]
        .into_iter()
        .find(|k| field(f, k).is_some())
        .ok_or_else(|| {
            MapError::missing(
                format!("Notification[{i}].sObject.ActivatedDate"),
                "select ActivatedDate, EffectiveDate or CreatedDate",
            )
        })?;
    let placed_at = datetime(i, placed_key, field(f, placed_key).unwrap_or_default())?;
    Ok(OrderPlacedV2 {
        order_id: id.to_owned(),
        customer_id: customer_id.to_owned(),
        currency,
        lines: Vec::new(),
        total,
        placed_at,
        origin: Some(CrmRecord::new(CrmSystem::Salesforce, "Order", id)),
    })
}
