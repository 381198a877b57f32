//! The committed schemas under `schemas/` are exactly what the code generates.

use std::collections::BTreeSet;

use switchyard_contracts::schema::{all_schemas, render};

#[test]
fn committed_schemas_match_the_code() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let generated = all_schemas();
    let mut drift = Vec::new();
    for (name, schema) in &generated {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == render(schema) => {}
            Ok(_) => drift.push(format!("{name} differs from the code")),
            Err(_) => drift.push(format!("{name} is not committed")),
        }
    }
    let committed: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for name in committed {
        if !generated.contains_key(&name) {
            drift.push(format!(
                "{name} is committed but no event version generates it"
            ));
        }
    }
    assert!(
        drift.is_empty(),
        "schemas drifted from the code:\n  {}\nregenerate with `cargo run -p switchyard-local -- contracts export`",
        drift.join("\n  ")
    );
}

#[test]
fn every_schema_names_its_event_version() {
    for (name, schema) in all_schemas() {
        let id = schema["$id"].as_str().unwrap();
        let stem = name.trim_end_matches(".json");
        let (ty, version) = stem.rsplit_once(".v").unwrap();
        assert_eq!(id, format!("urn:switchyard:schema:{ty}:v{version}"));
        assert_eq!(schema["type"], "object", "{name}");
    }
}

#[test]
fn money_is_a_string_in_every_schema() {
    let order = &all_schemas()["order.placed.v2.json"];
    let amount = &order["$defs"]["Amount"];
    assert_eq!(amount["type"], "string");
    assert_eq!(order["$defs"]["Currency"]["pattern"], "^[A-Z]{3}$");
}
