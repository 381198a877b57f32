//! Every event type and version this crate knows, and the latest-version
//! union that handlers receive after decoding and upcasting.

use serde::{Serialize, Serializer};

use crate::envelope::{DATA_CONTENT_TYPE, Envelope, SPEC_VERSION, schema_uri};
use crate::events::{CustomerUpdatedV1, ErpOrderSyncedV1, Event, OrderPlacedV1, OrderPlacedV2};
use crate::schema::schema_for;

/// A domain event at the latest version of its type: what decoders return
/// after upcasting, and what handlers match on.
#[derive(Debug, Clone, PartialEq)]
pub enum DomainEvent {
    /// `order.placed` (v2; v1 payloads are upcast).
    OrderPlaced(OrderPlacedV2),
    /// `customer.updated` v1.
    CustomerUpdated(CustomerUpdatedV1),
    /// `erp.order-synced` v1.
    ErpOrderSynced(ErpOrderSyncedV1),
}

impl DomainEvent {
    /// The CloudEvents `type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            DomainEvent::OrderPlaced(_) => OrderPlacedV2::TYPE,
            DomainEvent::CustomerUpdated(_) => CustomerUpdatedV1::TYPE,
            DomainEvent::ErpOrderSynced(_) => ErpOrderSyncedV1::TYPE,
        }
    }

    /// The schema version of the payload.
    pub fn version(&self) -> u32 {
        match self {
            DomainEvent::OrderPlaced(_) => OrderPlacedV2::VERSION,
            DomainEvent::CustomerUpdated(_) => CustomerUpdatedV1::VERSION,
            DomainEvent::ErpOrderSynced(_) => ErpOrderSyncedV1::VERSION,
        }
    }

    /// The CloudEvents `subject` of the payload.
    pub fn subject(&self) -> Option<String> {
        match self {
            DomainEvent::OrderPlaced(e) => e.subject(),
            DomainEvent::CustomerUpdated(e) => e.subject(),
            DomainEvent::ErpOrderSynced(e) => e.subject(),
        }
    }
}

impl Serialize for DomainEvent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DomainEvent::OrderPlaced(e) => e.serialize(serializer),
            DomainEvent::CustomerUpdated(e) => e.serialize(serializer),
            DomainEvent::ErpOrderSynced(e) => e.serialize(serializer),
        }
    }
}

impl Envelope<DomainEvent> {
    /// A new event (fresh id, new correlation) around an already-typed
    /// domain event; `Envelope::new` for code that holds a `DomainEvent`.
    pub fn from_domain(source: impl Into<String>, data: DomainEvent) -> Self {
        let id = uuid::Uuid::now_v7().to_string();
        Envelope {
            specversion: SPEC_VERSION.to_owned(),
            correlationid: id.clone(),
            id,
            source: source.into(),
            event_type: data.event_type().to_owned(),
            time: chrono::Utc::now(),
            subject: data.subject(),
            datacontenttype: DATA_CONTENT_TYPE.to_owned(),
            dataschema: schema_uri(data.event_type(), data.version()),
            dataversion: data.version(),
            causationid: None,
            traceparent: None,
            data,
        }
    }
}

impl From<OrderPlacedV2> for DomainEvent {
    fn from(e: OrderPlacedV2) -> Self {
        DomainEvent::OrderPlaced(e)
    }
}

impl From<CustomerUpdatedV1> for DomainEvent {
    fn from(e: CustomerUpdatedV1) -> Self {
        DomainEvent::CustomerUpdated(e)
    }
}

impl From<ErpOrderSyncedV1> for DomainEvent {
    fn from(e: ErpOrderSyncedV1) -> Self {
        DomainEvent::ErpOrderSynced(e)
    }
}

/// One known (type, version) pair.
#[derive(Debug, Clone, Copy)]
pub struct EventVersion {
    /// The CloudEvents `type`.
    pub event_type: &'static str,
    /// The schema version.
    pub version: u32,
    /// Generates the JSON Schema of the payload.
    pub schema: fn() -> serde_json::Value,
}

fn entry<T: Event>() -> EventVersion {
    EventVersion {
        event_type: T::TYPE,
        version: T::VERSION,
        schema: schema_for::<T>,
    }
}

/// Every known event version. Add a line here when you add a version.
pub fn catalog() -> Vec<EventVersion> {
    vec![
        entry::<OrderPlacedV1>(),
        entry::<OrderPlacedV2>(),
        entry::<CustomerUpdatedV1>(),
        entry::<ErpOrderSyncedV1>(),
    ]
}

/// The versions known for `event_type`, ascending; empty when the type is unknown.
pub fn known_versions(event_type: &str) -> Vec<u32> {
    let mut v: Vec<u32> = catalog()
        .into_iter()
        .filter(|e| e.event_type == event_type)
        .map(|e| e.version)
        .collect();
    v.sort_unstable();
    v
}
