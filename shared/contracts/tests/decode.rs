//! Decoding: fixtures round-trip, upcasting, and errors that name the failing path.
//!
//! Fixtures are hand-written samples of the reference integration's events,
//! named `<source>-<variant>.json`.

use serde_json::{Value, json};
use switchyard_contracts::events::{OrderPlacedV1, SyncOutcome};
use switchyard_contracts::{
    Currency, DecodeError, DecodeOptions, DomainEvent, Envelope, decode, decode_data,
};

mod common;
use common::{eur, fixture};

/// Decoding then encoding gives back the same JSON (for latest versions).
fn assert_round_trip(name: &str) {
    let bytes = fixture(name);
    let decoded = decode::<DomainEvent>(&bytes, &DecodeOptions::default()).unwrap();
    let original: Value = serde_json::from_slice(&bytes).unwrap();
    let again: Value = serde_json::from_str(&decoded.to_json().unwrap()).unwrap();
    assert_eq!(original, again, "{name} does not round-trip");
}

#[test]
fn order_placed_v2_round_trips() {
    assert_round_trip("switchyard-order-placed-v2.json");
}

#[test]
fn customer_updated_v1_round_trips() {
    assert_round_trip("switchyard-customer-updated-v1.json");
}

#[test]
fn erp_order_synced_v1_round_trips() {
    assert_round_trip("switchyard-erp-order-synced-v1.json");
    let e = decode::<DomainEvent>(
        &fixture("switchyard-erp-order-synced-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap();
    assert!(
        matches!(e.data, DomainEvent::ErpOrderSynced(ref s) if s.outcome == SyncOutcome::Created)
    );
    assert_eq!(
        e.causationid.as_deref(),
        Some("0193a8f1-1111-7a31-9b1e-6f5d4c3b2a11")
    );
}

#[test]
fn order_placed_v1_is_upcast_to_v2_with_the_configured_currency() {
    let e = decode::<DomainEvent>(&fixture("switchyard-order-placed-v1.json"), &eur()).unwrap();
    assert_eq!(e.dataversion, 2);
    assert_eq!(e.dataschema, "urn:switchyard:schema:order.placed:v2");
    let DomainEvent::OrderPlaced(order) = e.data else {
        panic!("not an order")
    };
    assert_eq!(order.currency.code(), "EUR");
    assert_eq!(order.total.to_string(), "149.90");
    assert!(order.lines.is_empty());
    assert_eq!(order.order_id, "SO-1000");
}

#[test]
fn order_placed_v1_without_a_configured_currency_is_not_upcast() {
    let err = decode::<DomainEvent>(
        &fixture("switchyard-order-placed-v1.json"),
        &DecodeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), "upcast_failed");
    assert!(err.to_string().contains("no currency"), "{err}");
}

#[test]
fn upcaster_never_defaults_money() {
    let v1 = OrderPlacedV1 {
        order_id: "o".into(),
        customer_id: "c".into(),
        total_amount: "1.00".parse().unwrap(),
        placed_at: "2026-01-01T00:00:00Z".parse().unwrap(),
    };
    assert!(v1.clone().upcast(None).is_err());
    let usd: Currency = "USD".parse().unwrap();
    let v2 = v1.upcast(Some(usd)).unwrap();
    assert_eq!(
        (v2.currency, v2.total.to_string()),
        (usd, "1.00".to_owned())
    );
}

fn v2_with(edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("switchyard-order-placed-v2.json")).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn decode_err(bytes: &[u8]) -> DecodeError {
    decode::<DomainEvent>(bytes, &DecodeOptions::default()).unwrap_err()
}

#[test]
fn not_json_is_an_invalid_envelope() {
    assert_eq!(decode_err(b"{not json").kind(), "invalid_envelope");
    assert_eq!(decode_err(b"").kind(), "invalid_envelope");
}

#[test]
fn missing_envelope_attribute_names_it() {
    let err = decode_err(&v2_with(|v| {
        v.as_object_mut().unwrap().remove("source");
    }));
    assert!(
        matches!(err, DecodeError::InvalidEnvelope { ref path, ref message } if path == "source" && message.contains("missing")),
        "{err}"
    );
}

#[test]
fn wrong_spec_version_is_rejected() {
    let err = decode_err(&v2_with(|v| v["specversion"] = json!("0.3")));
    assert!(
        matches!(err, DecodeError::InvalidEnvelope { ref path, .. } if path == "specversion"),
        "{err}"
    );
}

#[test]
fn dataschema_must_agree_with_dataversion() {
    let err = decode_err(&v2_with(|v| v["dataversion"] = json!(1)));
    assert!(
        matches!(err, DecodeError::InvalidEnvelope { ref path, .. } if path == "dataschema"),
        "{err}"
    );
}

#[test]
fn unknown_type_unknown_version_and_invalid_payload_are_told_apart() {
    let unknown_type = decode_err(&v2_with(|v| {
        v["type"] = json!("order.cancelled");
        v["dataschema"] = json!("urn:switchyard:schema:order.cancelled:v2");
    }));
    assert_eq!(
        unknown_type,
        DecodeError::NotSubscribed {
            event_type: "order.cancelled".into(),
            consumes: vec![
                "order.placed".into(),
                "customer.updated".into(),
                "erp.order-synced".into()
            ],
        }
    );
    assert_eq!(unknown_type.kind(), "not_subscribed");

    let unknown_version = decode_err(&v2_with(|v| {
        v["dataversion"] = json!(7);
        v["dataschema"] = json!("urn:switchyard:schema:order.placed:v7");
    }));
    assert_eq!(
        unknown_version,
        DecodeError::UnknownVersion {
            event_type: "order.placed".into(),
            version: 7,
            known: vec![1, 2]
        }
    );

    let invalid = decode_err(&v2_with(|v| {
        v["data"]["lines"][1]["unitPrice"] = json!(110.0)
    }));
    assert_eq!(invalid.kind(), "invalid_payload");
    assert!(
        matches!(invalid, DecodeError::InvalidPayload { ref path, .. } if path == "data.lines[1].unitPrice"),
        "{invalid}"
    );
}

#[test]
fn invalid_currency_names_the_path() {
    let err = decode_err(&v2_with(|v| v["data"]["currency"] = json!("EURO")));
    match err {
        DecodeError::InvalidPayload { path, message, .. } => {
            assert_eq!(path, "data.currency");
            assert!(message.contains("ISO 4217"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn business_rules_are_checked_with_a_path() {
    let err = decode_err(&v2_with(|v| v["data"]["total"] = json!("150.00")));
    assert!(
        matches!(err, DecodeError::InvalidPayload { ref path, .. } if path == "data.total"),
        "{err}"
    );
    let err = decode_err(&v2_with(|v| {
        v["data"]["lines"][0]["lineTotal"] = json!("40.00")
    }));
    assert!(
        matches!(err, DecodeError::InvalidPayload { ref path, .. } if path == "data.lines[0].lineTotal"),
        "{err}"
    );
    let err = decode_err(&v2_with(|v| v["data"]["lines"][0]["quantity"] = json!("0")));
    assert!(
        matches!(err, DecodeError::InvalidPayload { ref path, .. } if path == "data.lines[0].quantity"),
        "{err}"
    );
}

#[test]
fn unknown_payload_fields_and_extensions_are_tolerated() {
    let e = decode::<DomainEvent>(
        &v2_with(|v| {
            v["data"]["giftWrap"] = json!(true);
            v["partnerextension"] = json!("x");
        }),
        &DecodeOptions::default(),
    )
    .unwrap();
    assert_eq!(e.event_type, "order.placed");
}

#[test]
fn bare_payload_decodes_with_a_configured_type() {
    let v: Value = serde_json::from_slice(&fixture("switchyard-customer-updated-v1.json")).unwrap();
    let event = decode_data::<DomainEvent>(
        "customer.updated",
        1,
        v["data"].clone(),
        &DecodeOptions::default(),
    )
    .unwrap();
    assert_eq!(event.event_type(), "customer.updated");
    assert_eq!(event.subject().as_deref(), Some("C-42"));
}

#[test]
fn caused_by_keeps_the_correlation_and_sets_causation() {
    let cause = decode::<DomainEvent>(
        &fixture("switchyard-order-placed-v2.json"),
        &DecodeOptions::default(),
    )
    .unwrap();
    let DomainEvent::OrderPlaced(order) = &cause.data else {
        panic!()
    };
    let effect = Envelope::new(
        "switchyard/erp-sync",
        switchyard_contracts::events::ErpOrderSyncedV1 {
            order_id: order.order_id.clone(),
            erp_order_number: "ERP-1".into(),
            outcome: SyncOutcome::Created,
            synced_at: "2026-11-20T09:16:01Z".parse().unwrap(),
            origin: None,
        },
    )
    .caused_by(&cause);
    assert_eq!(effect.correlationid, cause.correlationid);
    assert_eq!(effect.causationid.as_deref(), Some(cause.id.as_str()));
    assert_ne!(effect.id, cause.id);
    assert_eq!(effect.subject.as_deref(), Some("SO-1001"));
    assert_eq!(effect.dataversion, 1);
}

#[test]
fn derived_ids_are_stable_per_cause_type_and_scope() {
    let cause = decode::<DomainEvent>(
        &fixture("switchyard-order-placed-v2.json"),
        &DecodeOptions::default(),
    )
    .unwrap();
    let effect = |scope: &str| {
        Envelope::new(
            "switchyard/erp-sync",
            switchyard_contracts::events::ErpOrderSyncedV1 {
                order_id: "SO-1001".into(),
                erp_order_number: "ERP-1".into(),
                outcome: SyncOutcome::Created,
                synced_at: "2026-11-20T09:16:01Z".parse().unwrap(),
                origin: None,
            },
        )
        .derived_from(&cause, scope)
    };
    let first = effect("erp-sync");
    assert_eq!(
        first.id,
        effect("erp-sync").id,
        "a retry derives the same id"
    );
    assert_ne!(first.id, effect("other-function").id);
    let id = uuid::Uuid::parse_str(&first.id).unwrap();
    assert_eq!(id.get_version_num(), 5, "a name-based UUID");
    assert_eq!(first.causationid.as_deref(), Some(cause.id.as_str()));
    assert_eq!(first.correlationid, cause.correlationid);
}

/// The fast path of `decode` (raw `data`, one typed pass) and the tracked
/// path over a `Value` (`decode_value`, what EventBridge `detail`s take)
/// agree on every input: same envelope, or the same error with its path
/// (reading from bytes adds the line and column).
#[test]
fn the_fast_path_and_the_tracked_path_agree() {
    let base: Value = serde_json::from_slice(&fixture("switchyard-order-placed-v2.json")).unwrap();
    let v1: Value = serde_json::from_slice(&fixture("switchyard-order-placed-v1.json")).unwrap();
    let customer: Value =
        serde_json::from_slice(&fixture("switchyard-customer-updated-v1.json")).unwrap();
    let with = |pointer: &str, value: Value| {
        let mut v = base.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        v
    };
    let cases = [
        base.clone(),
        v1,
        customer,
        with("/data/currency", json!("EURO")),
        with("/data/lines/0/unitPrice", json!("ten")),
        with("/data/total", json!("999.00")),
        with("/data", json!([])),
        with("/dataversion", json!(7)),
        with("/dataversion", json!("2")),
        with(
            "/dataschema",
            json!("urn:switchyard:schema:order.placed:v02"),
        ),
        with(
            "/dataschema",
            json!("urn:switchyard:schema:order.placed:v1"),
        ),
        with("/dataschema", json!("https://example.com/schemas/order")),
        with("/specversion", json!("0.3")),
        with("/id", json!(" ")),
        with("/type", json!("order.cancelled")),
        with("/time", json!("yesterday")),
    ];
    let options = eur();
    for case in cases {
        let bytes = serde_json::to_vec(&case).unwrap();
        let fast = decode::<DomainEvent>(&bytes, &options);
        let tracked = switchyard_contracts::decode_value::<DomainEvent>(case.clone(), &options);
        // errors read from bytes add `at line L column C`; the rest is equal
        let strip = |r: Result<Envelope<DomainEvent>, DecodeError>| {
            r.map_err(|e| {
                let text = e.to_string();
                text.split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
        };
        assert_eq!(strip(fast), strip(tracked), "{case}");
    }
    // and a document that is not JSON at all
    assert_eq!(
        decode::<DomainEvent>(b"{\"id\": ", &options)
            .unwrap_err()
            .kind(),
        "invalid_envelope"
    );
}
