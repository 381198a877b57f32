//! The compatibility gate: compares a directory of event schemas against a
//! baseline directory and rejects breaking changes.
//!
//! Breaking: a removed event version, a removed (or renamed) field, a type
//! change (including `format` and `anyOf`/`oneOf` variants), a new required
//! field (new, or an optional one made required), a narrowed enum.
//! Accepted: new optional fields, new events, new versions, widened enums,
//! changed descriptions.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The kinds of breaking change the gate rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ViolationKind {
    /// A schema file of the baseline is gone.
    RemovedEvent,
    /// A property of the baseline is gone (removed or renamed).
    RemovedField,
    /// A value's type, format or variants changed.
    TypeChanged,
    /// A property is required now that was not before.
    NewRequiredField,
    /// An enum lost values, or a free value became an enum.
    EnumNarrowed,
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ViolationKind::RemovedEvent => "removed event version",
            ViolationKind::RemovedField => "removed or renamed field",
            ViolationKind::TypeChanged => "type changed",
            ViolationKind::NewRequiredField => "new required field",
            ViolationKind::EnumNarrowed => "enum narrowed",
        })
    }
}

/// One breaking change.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    /// The schema file, e.g. `order.placed.v2.json`.
    pub file: String,
    /// Where in the payload, e.g. `lines[].unitPrice` (empty for the root).
    pub path: String,
    /// What kind of break.
    pub kind: ViolationKind,
    /// Details: the values or types involved.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.path.is_empty() {
            "<root>"
        } else {
            &self.path
        };
        write!(f, "{}: {} `{}`: {}", self.file, self.kind, at, self.detail)
    }
}

/// The result of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Breaking changes; the gate fails when this is not empty.
    pub violations: Vec<Violation>,
    /// Compatible changes, for the log (new events, new optional fields...).
    pub additions: Vec<String>,
}

impl Report {
    /// True when nothing breaks.
    pub fn is_compatible(&self) -> bool {
        self.violations.is_empty()
    }
}

/// A schema directory that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    /// Reading a directory or file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A file is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    Json {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A directory holds no schema files (a typo in a path, most likely).
    #[error("{0} contains no *.json schema files")]
    Empty(PathBuf),
}

/// Loads every `*.json` file of a directory, keyed by file name.
pub fn load_dir(dir: &Path) -> Result<BTreeMap<String, Value>, CompatError> {
    let io = |source| CompatError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).map_err(|source| CompatError::Io {
            path: path.clone(),
            source,
        })?;
        let value = serde_json::from_str(&text).map_err(|source| CompatError::Json {
            path: path.clone(),
            source,
        })?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.insert(name, value);
    }
    if out.is_empty() {
        return Err(CompatError::Empty(dir.to_owned()));
    }
    Ok(out)
}

/// Compares two schema directories.
pub fn check_dirs(baseline: &Path, current: &Path) -> Result<Report, CompatError> {
    Ok(check_sets(&load_dir(baseline)?, &load_dir(current)?))
}

/// Compares two sets of schemas keyed by file name.
pub fn check_sets(baseline: &BTreeMap<String, Value>, current: &BTreeMap<String, Value>) -> Report {
    let mut report = Report::default();
    for (name, base) in baseline {
        match current.get(name) {
            None => report.violations.push(Violation {
                file: name.clone(),
                path: String::new(),
                kind: ViolationKind::RemovedEvent,
                detail: "the schema file is missing from the current set".to_owned(),
            }),
            Some(cur) => {
                let mut cx = Cx {
                    file: name,
                    base_root: base,
                    cur_root: cur,
                    report: &mut report,
                    seen: BTreeSet::new(),
                };
                cx.compare("", base, cur);
            }
        }
    }
    for name in current.keys().filter(|n| !baseline.contains_key(*n)) {
        report.additions.push(format!("{name}: new event version"));
    }
    report.violations.sort();
    report
}

struct Cx<'a> {
    file: &'a str,
    base_root: &'a Value,
    cur_root: &'a Value,
    report: &'a mut Report,
    /// ($ref, $ref) pairs already compared, so recursive types terminate.
    seen: BTreeSet<(String, String)>,
}

fn resolve<'v>(root: &'v Value, schema: &'v Value) -> (&'v Value, Option<String>) {
    let mut s = schema;
    let mut last = None;
    for _ in 0..32 {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(pointer) = r.strip_prefix('#') else {
            break;
        };
        match root.pointer(pointer) {
            Some(target) => {
                last = Some(r.to_owned());
                s = target;
            }
            None => break,
        }
    }
    (s, last)
}

fn type_set(schema: &Value) -> Option<BTreeSet<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn str_set(schema: &Value, key: &str) -> BTreeSet<String> {
    schema
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

impl Cx<'_> {
    fn violation(&mut self, path: &str, kind: ViolationKind, detail: String) {
        self.report.violations.push(Violation {
            file: self.file.to_owned(),
            path: path.to_owned(),
            kind,
            detail,
        });
    }

    fn compare(&mut self, path: &str, base: &Value, cur: &Value) {
        let (base, base_ref) = resolve(self.base_root, base);
        let (cur, cur_ref) = resolve(self.cur_root, cur);
        if let (Some(b), Some(c)) = (&base_ref, &cur_ref) {
            if !self.seen.insert((b.clone(), c.clone())) {
                return;
            }
        }
        if !base.is_object() || !cur.is_object() {
            return; // boolean schemas: nothing to compare
        }

        // type and format
        let (bt, ct) = (type_set(base), type_set(cur));
        if bt != ct && bt.is_some() {
            self.violation(
                path,
                ViolationKind::TypeChanged,
                format!("type {} became {}", show_types(&bt), show_types(&ct)),
            );
            return;
        }
        let (bf, cf) = (base.get("format"), cur.get("format"));
        if bf != cf {
            self.violation(
                path,
                ViolationKind::TypeChanged,
                format!("format {} became {}", show_opt(bf), show_opt(cf)),
            );
        }

        // enums and consts
        self.compare_enum(path, base, cur);

        // variants (an all-`const` oneOf/anyOf is an enum, compared above)
        for key in ["anyOf", "oneOf"] {
            if const_variants(base, key).is_some() {
                continue;
            }
            let bv = base.get(key).and_then(Value::as_array);
            let cv = cur.get(key).and_then(Value::as_array);
            match (bv, cv) {
                (Some(bv), Some(cv)) => {
                    if cv.len() < bv.len() {
                        self.violation(
                            path,
                            ViolationKind::TypeChanged,
                            format!("{key} lost variants ({} → {})", bv.len(), cv.len()),
                        );
                    }
                    for (b, c) in bv.iter().zip(cv) {
                        self.compare(path, b, c);
                    }
                }
                (Some(_), None) => self.violation(
                    path,
                    ViolationKind::TypeChanged,
                    format!("{key} variants were replaced by a single schema"),
                ),
                _ => {}
            }
        }

        // objects
        let empty = serde_json::Map::new();
        let bp = base
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let cp = cur
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let br = str_set(base, "required");
        let cr = str_set(cur, "required");
        for (name, bs) in bp {
            let field = join(path, name);
            match cp.get(name) {
                Some(cs) => self.compare(&field, bs, cs),
                None => {
                    let added: Vec<&String> = cp.keys().filter(|k| !bp.contains_key(*k)).collect();
                    let hint = if added.is_empty() {
                        String::new()
                    } else {
                        format!(
                            " (new fields here: {})",
                            added
                                .iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    };
                    self.violation(
                        &field,
                        ViolationKind::RemovedField,
                        format!("field `{name}` is gone{hint}"),
                    );
                }
            }
        }
        for name in cr.difference(&br) {
            let detail = if bp.contains_key(name) {
                format!("optional field `{name}` became required")
            } else {
                format!("new field `{name}` is required; add it as optional instead")
            };
            self.violation(&join(path, name), ViolationKind::NewRequiredField, detail);
        }
        for name in cp
            .keys()
            .filter(|k| !bp.contains_key(*k) && !cr.contains(*k))
        {
            self.report.additions.push(format!(
                "{}: new optional field `{}`",
                self.file,
                join(path, name)
            ));
        }

        // arrays
        if let (Some(bi), Some(ci)) = (base.get("items"), cur.get("items")) {
            self.compare(&format!("{path}[]"), bi, ci);
        }
        // maps
        if let (Some(ba), Some(ca)) = (
            base.get("additionalProperties"),
            cur.get("additionalProperties"),
        ) {
            if ba.is_object() && ca.is_object() {
                self.compare(&format!("{path}{{}}"), ba, ca);
            }
        }
    }

    fn compare_enum(&mut self, path: &str, base: &Value, cur: &Value) {
        let values = |s: &Value| -> Option<Vec<Value>> {
            s.get("enum")
                .and_then(Value::as_array)
                .cloned()
                .or_else(|| s.get("const").map(|c| vec![c.clone()]))
                .or_else(|| const_variants(s, "oneOf"))
                .or_else(|| const_variants(s, "anyOf"))
        };
        match (values(base), values(cur)) {
            (Some(bv), Some(cv)) => {
                let lost: Vec<String> = bv
                    .iter()
                    .filter(|v| !cv.contains(v))
                    .map(Value::to_string)
                    .collect();
                if !lost.is_empty() {
                    self.violation(
                        path,
                        ViolationKind::EnumNarrowed,
                        format!("values removed: {}", lost.join(", ")),
                    );
                }
            }
            (None, Some(cv)) => self.violation(
                path,
                ViolationKind::EnumNarrowed,
                format!(
                    "any value became one of {}",
                    cv.iter()
                        .map(Value::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
            _ => {}
        }
    }
}

/// The values of a `oneOf`/`anyOf` whose every variant is a `const` or an
/// `enum` (how schemars renders documented unit enum variants).
fn const_variants(schema: &Value, key: &str) -> Option<Vec<Value>> {
    let variants = schema.get(key)?.as_array()?;
    let mut out = Vec::new();
    for v in variants {
        if let Some(c) = v.get("const") {
            out.push(c.clone());
        } else if let Some(e) = v.get("enum").and_then(Value::as_array) {
            out.extend(e.iter().cloned());
        } else {
            return None;
        }
    }
    Some(out)
}

fn show_types(t: &Option<BTreeSet<String>>) -> String {
    match t {
        None => "<unspecified>".to_owned(),
        Some(set) => set.iter().cloned().collect::<Vec<_>>().join("|"),
    }
}

fn show_opt(v: Option<&Value>) -> String {
    v.map_or_else(|| "<none>".to_owned(), Value::to_string)
}
