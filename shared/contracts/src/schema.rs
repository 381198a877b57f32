//! JSON Schema generation for every event version, and the files committed
//! under `shared/contracts/schemas/`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::catalog::catalog;
use crate::envelope::schema_uri;
use crate::events::Event;

/// The committed schema directory, relative to the workspace root.
pub const SCHEMA_DIR: &str = "shared/contracts/schemas";

/// The file name of one event version's schema: `order.placed.v2.json`.
pub fn file_name(event_type: &str, version: u32) -> String {
    format!("{event_type}.v{version}.json")
}

/// The JSON Schema (draft 2020-12) of one event version's payload, with
/// `$id` set to its `dataschema` URI.
pub fn schema_for<T: Event>() -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Value::Object(map) = &mut value {
        map.insert(
            "$id".to_owned(),
            Value::String(schema_uri(T::TYPE, T::VERSION)),
        );
        map.insert(
            "title".to_owned(),
            Value::String(format!("{} v{}", T::TYPE, T::VERSION)),
        );
    }
    value
}

/// Every event version's schema, keyed by file name.
pub fn all_schemas() -> BTreeMap<String, Value> {
    catalog()
        .into_iter()
        .map(|e| (file_name(e.event_type, e.version), (e.schema)()))
        .collect()
}

/// The exact bytes written for a schema (pretty JSON, trailing newline).
pub fn render(schema: &Value) -> String {
    let mut s = serde_json::to_string_pretty(schema).unwrap_or_default();
    s.push('\n');
    s
}

/// Writes every schema into `dir` (created if missing) and returns the paths.
pub fn export(dir: &Path) -> io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (name, schema) in all_schemas() {
        let path = dir.join(name);
        std::fs::write(&path, render(&schema))?;
        written.push(path);
    }
    Ok(written)
}
