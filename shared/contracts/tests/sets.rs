//! Event sets: a single type and an application-owned set decode and upcast
//! per type; a type outside the set is `NotSubscribed`, never a payload error.

use switchyard_contracts::events::{CustomerUpdatedV1, ErpOrderSyncedV1, OrderPlacedV2};
use switchyard_contracts::{DecodeError, DecodeOptions, Envelope, EventSet, decode, event_set};

event_set! {
    /// A set an application owns, declared outside the contracts crate's code.
    #[derive(Debug, Clone, PartialEq)]
    enum OrdersAndCustomers {
        /// `order.placed`
        Order(OrderPlacedV2),
        /// `customer.updated`
        Customer(CustomerUpdatedV1),
    }
}

mod common;
use common::{eur, fixture};

#[test]
fn a_single_type_decodes_its_latest_version_and_upcasts_older_ones() {
    let v2 = decode::<OrderPlacedV2>(&fixture("switchyard-order-placed-v2.json"), &eur()).unwrap();
    assert_eq!(v2.dataversion, 2);
    let v1 = decode::<OrderPlacedV2>(&fixture("switchyard-order-placed-v1.json"), &eur()).unwrap();
    assert_eq!(v1.dataversion, 2, "upcast to the version the handler reads");
    assert_eq!(v1.dataschema, "urn:switchyard:schema:order.placed:v2");
    assert_eq!(v1.data.currency.to_string(), "EUR");
    let err = decode::<OrderPlacedV2>(
        &fixture("switchyard-order-placed-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "upcast_failed");
}

#[test]
fn a_type_outside_a_single_type_set_is_not_subscribed() {
    let err = decode::<OrderPlacedV2>(
        &fixture("switchyard-customer-updated-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        DecodeError::NotSubscribed {
            event_type: "customer.updated".into(),
            consumes: vec!["order.placed".into()],
        }
    );
}

#[test]
fn an_application_set_dispatches_per_type() {
    assert_eq!(
        OrdersAndCustomers::TYPES,
        &["order.placed", "customer.updated"]
    );
    let order =
        decode::<OrdersAndCustomers>(&fixture("switchyard-order-placed-v1.json"), &eur()).unwrap();
    assert!(matches!(order.data, OrdersAndCustomers::Order(ref o) if o.lines.is_empty()));
    assert_eq!(order.data.event_type(), "order.placed");
    assert_eq!(order.data.version(), 2);
    let customer = decode::<OrdersAndCustomers>(
        &fixture("switchyard-customer-updated-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap();
    assert!(matches!(customer.data, OrdersAndCustomers::Customer(_)));
    let err = decode::<OrdersAndCustomers>(
        &fixture("switchyard-erp-order-synced-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "not_subscribed");
}

#[test]
fn a_set_member_builds_an_envelope_and_round_trips() {
    let synced = decode::<ErpOrderSyncedV1>(
        &fixture("switchyard-erp-order-synced-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap();
    let order = decode::<OrderPlacedV2>(&fixture("switchyard-order-placed-v2.json"), &eur())
        .unwrap()
        .data;
    let e = Envelope::new("test", OrdersAndCustomers::from(order.clone()));
    assert_eq!(e.event_type, "order.placed");
    assert_eq!(e.subject.as_deref(), Some(order.order_id.as_str()));
    let back = decode::<OrdersAndCustomers>(e.to_json().unwrap().as_bytes(), &eur()).unwrap();
    assert_eq!(back.data, OrdersAndCustomers::Order(order));
    assert_eq!(synced.data.type_name(), "erp.order-synced");
}

#[test]
fn every_catalogued_version_has_a_valid_example() {
    use switchyard_contracts::Event;
    use switchyard_contracts::events::{CustomerUpdatedV1, ErpOrderSyncedV1, OrderPlacedV1};
    fn check<T: Event>() {
        let example =
            T::example().unwrap_or_else(|| panic!("{} v{} has no example", T::TYPE, T::VERSION));
        example
            .validate()
            .unwrap_or_else(|i| panic!("{} example: {}", T::TYPE, i.message));
    }
    check::<OrderPlacedV1>();
    check::<OrderPlacedV2>();
    check::<CustomerUpdatedV1>();
    check::<ErpOrderSyncedV1>();
    assert_eq!(
        switchyard_contracts::catalog::catalog().len(),
        4,
        "a new version needs an example here"
    );
}
