//! `RemoteExecutionContext` → contracts.
//!
//! | message | entity | contract |
//! |---|---|---|
//! | `Create` | `salesorder` | `order.placed` v2 (no lines: Dataverse sends the order header only) |
//! | `Create`, `Update` | `contact`, `account` | `customer.updated` v1 |
//! | anything else | | acknowledged, counted as unmapped |

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use switchyard_contracts::events::{
    Address, CrmRecord, CrmSystem, CustomerUpdatedV1, OrderPlacedV2,
};
use switchyard_contracts::{Amount, DomainEvent};

use super::model::{AttributeValue, RemoteExecutionContext, parse_date};
use crate::error::MapError;
use crate::mapped::{
    EnvelopeParts, MapOptions, Mapped, MappedEvent, Provider, Unmapped, envelope, is_alpha2,
};

/// The header Dynamics sets when it stripped the context because it
/// exceeded 256 KB (`InputParameters`, images and `ParentContext` are then absent).
pub const SIZE_EXCEEDED_HEADER: &str = "x-ms-dynamics-msg-size-exceeded";

/// Parses the posted JSON.
///
/// # Errors
/// [`MapError::Empty`] or [`MapError::Json`] naming the failing path.
pub fn parse(body: &[u8]) -> Result<RemoteExecutionContext, MapError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(MapError::Empty);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let ctx = serde_path_to_error::deserialize(&mut de).map_err(MapError::json)?;
    de.end().map_err(|e| MapError::Json {
        path: ".".to_owned(),
        message: e.to_string(),
    })?;
    Ok(ctx)
}

/// The dedupe id of one execution: `CorrelationId:OperationId` (`RequestId`
/// when there is no operation id).
///
/// # Errors
/// [`MapError::Missing`] when the context carries neither pair.
pub fn delivery_id(ctx: &RemoteExecutionContext) -> Result<String, MapError> {
    let non_empty = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let correlation = non_empty(&ctx.correlation_id).ok_or_else(|| {
        MapError::missing(
            "CorrelationId",
            "Dynamics always sends it; is this a RemoteExecutionContext?",
        )
    })?;
    let operation = non_empty(&ctx.operation_id)
        .or_else(|| non_empty(&ctx.request_id))
        .ok_or_else(|| {
            MapError::missing(
                "OperationId",
                "Dynamics always sends it; is this a RemoteExecutionContext?",
            )
        })?;
    Ok(format!("{correlation}:{operation}"))
}

/// Maps one execution context. `size_exceeded` is whether the request
/// carried [`SIZE_EXCEEDED_HEADER`].
///
/// # Errors
/// [`MapError`] naming the missing or invalid attribute; [`MapError::SizeExceeded`]
/// when Dynamics stripped the entity a mapped message needs.
pub fn map(
    ctx: &RemoteExecutionContext,
    size_exceeded: bool,
    options: &MapOptions,
) -> Result<Mapped, MapError> {
    let delivery = delivery_id(ctx)?;
    let mut mapped = Mapped::default();
    let kind = match (ctx.message_name.as_str(), ctx.primary_entity_name.as_str()) {
        ("Create", "salesorder") => Kind::Order,
        ("Create" | "Update", "contact") => Kind::Customer("contact"),
        ("Create" | "Update", "account") => Kind::Customer("account"),
        (message, entity) => {
            mapped.unmapped.push(Unmapped {
                delivery_id: delivery,
                kind: format!("{message} {entity}"),
                reason: "no_contract_for_message",
            });
            return Ok(mapped);
        }
    };
    let Some(target) = ctx.target()? else {
        return Err(if size_exceeded {
            MapError::SizeExceeded
        } else {
            MapError::missing(
                "InputParameters.Target",
                "the step must pass the entity (Create/Update message)",
            )
        });
    };
    // Images first, then the target: the target holds what changed.
    let mut attrs: BTreeMap<String, AttributeValue> = BTreeMap::new();
    for image in ctx
        .pre_entity_images
        .iter()
        .flatten()
        .chain(ctx.post_entity_images.iter().flatten())
    {
        for a in &image.value.attributes {
            attrs.insert(a.key.clone(), AttributeValue::from_json(&a.value));
        }
    }
    for a in &target.attributes {
        attrs.insert(a.key.clone(), AttributeValue::from_json(&a.value));
    }
    let time = operation_time(ctx, &attrs)?;
    let primary_id = non_empty_text("PrimaryEntityId", &ctx.primary_entity_id)?;
    let data = match kind {
        Kind::Order => DomainEvent::OrderPlaced(order(&primary_id, &attrs, time, options)?),
        Kind::Customer(entity) => {
            let changed = target
                .attributes
                .iter()
                .map(|a| a.key.clone())
                .filter(|k| *k != format!("{entity}id"))
                .collect();
            DomainEvent::CustomerUpdated(customer(entity, &primary_id, &attrs, changed, time)?)
        }
    };
    let organisation = ctx
        .organization_name
        .as_deref()
        .or(ctx.organization_id.as_deref())
        .unwrap_or("");
    let env = envelope(
        EnvelopeParts {
            provider: Provider::Dynamics,
            organisation,
            delivery_id: &delivery,
            index: 0,
            time,
            correlation_id: ctx.correlation_id.as_deref(),
        },
        data,
    )?;
    let d = mapped.delivery(delivery);
    mapped.events.push(MappedEvent {
        deliveries: vec![d],
        envelope: env,
    });
    Ok(mapped)
}

enum Kind {
    Order,
    Customer(&'static str),
}

fn non_empty_text(field: &str, value: &str) -> Result<String, MapError> {
    let v = value.trim();
    if v.is_empty() {
        Err(MapError::missing(field, "Dynamics always sends it"))
    } else {
        Ok(v.to_owned())
    }
}

fn operation_time(
    ctx: &RemoteExecutionContext,
    attrs: &BTreeMap<String, AttributeValue>,
) -> Result<DateTime<Utc>, MapError> {
    if let Some(text) = &ctx.operation_created_on {
        return parse_date(text);
    }
    match attrs.get("modifiedon").or_else(|| attrs.get("createdon")) {
        Some(AttributeValue::Date(d)) => Ok(*d),
        _ => Err(MapError::missing(
            "OperationCreatedOn",
            "Dynamics always sends it",
        )),
    }
}

fn text(attrs: &BTreeMap<String, AttributeValue>, key: &str) -> Option<String> {
    attrs
        .get(key)
        .and_then(AttributeValue::as_text)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn order(
    id: &str,
    attrs: &BTreeMap<String, AttributeValue>,
    time: DateTime<Utc>,
    options: &MapOptions,
) -> Result<OrderPlacedV2, MapError> {
    let customer_id = match attrs.get("customerid") {
        Some(AttributeValue::Reference { id, .. }) if !id.trim().is_empty() => id.clone(),
        Some(_) => {
            return Err(MapError::invalid(
                "customerid",
                "expected an EntityReference",
            ));
        }
        None => {
            return Err(MapError::missing(
                "customerid",
                "a salesorder needs a customer",
            ));
        }
    };
    let currency = match attrs.get("transactioncurrencyid") {
        Some(AttributeValue::Reference { id, .. }) => options
            .dynamics_currencies
            .get(&id.trim().to_ascii_lowercase())
            .copied()
            .or(options.default_currency)
            .ok_or_else(|| {
                MapError::invalid(
                    "transactioncurrencyid",
                    "this currency record has no configured ISO code (SWITCHYARD_DYNAMICS_CURRENCIES)",
                )
            })?,
        Some(_) => return Err(MapError::invalid("transactioncurrencyid", "expected an EntityReference")),
        None => options.default_currency.ok_or_else(|| {
            MapError::missing("transactioncurrencyid", "no currency on the order and no default currency configured")
        })?,
    };
    let total = match attrs.get("totalamount") {
        Some(AttributeValue::Money(v) | AttributeValue::Number(v)) => v
            .parse::<Amount>()
            .map_err(|e| MapError::invalid("totalamount", e.to_string()))?,
        Some(_) => return Err(MapError::invalid("totalamount", "expected Money")),
        None => {
            return Err(MapError::missing(
                "totalamount",
                "register the step with totalamount in the entity",
            ));
        }
    };
    Ok(OrderPlacedV2 {
        order_id: id.to_owned(),
        customer_id,
        currency,
        lines: Vec::new(),
        total,
        placed_at: time,
        origin: Some(CrmRecord::new(CrmSystem::Dynamics, "salesorder", id)),
    })
}

fn customer(
    entity: &str,
    id: &str,
    attrs: &BTreeMap<String, AttributeValue>,
    changed_fields: Vec<String>,
    time: DateTime<Utc>,
) -> Result<CustomerUpdatedV1, MapError> {
    let display_name = if entity == "contact" {
        text(attrs, "fullname").or_else(|| {
            let parts: Vec<String> = ["firstname", "lastname"]
                .iter()
                .filter_map(|k| text(attrs, k))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        })
    } else {
        text(attrs, "name")
    };
    let display_name = display_name.ok_or_else(|| {
        MapError::missing(
            if entity == "contact" {
                "fullname"
            } else {
                "name"
            },
            "an Update carries only changed attributes: register a post-image with the name",
        )
    })?;
    let billing_address = match (
        text(attrs, "address1_line1"),
        text(attrs, "address1_city"),
        text(attrs, "address1_country"),
    ) {
        (Some(line1), Some(city), Some(country)) if is_alpha2(&country) => Some(Address {
            line1,
            line2: text(attrs, "address1_line2"),
            city,
            postal_code: text(attrs, "address1_postalcode"),
            country,
        }),
        _ => None,
    };
    Ok(CustomerUpdatedV1 {
        customer_id: id.to_owned(),
        display_name,
        email: text(attrs, "emailaddress1"),
        phone: text(attrs, "telephone1"),
        billing_address,
        changed_fields,
        updated_at: time,
    })
}
