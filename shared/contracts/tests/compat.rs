//! The compatibility gate accepts additive changes and rejects each kind of
//! breaking change, on the real schemas of this crate.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use switchyard_contracts::compat::{ViolationKind, check_dirs, check_sets};
use switchyard_contracts::schema::{all_schemas, export};

const ORDER: &str = "order.placed.v2.json";
const SYNCED: &str = "erp.order-synced.v1.json";

fn changed(
    file: &str,
    edit: impl FnOnce(&mut Value),
) -> (BTreeMap<String, Value>, BTreeMap<String, Value>) {
    let base = all_schemas();
    let mut cur = base.clone();
    edit(cur.get_mut(file).unwrap());
    (base, cur)
}

fn kinds(
    base: &BTreeMap<String, Value>,
    cur: &BTreeMap<String, Value>,
) -> Vec<(ViolationKind, String)> {
    check_sets(base, cur)
        .violations
        .into_iter()
        .map(|v| (v.kind, v.path))
        .collect()
}

fn remove_required(schema: &mut Value, field: &str) {
    let req = schema["required"].as_array_mut().unwrap();
    req.retain(|f| f != field);
}

#[test]
fn identical_schemas_are_compatible() {
    let s = all_schemas();
    assert!(check_sets(&s, &s).is_compatible());
}

#[test]
fn additive_changes_are_accepted() {
    let (base, mut cur) = changed(ORDER, |s| {
        s["properties"]["giftMessage"] = json!({ "type": ["string", "null"] });
        s["$defs"]["OrderLine"]["properties"]["discount"] = json!({ "$ref": "#/$defs/Amount" });
    });
    // a new event type and a new version of an existing one
    cur.insert(
        "order.cancelled.v1.json".into(),
        json!({ "type": "object" }),
    );
    cur.insert(
        "customer.updated.v2.json".into(),
        json!({ "type": "object" }),
    );
    // an enum that gains a value
    cur.get_mut(SYNCED).unwrap()["$defs"]["SyncOutcome"]["oneOf"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "const": "rejected", "type": "string" }));
    let report = check_sets(&base, &cur);
    assert!(report.is_compatible(), "{:?}", report.violations);
    let additions = report.additions.join("\n");
    assert!(
        additions.contains("new optional field `giftMessage`"),
        "{additions}"
    );
    assert!(
        additions.contains("new optional field `lines[].discount`"),
        "{additions}"
    );
    assert!(
        additions.contains("order.cancelled.v1.json: new event version"),
        "{additions}"
    );
}

#[test]
fn removed_field_is_rejected_and_named() {
    let (base, cur) = changed(ORDER, |s| {
        s["properties"].as_object_mut().unwrap().remove("currency");
        remove_required(s, "currency");
    });
    assert_eq!(
        kinds(&base, &cur),
        vec![(ViolationKind::RemovedField, "currency".to_owned())]
    );
}

#[test]
fn renamed_field_is_rejected_as_removed() {
    let (base, cur) = changed(ORDER, |s| {
        let props = s["properties"].as_object_mut().unwrap();
        let v = props.remove("customerId").unwrap();
        props.insert("clientId".into(), v);
        remove_required(s, "customerId");
    });
    let report = check_sets(&base, &cur);
    assert_eq!(report.violations.len(), 1);
    let v = &report.violations[0];
    assert_eq!(
        (v.kind, v.path.as_str()),
        (ViolationKind::RemovedField, "customerId")
    );
    assert!(v.detail.contains("clientId"), "{v}");
}

#[test]
fn nested_removed_field_is_rejected() {
    let (base, cur) = changed(ORDER, |s| {
        let line = &mut s["$defs"]["OrderLine"];
        line["properties"].as_object_mut().unwrap().remove("sku");
        remove_required(line, "sku");
    });
    assert_eq!(
        kinds(&base, &cur),
        vec![(ViolationKind::RemovedField, "lines[].sku".to_owned())]
    );
}

#[test]
fn type_change_is_rejected() {
    let (base, cur) = changed(ORDER, |s| {
        s["properties"]["orderId"] = json!({ "type": "integer" })
    });
    assert_eq!(
        kinds(&base, &cur),
        vec![(ViolationKind::TypeChanged, "orderId".to_owned())]
    );
}

#[test]
fn format_change_is_rejected() {
    let (base, cur) = changed(ORDER, |s| {
        s["properties"]["placedAt"]
            .as_object_mut()
            .unwrap()
            .remove("format");
    });
    assert_eq!(
        kinds(&base, &cur),
        vec![(ViolationKind::TypeChanged, "placedAt".to_owned())]
    );
}

#[test]
fn new_required_field_is_rejected() {
    let (base, cur) = changed(ORDER, |s| {
        s["properties"]["channel"] = json!({ "type": "string" });
        s["required"].as_array_mut().unwrap().push(json!("channel"));
    });
    assert_eq!(
        kinds(&base, &cur),
        vec![(ViolationKind::NewRequiredField, "channel".to_owned())]
    );
}

#[test]
fn optional_field_made_required_is_rejected() {
    let customer = "customer.updated.v1.json";
    let (base, cur) = changed(customer, |s| {
        s["required"].as_array_mut().unwrap().push(json!("email"))
    });
    assert_eq!(
        kinds(&base, &cur),
        vec![(ViolationKind::NewRequiredField, "email".to_owned())]
    );
}

#[test]
fn narrowed_enum_is_rejected() {
    let (base, cur) = changed(SYNCED, |s| {
        s["$defs"]["SyncOutcome"]["oneOf"]
            .as_array_mut()
            .unwrap()
            .retain(|v| v["const"] != "unchanged");
    });
    let report = check_sets(&base, &cur);
    assert_eq!(report.violations.len(), 1);
    assert_eq!(report.violations[0].kind, ViolationKind::EnumNarrowed);
    assert_eq!(report.violations[0].path, "outcome");
    assert!(report.violations[0].detail.contains("\"unchanged\""));
}

#[test]
fn removed_event_version_is_rejected() {
    let base = all_schemas();
    let mut cur = base.clone();
    cur.remove("order.placed.v1.json");
    let report = check_sets(&base, &cur);
    assert_eq!(report.violations.len(), 1);
    assert_eq!(report.violations[0].kind, ViolationKind::RemovedEvent);
    assert_eq!(report.violations[0].file, "order.placed.v1.json");
}

#[test]
fn directories_are_compared_file_by_file() {
    let base = tempfile::tempdir().unwrap();
    let cur = tempfile::tempdir().unwrap();
    export(base.path()).unwrap();
    export(cur.path()).unwrap();
    assert!(check_dirs(base.path(), cur.path()).unwrap().is_compatible());
    std::fs::remove_file(cur.path().join(ORDER)).unwrap();
    let report = check_dirs(base.path(), cur.path()).unwrap();
    assert_eq!(report.violations.len(), 1);
    let empty = tempfile::tempdir().unwrap();
    assert!(
        check_dirs(base.path(), empty.path()).is_err(),
        "an empty directory is an error, not a pass"
    );
}
