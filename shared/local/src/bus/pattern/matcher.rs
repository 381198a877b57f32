//! Evaluation of a validated [`Pattern`] against an event.

use std::cmp::Ordering;

use serde_json::{Map, Value};

use super::compile::{Exclusion, Matcher, Node, NumOp, Pattern};
use super::ops::compare;

/// True when `event`, a JSON object, matches `pattern`.
pub(super) fn matches(pattern: &Pattern, event: &Value) -> bool {
    let Value::Object(map) = event else {
        return false;
    };
    if has_dotted_keys(event) {
        object_matches(pattern, Some(&expand(map)))
    } else {
        object_matches(pattern, Some(map))
    }
}

/// A missing object (`None`) is an object without fields: only
/// `exists: false` and patterns made of it can match there.
fn object_matches(pattern: &Pattern, object: Option<&Map<String, Value>>) -> bool {
    pattern
        .fields
        .iter()
        .all(|(key, node)| node_matches(node, object.and_then(|o| o.get(key))))
        && pattern
            .any_of
            .iter()
            .all(|alternatives| alternatives.iter().any(|alt| object_matches(alt, object)))
}

fn node_matches(node: &Node, value: Option<&Value>) -> bool {
    match node {
        Node::Nested(pattern) => nested_matches(pattern, value),
        Node::Leaf(matchers) => {
            let mut leaves = Vec::new();
            collect_leaves(value, &mut leaves);
            matchers.iter().any(|m| matcher_matches(m, &leaves))
        }
    }
}

/// A nested pattern over an array matches when one element matches all
/// of it; over a leaf value or nothing, as over an empty object.
fn nested_matches(pattern: &Pattern, value: Option<&Value>) -> bool {
    match value {
        Some(Value::Object(object)) => object_matches(pattern, Some(object)),
        Some(Value::Array(items)) if !items.is_empty() => {
            items.iter().any(|item| nested_matches(pattern, Some(item)))
        }
        _ => object_matches(pattern, None),
    }
}

/// The leaf values a field holds: itself, or the leaves of its array
/// (nested arrays included). Objects are not leaves, so an object or an
/// empty array holds none.
fn collect_leaves<'a>(value: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    match value {
        None | Some(Value::Object(_)) => {}
        Some(Value::Array(items)) => {
            for item in items {
                collect_leaves(Some(item), out);
            }
        }
        Some(leaf) => out.push(leaf),
    }
}

fn matcher_matches(matcher: &Matcher, leaves: &[&Value]) -> bool {
    match matcher {
        Matcher::Exists(want) => *want != leaves.is_empty(),
        _ => leaves.iter().any(|leaf| leaf_matches(matcher, leaf)),
    }
}

fn leaf_matches(matcher: &Matcher, value: &Value) -> bool {
    let text = value.as_str();
    match matcher {
        Matcher::Exact(literal) => literal.equals(value),
        Matcher::Prefix {
            text: p,
            ignore_case,
        } => text.is_some_and(|s| fold(s, *ignore_case).starts_with(p.as_str())),
        Matcher::Suffix {
            text: p,
            ignore_case,
        } => text.is_some_and(|s| fold(s, *ignore_case).ends_with(p.as_str())),
        Matcher::EqualsIgnoreCase(lower) => text.is_some_and(|s| s.to_lowercase() == *lower),
        Matcher::Wildcard(w) => text.is_some_and(|s| w.matches(s)),
        Matcher::Cidr(c) => text.is_some_and(|s| c.contains(s)),
        Matcher::Numeric(conditions) => match value {
            Value::Number(n) => n.as_f64().is_some_and(|n| {
                conditions
                    .iter()
                    .all(|(op, bound)| satisfies(*op, compare(n, *bound)))
            }),
            _ => false,
        },
        Matcher::AnythingBut(exclusion) => !excluded(exclusion, value),
        // handled over all the leaves at once, in `matcher_matches`
        Matcher::Exists(_) => false,
    }
}

fn fold(s: &str, ignore_case: bool) -> std::borrow::Cow<'_, str> {
    if ignore_case {
        s.to_lowercase().into()
    } else {
        s.into()
    }
}

fn satisfies(op: NumOp, ordering: Option<Ordering>) -> bool {
    let Some(o) = ordering else { return false };
    match op {
        NumOp::Eq => o == Ordering::Equal,
        NumOp::Lt => o == Ordering::Less,
        NumOp::Le => o != Ordering::Greater,
        NumOp::Gt => o == Ordering::Greater,
        NumOp::Ge => o != Ordering::Less,
    }
}

/// Whether `anything-but` excludes the leaf value. Its string forms
/// exclude strings only: a number, boolean or null is never "a string
/// starting with ...", so it is not excluded.
fn excluded(exclusion: &Exclusion, value: &Value) -> bool {
    let text = value.as_str();
    match exclusion {
        Exclusion::Values(values) => values.iter().any(|v| v.equals(value)),
        Exclusion::Prefix(ps) => text.is_some_and(|s| ps.iter().any(|p| s.starts_with(p.as_str()))),
        Exclusion::Suffix(ss) => text.is_some_and(|s| ss.iter().any(|x| s.ends_with(x.as_str()))),
        Exclusion::IgnoreCase(lower) => text.is_some_and(|s| lower.contains(&s.to_lowercase())),
        Exclusion::Wildcard(ws) => text.is_some_and(|s| ws.iter().any(|w| w.matches(s))),
    }
}

fn has_dotted_keys(value: &Value) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains('.') || has_dotted_keys(v)),
        Value::Array(items) => items.iter().any(has_dotted_keys),
        _ => false,
    }
}

/// The event with its dotted keys (`"a.b": 1`) as nesting
/// (`"a": {"b": 1}`). Where two fields land on one key, objects merge and
/// other values become the alternatives of an array.
fn expand(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let mut value = expand_value(value);
        let mut segments = key.rsplit('.');
        let mut first = segments.next().unwrap_or(key);
        for parent in segments {
            let mut wrapper = Map::new();
            wrapper.insert(first.to_owned(), value);
            value = Value::Object(wrapper);
            first = parent;
        }
        merge_into(&mut out, first, value);
    }
    out
}

fn expand_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(expand(map)),
        Value::Array(items) => Value::Array(items.iter().map(expand_value).collect()),
        other => other.clone(),
    }
}

fn merge_into(out: &mut Map<String, Value>, key: &str, value: Value) {
    match out.get_mut(key) {
        None => {
            out.insert(key.to_owned(), value);
        }
        Some(Value::Object(existing)) if value.is_object() => {
            if let Value::Object(more) = value {
                for (k, v) in more {
                    merge_into(existing, &k, v);
                }
            }
        }
        Some(existing) => {
            let mut items = match existing.take() {
                Value::Array(items) => items,
                other => vec![other],
            };
            match value {
                Value::Array(more) => items.extend(more),
                other => items.push(other),
            }
            *existing = Value::Array(items);
        }
    }
}
