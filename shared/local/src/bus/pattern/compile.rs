//! Validation: a pattern's JSON becomes a [`Pattern`], or the error
//! EventBridge would give for it.

use serde_json::{Map, Value};

use super::PatternError;
use super::ops::{Cidr, Literal, Wildcard};

/// A validated pattern: every field must match, and every `$or` must have
/// one matching alternative. Dotted keys are split into nested patterns,
/// and two nested patterns on one key are merged, so that both must hold
/// in the same element of an array of objects.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Pattern {
    pub(super) fields: Vec<(String, Node)>,
    pub(super) any_of: Vec<Vec<Pattern>>,
}

/// What a field of a pattern holds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Node {
    /// A nested pattern, over an object of the event.
    Nested(Pattern),
    /// Alternatives for a leaf value (OR).
    Leaf(Vec<Matcher>),
}

/// One element of a field's array.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Matcher {
    Exact(Literal),
    /// `prefix`; with `equals-ignore-case`, `text` is lower-cased.
    Prefix {
        text: String,
        ignore_case: bool,
    },
    /// `suffix`; with `equals-ignore-case`, `text` is lower-cased.
    Suffix {
        text: String,
        ignore_case: bool,
    },
    /// `equals-ignore-case`, lower-cased.
    EqualsIgnoreCase(String),
    Wildcard(Wildcard),
    /// One condition, or a lower bound then an upper bound.
    Numeric(Vec<(NumOp, f64)>),
    Cidr(Cidr),
    Exists(bool),
    AnythingBut(Exclusion),
}

/// A `numeric` operator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum NumOp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Exclusion {
    Values(Vec<Literal>),
    Prefix(Vec<String>),
    Suffix(Vec<String>),
    /// Lower-cased.
    IgnoreCase(Vec<String>),
    Wildcard(Vec<Wildcard>),
}

impl Pattern {
    fn add(&mut self, key: &str, node: Node) {
        // "a.b" is {"a": {"b": ...}}
        let mut segments = key.rsplit('.');
        let mut node = node;
        let mut first = segments.next().unwrap_or(key);
        for parent in segments {
            node = Node::Nested(Pattern {
                fields: vec![(first.to_owned(), node)],
                any_of: Vec::new(),
            });
            first = parent;
        }
        self.add_segment(first, node);
    }

    fn add_segment(&mut self, key: &str, node: Node) {
        if let Node::Nested(inner) = node {
            let existing = self.fields.iter_mut().find_map(|(k, n)| match n {
                Node::Nested(p) if k == key => Some(p),
                _ => None,
            });
            match existing {
                Some(existing) => {
                    for (k, n) in inner.fields {
                        existing.add_segment(&k, n);
                    }
                    existing.any_of.extend(inner.any_of);
                }
                None => self.fields.push((key.to_owned(), Node::Nested(inner))),
            }
        } else {
            self.fields.push((key.to_owned(), node));
        }
    }
}

fn err(path: &str, reason: impl Into<String>) -> PatternError {
    PatternError {
        path: if path.is_empty() {
            "<root>".to_owned()
        } else {
            path.to_owned()
        },
        reason: reason.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Validates a whole pattern.
pub(super) fn pattern(value: &Value) -> Result<Pattern, PatternError> {
    match value {
        Value::Object(map) => object(map, ""),
        _ => Err(err("", "the pattern is not an object")),
    }
}

fn object(map: &Map<String, Value>, path: &str) -> Result<Pattern, PatternError> {
    if map.is_empty() {
        return Err(err(path, "empty objects are not allowed"));
    }
    let mut out = Pattern::default();
    for (key, value) in map {
        let here = join(path, key);
        if key == "$or" {
            out.any_of.push(alternatives(value, &here)?);
            continue;
        }
        let node = match value {
            Value::Object(inner) => Node::Nested(object(inner, &here)?),
            Value::Array(items) => Node::Leaf(matchers(items, &here)?),
            _ => return Err(err(&here, format!("{key:?} must be an object or an array"))),
        };
        out.add(key, node);
    }
    Ok(out)
}

fn alternatives(value: &Value, path: &str) -> Result<Vec<Pattern>, PatternError> {
    match value {
        Value::Array(items) if items.len() >= 2 => items
            .iter()
            .map(|item| match item {
                Value::Object(map) => object(map, path),
                _ => Err(err(path, "each $or alternative must be an object")),
            })
            .collect(),
        _ => Err(err(path, "$or takes an array of at least 2 patterns")),
    }
}

fn matchers(items: &[Value], path: &str) -> Result<Vec<Matcher>, PatternError> {
    if items.is_empty() {
        return Err(err(path, "empty arrays are not allowed"));
    }
    items
        .iter()
        .map(|item| match item {
            Value::Object(op) => operator(op, path),
            other => Literal::of(other).map(Matcher::Exact).ok_or_else(|| {
                err(
                    path,
                    "a match value must be a string, number, true, false, null or an operator object",
                )
            }),
        })
        .collect()
}

fn operator(obj: &Map<String, Value>, path: &str) -> Result<Matcher, PatternError> {
    let mut entries = obj.iter();
    let (Some((op, arg)), None) = (entries.next(), entries.next()) else {
        return Err(err(path, "a match expression has exactly one operator"));
    };
    let bad = |reason: String| err(path, reason);
    Ok(match op.as_str() {
        "prefix" | "suffix" => {
            let (text, ignore_case) = affix(op, arg).map_err(bad)?;
            if op == "prefix" {
                Matcher::Prefix { text, ignore_case }
            } else {
                Matcher::Suffix { text, ignore_case }
            }
        }
        "equals-ignore-case" => match arg {
            Value::String(s) => Matcher::EqualsIgnoreCase(s.to_lowercase()),
            _ => {
                return Err(bad(
                    "equals-ignore-case match pattern must be a string".into()
                ));
            }
        },
        "wildcard" => match arg {
            Value::String(s) => Matcher::Wildcard(Wildcard::parse(s).map_err(bad)?),
            _ => return Err(bad("wildcard match pattern must be a string".into())),
        },
        "exists" => match arg {
            Value::Bool(b) => Matcher::Exists(*b),
            _ => {
                return Err(bad(
                    "exists match pattern must be either true or false".into()
                ));
            }
        },
        "cidr" => match arg {
            Value::String(s) => Matcher::Cidr(Cidr::parse(s).map_err(bad)?),
            _ => return Err(bad("cidr match pattern must be a string".into())),
        },
        "numeric" => Matcher::Numeric(numeric(arg).map_err(bad)?),
        "anything-but" => Matcher::AnythingBut(anything_but(arg).map_err(bad)?),
        other => return Err(bad(format!("unrecognized match type {other}"))),
    })
}

/// `prefix` / `suffix`: a string (empty matches every string), or
/// `{"equals-ignore-case": string}`.
fn affix(op: &str, arg: &Value) -> Result<(String, bool), String> {
    match arg {
        Value::String(s) => Ok((s.clone(), false)),
        Value::Object(inner) => match (inner.len(), inner.get("equals-ignore-case")) {
            (1, Some(Value::String(s))) => Ok((s.to_lowercase(), true)),
            (1, Some(_)) => Err(format!(
                "{op}/equals-ignore-case match pattern must be a string"
            )),
            _ => Err(format!(
                "{op} takes a string or {{\"equals-ignore-case\": string}}"
            )),
        },
        _ => Err(format!("{op} match pattern must be a string")),
    }
}

fn numeric(arg: &Value) -> Result<Vec<(NumOp, f64)>, String> {
    let shape = "numeric takes an array such as [\">\", 0, \"<=\", 5]";
    let Value::Array(items) = arg else {
        return Err(shape.to_owned());
    };
    let op_at = |i: usize| match items.get(i) {
        Some(Value::String(s)) => match s.as_str() {
            "=" => Ok(NumOp::Eq),
            "<" => Ok(NumOp::Lt),
            "<=" => Ok(NumOp::Le),
            ">" => Ok(NumOp::Gt),
            ">=" => Ok(NumOp::Ge),
            other => Err(format!("unrecognized numeric range operator: {other}")),
        },
        Some(other) => Err(format!("invalid member in numeric match: {other}")),
        None => Err(shape.to_owned()),
    };
    let value_at = |i: usize, op: NumOp| {
        items.get(i).and_then(Value::as_f64).ok_or_else(|| {
            let name = match op {
                NumOp::Eq => "equals",
                NumOp::Lt => "<",
                NumOp::Le => "<=",
                NumOp::Gt => ">",
                NumOp::Ge => ">=",
            };
            format!("value of {name} must be numeric")
        })
    };
    let first = op_at(0)?;
    let low = value_at(1, first)?;
    if items.len() == 2 {
        return Ok(vec![(first, low)]);
    }
    if !matches!(first, NumOp::Gt | NumOp::Ge) {
        return Err(format!(
            "too many elements in numeric expression: only a lower bound (> or >=) may be followed by an upper bound, in {arg}"
        ));
    }
    let second = op_at(2)?;
    if !matches!(second, NumOp::Lt | NumOp::Le) {
        return Err(format!(
            "bad numeric range operator in {arg}: a range is a lower bound (> or >=) then an upper bound (< or <=), each operator once"
        ));
    }
    let high = value_at(3, second)?;
    if items.len() > 4 {
        return Err(format!("too many terms in numeric range expression {arg}"));
    }
    if low >= high {
        return Err(format!("bottom must be less than top in {arg}"));
    }
    Ok(vec![(first, low), (second, high)])
}

fn anything_but(arg: &Value) -> Result<Exclusion, String> {
    let kinds = "anything-but takes a string, a number, a list of strings and numbers, or one of \
                 prefix, suffix, equals-ignore-case, wildcard; null and booleans are not supported";
    match arg {
        Value::String(_) | Value::Number(_) => Ok(Exclusion::Values(Literal::of(arg).into_iter().collect())),
        Value::Array(items) if items.is_empty() => Err("empty arrays are not allowed".to_owned()),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::String(_) | Value::Number(_) => Literal::of(item)
                    .ok_or_else(|| format!("{item} is not a number anything-but can compare")),
                other => Err(format!(
                    "inside an anything-but list only strings and numbers are supported, not {other}"
                )),
            })
            .collect::<Result<_, _>>()
            .map(Exclusion::Values),
        Value::Object(inner) if inner.len() == 1 => {
            let Some((op, value)) = inner.iter().next() else {
                return Err(kinds.to_owned());
            };
            if !["prefix", "suffix", "equals-ignore-case", "wildcard"].contains(&op.as_str()) {
                return Err(format!("unsupported anything-but pattern: {op}"));
            }
            let texts = strings(op, value)?;
            match op.as_str() {
                "prefix" | "suffix" if texts.iter().any(String::is_empty) => {
                    Err(format!("anything-but/{op}: an empty {op} is not allowed"))
                }
                "prefix" => Ok(Exclusion::Prefix(texts)),
                "suffix" => Ok(Exclusion::Suffix(texts)),
                "equals-ignore-case" => Ok(Exclusion::IgnoreCase(
                    texts.iter().map(|t| t.to_lowercase()).collect(),
                )),
                "wildcard" => texts
                    .iter()
                    .map(|t| Wildcard::parse(t))
                    .collect::<Result<_, _>>()
                    .map(Exclusion::Wildcard),
                _ => Err(kinds.to_owned()),
            }
        }
        _ => Err(kinds.to_owned()),
    }
}

/// The string or the non-empty list of strings of an `anything-but`
/// operator.
fn strings(op: &str, value: &Value) -> Result<Vec<String>, String> {
    let not_string = || {
        format!("anything-but/{op} match pattern must be a string or a non-empty list of strings")
    };
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(not_string))
            .collect(),
        _ => Err(not_string()),
    }
}
