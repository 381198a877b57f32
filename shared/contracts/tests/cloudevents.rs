//! CloudEvents 1.0 conformance of the decoder: every rule of the JSON event
//! format (cloudevents/spec `cloudevents/formats/json-format.md`, v1.0.2)
//! and of the core spec's attributes (`cloudevents/spec.md`: naming, the
//! type system, required and optional attributes) has a valid and an
//! invalid case. Spec examples are used as they are where they exist; their
//! types (`com.example.someevent`) are no contract, so a valid one decodes
//! to `not_subscribed` — every envelope rule passed, only the type is not
//! consumed.
//!
//! Each case runs through both entry points, `decode` (bytes, the fast
//! path) and `decode_value` (a parsed `Value`), which must agree.

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use switchyard_contracts::{
    DecodeError, DecodeOptions, DomainEvent, Envelope, Event, decode, decode_batch, decode_value,
    event_set,
};

mod common;
use common::eur;

/// A type whose data may be absent (a notification without payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
struct PingV1(Option<Value>);

impl Event for PingV1 {
    const TYPE: &'static str = "test.ping";
    const VERSION: u32 = 1;
}

event_set! {
    #[derive(Debug, Clone, PartialEq)]
    enum TestEvents {
        Order(switchyard_contracts::events::OrderPlacedV2),
        Ping(PingV1),
    }
}

fn order_data() -> Value {
    json!({
        "orderId": "SO-1", "customerId": "C-1", "currency": "EUR", "lines": [],
        "total": "10.00", "placedAt": "2026-11-20T09:15:58Z"
    })
}

/// The smallest valid event: the four required attributes and `data`.
fn minimal() -> Value {
    json!({
        "specversion": "1.0", "id": "A234-1234-1234", "source": "/mycontext",
        "type": "order.placed", "data": order_data()
    })
}

fn with(mut v: Value, edits: &[(&str, Value)]) -> Value {
    for (k, val) in edits {
        v[*k] = val.clone();
    }
    v
}

fn without(mut v: Value, keys: &[&str]) -> Value {
    for k in keys {
        v.as_object_mut().unwrap().remove(*k);
    }
    v
}

/// Decodes `v` both ways; they must agree (modulo the line/column that
/// reading bytes adds).
fn both(v: &Value) -> Result<Envelope<TestEvents>, DecodeError> {
    let bytes = serde_json::to_vec(v).unwrap();
    let fast = decode::<TestEvents>(&bytes, &eur());
    let tracked = decode_value::<TestEvents>(v.clone(), &eur());
    let text = |r: &Result<Envelope<TestEvents>, DecodeError>| {
        r.as_ref()
            .map_err(|e| {
                e.to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .cloned()
    };
    assert_eq!(text(&fast), text(&tracked), "{v}");
    fast
}

fn ok(v: &Value) -> Envelope<TestEvents> {
    both(v).unwrap_or_else(|e| panic!("{v} must decode: {e}"))
}

fn invalid_at(v: &Value, at: &str) -> String {
    match both(v) {
        Err(DecodeError::InvalidEnvelope { path, message }) => {
            assert_eq!(path, at, "{v}: {message}");
            message
        }
        other => panic!("{v} must be an invalid envelope at {at}, got {other:?}"),
    }
}

#[test]
fn only_the_four_required_attributes_are_needed() {
    let e = ok(&minimal());
    assert_eq!(e.id, "A234-1234-1234");
    assert_eq!(e.time, None, "no time is invented");
    // derived on receipt: the version the set reads, the correlation = the id
    assert_eq!(e.dataversion, 2);
    assert_eq!(e.dataschema, "urn:switchyard:schema:order.placed:v2");
    assert_eq!(e.correlationid, "A234-1234-1234");
    assert_eq!(e.causationid, None);
    assert_eq!(e.datacontenttype, "application/json");
    // and written on publish
    let out: Value = serde_json::from_str(&e.to_json().unwrap()).unwrap();
    assert_eq!(out["dataversion"], 2);
    assert_eq!(out["correlationid"], "A234-1234-1234");
    assert!(out.get("time").is_none());
}

#[test]
fn null_means_absent_for_every_optional_attribute() {
    let e = ok(&with(
        minimal(),
        &[
            ("time", Value::Null),
            ("subject", Value::Null),
            ("datacontenttype", Value::Null),
            ("dataschema", Value::Null),
            ("dataversion", Value::Null),
            ("correlationid", Value::Null),
            ("causationid", Value::Null),
            ("traceparent", Value::Null),
            ("unsetextension", Value::Null),
        ],
    ));
    assert_eq!(
        (e.dataversion, e.correlationid.as_str()),
        (2, "A234-1234-1234")
    );
    // a null required attribute is a missing one
    let msg = invalid_at(&with(minimal(), &[("id", Value::Null)]), "id");
    assert!(msg.contains("missing"), "{msg}");
}

#[test]
fn every_required_attribute_is_required_and_not_empty() {
    for attr in ["specversion", "id", "source", "type"] {
        let msg = invalid_at(&without(minimal(), &[attr]), attr);
        assert!(msg.contains("missing required attribute"), "{attr}: {msg}");
    }
    for attr in ["id", "source", "type"] {
        let msg = invalid_at(&with(minimal(), &[(attr, json!(""))]), attr);
        assert!(msg.contains("empty"), "{attr}: {msg}");
    }
    // a String is a JSON string
    invalid_at(&with(minimal(), &[("id", json!(42))]), "id");
    invalid_at(
        &with(minimal(), &[("type", json!(["order.placed"]))]),
        "type",
    );
    // non-empty is all the spec asks of an id
    assert_eq!(ok(&with(minimal(), &[("id", json!(" "))])).id, " ");
}

#[test]
fn specversion_is_1_0() {
    invalid_at(
        &with(minimal(), &[("specversion", json!("0.3"))]),
        "specversion",
    );
    invalid_at(
        &with(minimal(), &[("specversion", json!(1.0))]),
        "specversion",
    );
}

#[test]
fn optional_string_attributes_are_not_empty_when_present() {
    for attr in ["subject", "dataschema", "datacontenttype"] {
        let msg = invalid_at(&with(minimal(), &[(attr, json!(""))]), attr);
        assert!(msg.contains("empty"), "{attr}: {msg}");
    }
    // Switchyard's own, when present
    for attr in ["correlationid", "causationid"] {
        invalid_at(&with(minimal(), &[(attr, json!(""))]), attr);
    }
    let e = ok(&with(
        minimal(),
        &[("subject", json!("SO-1")), ("causationid", json!("c-1"))],
    ));
    assert_eq!(e.subject.as_deref(), Some("SO-1"));
}

#[test]
fn attribute_names_are_lower_case_letters_and_digits_up_to_20() {
    for name in ["comexampleextension1", "a", "x1234567890123456789"] {
        ok(&with(minimal(), &[(name, json!("value"))]));
    }
    for name in [
        "Comexampleextension",
        "com_example",
        "com-example",
        "com.example",
        "x12345678901234567890",
        "ünicode",
    ] {
        let msg = invalid_at(&with(minimal(), &[(name, json!("value"))]), name);
        assert!(msg.contains("attribute name"), "{name}: {msg}");
    }
}

#[test]
fn extension_values_have_a_cloudevents_type() {
    for value in [
        json!(true),
        json!(5),
        json!(-2_147_483_648_i64),
        json!(2_147_483_647),
        json!("value"),
        json!("https://example.com/x"),
        json!("2018-04-05T17:31:00Z"),
        json!("aGVsbG8="),
    ] {
        ok(&with(minimal(), &[("comexampleothervalue", value)]));
    }
    for value in [
        json!(2_147_483_648_i64),
        json!(-2_147_483_649_i64),
        json!(1.5),
        json!(1e3),
        json!({ "a": 1 }),
        json!([1, 2]),
    ] {
        let msg = invalid_at(
            &with(minimal(), &[("comexampleothervalue", value.clone())]),
            "comexampleothervalue",
        );
        assert!(msg.contains("extension"), "{value}: {msg}");
    }
}

#[test]
fn time_is_an_rfc_3339_timestamp() {
    for t in [
        "2018-04-05T17:31:00Z",
        "1985-04-12T23:20:50.52Z",
        "1996-12-19T16:39:57-08:00",
    ] {
        let e = ok(&with(minimal(), &[("time", json!(t))]));
        assert!(e.time.is_some(), "{t}");
    }
    for t in [
        json!("yesterday"),
        json!("2018-04-05"),
        json!("2018-04-05T17:31:00"),
        json!("2018-04-05 17:31:00Z"),
        json!("2018-02-30T17:31:00Z"),
    ] {
        invalid_at(&with(minimal(), &[("time", t)]), "time");
    }
    // a Timestamp is a JSON string, not epoch seconds
    invalid_at(&with(minimal(), &[("time", json!(1_522_949_460))]), "time");
}

#[test]
fn source_is_a_uri_reference() {
    // the spec's examples of `source`
    for s in [
        "https://github.com/cloudevents",
        "mailto:cncf-wg-serverless@lists.cncf.io",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
        "cloudevents/spec/pull/123",
        "/sensors/tn-1234567/alerts",
        "1-555-123-4567",
    ] {
        assert_eq!(ok(&with(minimal(), &[("source", json!(s))])).source, s);
    }
    for s in ["has space", ":no-scheme", "http://x/%zz", "a#b#c", "<tag>"] {
        let msg = invalid_at(&with(minimal(), &[("source", json!(s))]), "source");
        assert!(msg.contains("URI-reference"), "{s}: {msg}");
    }
}

#[test]
fn dataschema_is_a_uri_reference_and_gives_the_version() {
    // another producer's schema: the version is the one the set reads
    let e = ok(&with(
        minimal(),
        &[(
            "dataschema",
            json!("https://example.com/schemas/order.json"),
        )],
    ));
    assert_eq!(e.dataversion, 2);
    // a Switchyard schema names the version (here v1, upcast)
    let v1 = json!({
        "specversion": "1.0", "id": "v1", "source": "legacy", "type": "order.placed",
        "dataschema": "urn:switchyard:schema:order.placed:v1",
        "data": { "orderId": "O-V1", "customerId": "C-1", "totalAmount": "12.50", "placedAt": "2026-11-23T08:59:00Z" }
    });
    assert_eq!(ok(&v1).dataversion, 2, "read as v1 and upcast");
    // relative references too: Azure Event Grid sends `"dataschema": "#"`
    for s in ["#", "/schemas/order.json"] {
        assert_eq!(
            ok(&with(minimal(), &[("dataschema", json!(s))])).dataversion,
            2
        );
    }
    for s in ["not a uri", ":x", "http://x/%zz"] {
        let msg = invalid_at(&with(minimal(), &[("dataschema", json!(s))]), "dataschema");
        assert!(msg.contains("URI-reference"), "{s}: {msg}");
    }
    // a Switchyard schema must agree with the type and dataversion
    invalid_at(
        &with(
            minimal(),
            &[
                ("dataschema", json!("urn:switchyard:schema:order.placed:v2")),
                ("dataversion", json!(1)),
            ],
        ),
        "dataschema",
    );
    invalid_at(
        &with(
            minimal(),
            &[(
                "dataschema",
                json!("urn:switchyard:schema:customer.updated:v1"),
            )],
        ),
        "dataschema",
    );
}

#[test]
fn dataversion_is_a_32_bit_integer() {
    // an Integer, or its canonical string form (as binary-mode headers carry it)
    assert_eq!(
        ok(&with(minimal(), &[("dataversion", json!(2))])).dataversion,
        2
    );
    assert_eq!(
        ok(&with(minimal(), &[("dataversion", json!("2"))])).dataversion,
        2
    );
    for v in [
        json!(-1),
        json!("02"),
        json!(4_294_967_296_i64),
        json!(2_147_483_648_i64),
        json!("two"),
    ] {
        invalid_at(&with(minimal(), &[("dataversion", v)]), "dataversion");
    }
}

#[test]
fn datacontenttype_is_a_media_type_and_data_must_be_json() {
    for ct in [
        "application/json",
        "application/json; charset=utf-8",
        "application/vnd.switchyard.order+json",
        "text/json",
    ] {
        assert_eq!(
            ok(&with(minimal(), &[("datacontenttype", json!(ct))])).datacontenttype,
            ct
        );
    }
    invalid_at(
        &with(minimal(), &[("datacontenttype", json!("json"))]),
        "datacontenttype",
    );
    // spec-valid, but a contract cannot be read from XML
    let msg = invalid_at(
        &with(
            minimal(),
            &[
                ("datacontenttype", json!("application/xml")),
                ("data", json!("<much wow=\"xml\"/>")),
            ],
        ),
        "datacontenttype",
    );
    assert!(msg.contains("not JSON"), "{msg}");
}

#[test]
fn data_base64_holds_the_data_and_excludes_data() {
    let encoded = base64::engine::general_purpose::STANDARD.encode(order_data().to_string());
    let e = ok(&with(
        without(minimal(), &["data"]),
        &[
            ("data_base64", json!(encoded)),
            ("datacontenttype", json!("application/json")),
        ],
    ));
    assert!(matches!(e.data, TestEvents::Order(ref o) if o.order_id == "SO-1"));
    // without datacontenttype: JSON, as the format says
    ok(&with(
        without(minimal(), &["data"]),
        &[("data_base64", json!(encoded))],
    ));
    let msg = invalid_at(
        &with(minimal(), &[("data_base64", json!(encoded))]),
        "data_base64",
    );
    assert!(msg.contains("mutually exclusive"), "{msg}");
    invalid_at(
        &with(
            without(minimal(), &["data"]),
            &[("data_base64", json!("***"))],
        ),
        "data_base64",
    );
}

#[test]
fn an_event_without_data_decodes_when_its_type_allows_it() {
    let ping =
        json!({ "specversion": "1.0", "id": "p-1", "source": "/monitor", "type": "test.ping" });
    assert_eq!(ok(&ping).data, TestEvents::Ping(PingV1(None)));
    // an explicit null payload is a payload too
    assert_eq!(
        ok(&with(ping, &[("data", Value::Null)])).data,
        TestEvents::Ping(PingV1(None))
    );
    // a type that needs a payload: a clear error, not a panic
    match both(&without(minimal(), &["data"])) {
        Err(DecodeError::InvalidPayload { path, message, .. }) => {
            assert_eq!(path, "data");
            assert!(message.contains("no `data`"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_spec_examples_are_valid_envelopes() {
    // json-format.md §3.2: binary data, XML data, JSON data, a JSON string
    let examples = [
        json!({
            "specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext",
            "id": "A234-1234-1234", "time": "2018-04-05T17:31:00Z",
            "comexampleextension1": "value", "comexampleothervalue": 5,
            "datacontenttype": "application/vnd.apache.thrift.binary", "data_base64": "aGVsbG8="
        }),
        json!({
            "specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext",
            "id": "B234-1234-1234", "time": "2018-04-05T17:31:00Z",
            "comexampleextension1": "value", "comexampleothervalue": 5, "unsetextension": null,
            "datacontenttype": "application/xml", "data": "<much wow=\"xml\"/>"
        }),
        json!({
            "specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext",
            "subject": null, "id": "C234-1234-1234", "time": "2018-04-05T17:31:00Z",
            "comexampleextension1": "value", "comexampleothervalue": 5,
            "datacontenttype": "application/json",
            "data": { "appinfoA": "abc", "appinfoB": 123, "appinfoC": true }
        }),
        json!({
            "specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext",
            "subject": null, "id": "D234-1234-1234", "time": "2018-04-05T17:31:00Z",
            "comexampleextension1": "value", "comexampleothervalue": 5,
            "data": "I'm just a string"
        }),
    ];
    let event_grid = json!({
        // Microsoft Learn, "CloudEvents v1.0 schema with Azure Event Grid"
        // (its placeholders filled in: `{` is no URI character)
        "specversion": "1.0", "type": "Microsoft.Storage.BlobCreated",
        "source": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/crm/providers/Microsoft.Storage/storageAccounts/contoso",
        "id": "9aeb0fdf-c01e-0131-0922-9eb54906e209", "time": "2019-11-18T15:13:39.4589254Z",
        "subject": "blobServices/default/containers/{storage-container}/blobs/{new-file}",
        "dataschema": "#",
        "data": { "api": "PutBlockList", "contentType": "image/png", "contentLength": 30699 }
    });
    let examples: Vec<Value> = examples.into_iter().chain([event_grid]).collect();
    for e in examples {
        let err = both(&e).unwrap_err();
        assert_eq!(err.kind(), "not_subscribed", "{e}: {err}");
        // whatever else it carries: a type outside the set is the policy's
        let with_version = with(e, &[("dataversion", json!(3))]);
        assert_eq!(both(&with_version).unwrap_err().kind(), "not_subscribed");
    }
}

#[test]
fn documents_that_are_not_one_event_object() {
    for doc in [json!([]), json!("event"), json!(1)] {
        invalid_at(&doc, ".");
    }
    let dup = br#"{"specversion":"1.0","id":"a","id":"b","source":"/s","type":"test.ping"}"#;
    let err = decode::<TestEvents>(dup, &DecodeOptions::default()).unwrap_err();
    assert!(err.to_string().contains("duplicate field `id`"), "{err}");
}

#[test]
fn the_batch_format_is_an_array_of_events() {
    // json-format.md §4.3, with a contract event added
    let batch = json!([
        {
            "specversion": "1.0", "type": "com.example.someevent", "source": "/mycontext/4",
            "id": "B234-1234-1234", "time": "2018-04-05T17:31:00Z",
            "datacontenttype": "application/vnd.apache.thrift.binary", "data_base64": "aGVsbG8="
        },
        minimal(),
        with(minimal(), &[("id", json!("bad-time")), ("time", json!("noon"))]),
    ]);
    let results = decode_batch::<DomainEvent>(batch.to_string().as_bytes(), &eur()).unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[0].as_ref().unwrap_err().kind(), "not_subscribed");
    assert_eq!(results[1].as_ref().unwrap().id, "A234-1234-1234");
    assert!(
        matches!(&results[2], Err(DecodeError::InvalidEnvelope { path, .. }) if path == "[2].time"),
        "{:?}",
        results[2]
    );
    // the empty batch
    assert!(
        decode_batch::<DomainEvent>(b"[]", &eur())
            .unwrap()
            .is_empty()
    );
    // not an array
    for doc in [&b"{}"[..], b"[1", b""] {
        assert_eq!(
            decode_batch::<DomainEvent>(doc, &eur()).unwrap_err().kind(),
            "invalid_envelope"
        );
    }
}
