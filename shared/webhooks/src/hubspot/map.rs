//! HubSpot events → contracts.
//!
//! HubSpot webhooks are notifications: a `contact.propertyChange` carries one
//! property, a `deal.creation` none. Events are therefore grouped per
//! contact within one request (HubSpot batches the property changes of one
//! save together) and a `customer.updated` is published only when the group
//! names the customer: a `contact.creation` with any of `firstname` /
//! `lastname`, or a change of both. Everything else is acknowledged and
//! counted as unmapped (`needs_enrichment`) — fetching the object from
//! HubSpot's CRM API is the follow-up that would map it; inventing a name
//! would overwrite the customer's real one downstream.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchyard_contracts::DomainEvent;
use switchyard_contracts::events::{Address, CustomerUpdatedV1};

use super::model::HubSpotEvent;
use crate::error::MapError;
use crate::mapped::{EnvelopeParts, Mapped, MappedEvent, Provider, Unmapped, envelope, is_alpha2};

/// HubSpot sends at most 100 events per request.
pub const MAX_EVENTS: usize = 100;

/// Maps the events of one request.
///
/// # Errors
/// [`MapError::TooMany`] over [`MAX_EVENTS`]; [`MapError::Invalid`] for an
/// out-of-range `occurredAt`; [`MapError::Contract`] if a mapped event breaks its contract.
pub fn map(events: &[HubSpotEvent]) -> Result<Mapped, MapError> {
    if events.len() > MAX_EVENTS {
        return Err(MapError::TooMany {
            count: events.len(),
            max: MAX_EVENTS,
        });
    }
    let mut mapped = Mapped::default();
    // contact groups keyed by (portal, object), in order of first appearance
    let mut order: Vec<(u64, u64)> = Vec::new();
    let mut groups: BTreeMap<(u64, u64), Vec<&HubSpotEvent>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        time_of(e, i)?;
        match e.subscription_type.as_str() {
            "contact.creation" | "contact.propertyChange" => {
                let key = (e.portal_id, e.object_id);
                if !groups.contains_key(&key) {
                    order.push(key);
                }
                groups.entry(key).or_default().push(e);
            }
            other => mapped.unmapped.push(Unmapped {
                delivery_id: e.event_id.to_string(),
                kind: other.chars().take(64).collect(),
                reason: match other {
                    "deal.creation"
                    | "deal.propertyChange"
                    | "company.creation"
                    | "company.propertyChange" => "needs_enrichment",
                    _ => "no_contract_for_subscription",
                },
            }),
        }
    }
    for key in order {
        let group = groups.remove(&key).unwrap_or_default();
        match customer(&group)? {
            Some((data, time)) => {
                let mut ids: Vec<u64> = group.iter().map(|e| e.event_id).collect();
                ids.sort_unstable();
                ids.dedup();
                let group_id = ids.iter().map(u64::to_string).collect::<Vec<_>>().join("+");
                let portal = key.0.to_string();
                let env = envelope(
                    EnvelopeParts {
                        provider: Provider::HubSpot,
                        organisation: &portal,
                        delivery_id: &group_id,
                        index: 0,
                        time,
                        correlation_id: None,
                    },
                    DomainEvent::CustomerUpdated(data),
                )?;
                let deliveries = ids
                    .iter()
                    .map(|id| mapped.delivery(id.to_string()))
                    .collect();
                mapped.events.push(MappedEvent {
                    deliveries,
                    envelope: env,
                });
            }
            None => mapped.unmapped.extend(group.iter().map(|e| Unmapped {
                delivery_id: e.event_id.to_string(),
                kind: e.subscription_type.clone(),
                reason: "needs_enrichment",
            })),
        }
    }
    Ok(mapped)
}

fn time_of(e: &HubSpotEvent, index: usize) -> Result<DateTime<Utc>, MapError> {
    DateTime::from_timestamp_millis(e.occurred_at).ok_or_else(|| {
        MapError::invalid(
            format!("[{index}].occurredAt"),
            "not a time in milliseconds",
        )
    })
}

fn customer(
    group: &[&HubSpotEvent],
) -> Result<Option<(CustomerUpdatedV1, DateTime<Utc>)>, MapError> {
    let Some(first) = group.first() else {
        return Ok(None);
    };
    let created = group
        .iter()
        .any(|e| e.subscription_type == "contact.creation");
    // the latest value of each property wins
    let mut changes: Vec<&HubSpotEvent> = group
        .iter()
        .copied()
        .filter(|e| e.property_name.is_some())
        .collect();
    changes.sort_by_key(|e| e.occurred_at);
    let mut props: BTreeMap<String, String> = BTreeMap::new();
    for e in changes {
        if let (Some(name), Some(value)) = (&e.property_name, e.value_text()) {
            props.insert(name.clone(), value.trim().to_owned());
        }
    }
    let prop = |k: &str| props.get(k).filter(|v| !v.is_empty()).cloned();
    let (first_name, last_name) = (prop("firstname"), prop("lastname"));
    let names_whole =
        created || (props.contains_key("firstname") && props.contains_key("lastname"));
    let display_name = [first_name, last_name]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !names_whole || display_name.is_empty() {
        return Ok(None);
    }
    let mut time = DateTime::<Utc>::MIN_UTC;
    for e in group {
        time = time.max(DateTime::from_timestamp_millis(e.occurred_at).unwrap_or(time));
    }
    let billing_address = match (prop("address"), prop("city"), prop("country")) {
        (Some(line1), Some(city), Some(country)) if is_alpha2(&country) => Some(Address {
            line1,
            line2: None,
            city,
            postal_code: prop("zip"),
            country,
        }),
        _ => None,
    };
    Ok(Some((
        CustomerUpdatedV1 {
            customer_id: first.object_id.to_string(),
            display_name,
            email: prop("email"),
            phone: prop("phone").or_else(|| prop("mobilephone")),
            billing_address,
            changed_fields: props.keys().cloned().collect(),
            updated_at: time,
        },
        time,
    )))
}
