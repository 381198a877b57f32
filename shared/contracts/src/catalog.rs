//! Every event type and version this crate knows, and the latest-version
//! union that handlers receive after decoding and upcasting.

use crate::events::{CustomerUpdatedV1, ErpOrderSyncedV1, Event, OrderPlacedV1, OrderPlacedV2};
use crate::schema::schema_for;

crate::event_set! {
    /// The reference integration's event set: every domain event at the
    /// latest version of its type. Applications declare their own sets with
    /// [`event_set!`](crate::event_set); this one is not special.
    #[derive(Debug, Clone, PartialEq)]
    pub enum DomainEvent {
        /// `order.placed` (v2; v1 payloads are upcast).
        OrderPlaced(OrderPlacedV2),
        /// `customer.updated` v1.
        CustomerUpdated(CustomerUpdatedV1),
        /// `erp.order-synced` v1.
        ErpOrderSynced(ErpOrderSyncedV1),
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
    /// The Rust type, in `switchyard_contracts::events` (e.g. `OrderPlacedV2`).
    pub rust_type: &'static str,
}

fn entry<T: Event>() -> EventVersion {
    EventVersion {
        event_type: T::TYPE,
        version: T::VERSION,
        schema: schema_for::<T>,
        rust_type: std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or_default(),
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
