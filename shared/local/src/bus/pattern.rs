//! EventBridge event patterns, evaluated as EventBridge documents them
//! ("Creating event patterns" and "Content filtering" in the EventBridge
//! user guide):
//!
//! - every field of the pattern must match (AND); a field's array lists
//!   alternatives (OR); nested objects match nested event fields;
//! - an event field holding an array matches when any element matches;
//! - matchers: exact values (string, number, boolean, null), `prefix`,
//!   `suffix`, `equals-ignore-case`, `wildcard`, `anything-but` (a value, a
//!   list, or a `prefix`/`suffix`), `numeric` (`=`, `<`, `<=`, `>`, `>=`,
//!   ranges), `exists`, and `$or` over sub-patterns.

use serde_json::{Map, Value};

/// A pattern that EventBridge would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event pattern at `{path}`: {reason}")]
pub struct PatternError {
    /// Where in the pattern.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A parsed, validated event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern(Value);

impl EventPattern {
    /// Parses and validates a pattern (the JSON of a rule's `EventPattern`).
    pub fn new(pattern: Value) -> Result<Self, PatternError> {
        validate(&pattern, "")?;
        Ok(EventPattern(pattern))
    }

    /// The pattern as written.
    pub fn raw(&self) -> &Value {
        &self.0
    }

    /// True when `event` (the full EventBridge event: `source`,
    /// `detail-type`, `detail`, ...) matches.
    pub fn matches(&self, event: &Value) -> bool {
        match (&self.0, event) {
            (Value::Object(p), Value::Object(e)) => object_matches(p, e),
            _ => false,
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

fn validate(pattern: &Value, path: &str) -> Result<(), PatternError> {
    let Value::Object(map) = pattern else {
        return Err(err(path, "a pattern must be a JSON object"));
    };
    for (key, value) in map {
        let here = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if key == "$or" {
            let Value::Array(alternatives) = value else {
                return Err(err(&here, "$or takes an array of patterns"));
            };
            for alt in alternatives {
                validate(alt, &here)?;
            }
            continue;
        }
        match value {
            Value::Object(_) => validate(value, &here)?,
            Value::Array(matchers) => {
                if matchers.is_empty() {
                    return Err(err(&here, "an empty array matches nothing"));
                }
                for m in matchers {
                    validate_matcher(m, &here)?;
                }
            }
            _ => {
                return Err(err(
                    &here,
                    "a pattern field must be an array of matchers or an object",
                ));
            }
        }
    }
    Ok(())
}

fn validate_matcher(m: &Value, path: &str) -> Result<(), PatternError> {
    let Value::Object(obj) = m else { return Ok(()) };
    if obj.len() != 1 {
        return Err(err(path, "a matcher object has exactly one operator"));
    }
    let (op, arg) = obj
        .iter()
        .next()
        .ok_or_else(|| err(path, "empty matcher"))?;
    let ok = match op.as_str() {
        "prefix" | "suffix" => {
            arg.is_string() || arg.get("equals-ignore-case").is_some_and(Value::is_string)
        }
        "equals-ignore-case" | "wildcard" => arg.is_string(),
        "exists" => arg.is_boolean(),
        "anything-but" => match arg {
            Value::Object(o) => {
                o.len() == 1 && (o.contains_key("prefix") || o.contains_key("suffix"))
            }
            Value::Array(a) => !a.is_empty(),
            _ => true,
        },
        "numeric" => parse_numeric(arg).is_some(),
        "cidr" => arg.is_string(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(err(
            path,
            format!("unsupported or malformed operator {op:?}"),
        ))
    }
}

fn object_matches(pattern: &Map<String, Value>, event: &Map<String, Value>) -> bool {
    pattern.iter().all(|(key, p)| {
        if key == "$or" {
            return p.as_array().is_some_and(|alts| {
                alts.iter()
                    .any(|alt| alt.as_object().is_some_and(|a| object_matches(a, event)))
            });
        }
        let value = event.get(key);
        match p {
            Value::Object(nested) => match value {
                Some(Value::Object(inner)) => object_matches(nested, inner),
                _ => false,
            },
            Value::Array(matchers) => field_matches(matchers, value),
            _ => false,
        }
    })
}

fn field_matches(matchers: &[Value], value: Option<&Value>) -> bool {
    matchers
        .iter()
        .any(|m| match m.get("exists").and_then(Value::as_bool) {
            Some(exists) => exists == value.is_some(),
            None => match value {
                None => false,
                Some(Value::Array(items)) => items.iter().any(|item| matcher_matches(m, item)),
                Some(v) => matcher_matches(m, v),
            },
        })
}

fn matcher_matches(m: &Value, v: &Value) -> bool {
    let Value::Object(obj) = m else {
        return literal_eq(m, v);
    };
    let Some((op, arg)) = obj.iter().next() else {
        return false;
    };
    let s = v.as_str();
    match op.as_str() {
        "prefix" => match (arg, s) {
            (Value::String(p), Some(s)) => s.starts_with(p.as_str()),
            (Value::Object(o), Some(s)) => o
                .get("equals-ignore-case")
                .and_then(Value::as_str)
                .is_some_and(|p| s.to_lowercase().starts_with(&p.to_lowercase())),
            _ => false,
        },
        "suffix" => match (arg, s) {
            (Value::String(p), Some(s)) => s.ends_with(p.as_str()),
            (Value::Object(o), Some(s)) => o
                .get("equals-ignore-case")
                .and_then(Value::as_str)
                .is_some_and(|p| s.to_lowercase().ends_with(&p.to_lowercase())),
            _ => false,
        },
        "equals-ignore-case" => {
            matches!((arg.as_str(), s), (Some(a), Some(s)) if a.eq_ignore_ascii_case(s) || a.to_lowercase() == s.to_lowercase())
        }
        "wildcard" => matches!((arg.as_str(), s), (Some(a), Some(s)) if wildcard(a, s)),
        "anything-but" => match arg {
            Value::Array(values) => !values.iter().any(|x| literal_eq(x, v)),
            Value::Object(o) => match (
                o.get("prefix").and_then(Value::as_str),
                o.get("suffix").and_then(Value::as_str),
                s,
            ) {
                (Some(p), _, Some(s)) => !s.starts_with(p),
                (_, Some(x), Some(s)) => !s.ends_with(x),
                _ => false,
            },
            single => !literal_eq(single, v),
        },
        "numeric" => match (parse_numeric(arg), v.as_f64()) {
            (Some(conditions), Some(n)) => {
                conditions.iter().all(|(op, bound)| compare(op, n, *bound))
            }
            _ => false,
        },
        _ => false,
    }
}

fn literal_eq(pattern: &Value, value: &Value) -> bool {
    match (pattern, value) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => pattern == value,
    }
}

fn parse_numeric(arg: &Value) -> Option<Vec<(String, f64)>> {
    let items = arg.as_array()?;
    if items.is_empty() || items.len() % 2 != 0 || items.len() > 4 {
        return None;
    }
    items
        .chunks(2)
        .map(|pair| {
            let op = pair[0].as_str()?;
            let n = pair[1].as_f64()?;
            ["=", "<", "<=", ">", ">="]
                .contains(&op)
                .then(|| (op.to_owned(), n))
        })
        .collect()
}

fn compare(op: &str, n: f64, bound: f64) -> bool {
    match op {
        "=" => n == bound,
        "<" => n < bound,
        "<=" => n <= bound,
        ">" => n > bound,
        ">=" => n >= bound,
        _ => false,
    }
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The example event of the EventBridge user guide's "Event patterns"
    /// page, with the numeric fields its content-filtering examples use.
    fn ec2_event() -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "EC2 Instance State-change Notification",
            "source": "aws.ec2",
            "account": "111122223333",
            "time": "2017-12-22T18:43:48Z",
            "region": "us-west-1",
            "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
            "detail": {
                "instance-id": "i-1234567890abcdef0",
                "state": "terminated",
                "c-count": 5,
                "d-count": 3,
                "x-limit": 301.8,
                "source-ip": "10.0.0.123"
            }
        })
    }

    fn matches(pattern: Value) -> bool {
        EventPattern::new(pattern).unwrap().matches(&ec2_event())
    }

    #[test]
    fn exact_values_and_nested_detail() {
        assert!(matches(json!({ "source": ["aws.ec2"] })));
        assert!(!matches(json!({ "source": ["aws.s3"] })));
        assert!(matches(json!({
            "source": ["aws.ec2"],
            "detail-type": ["EC2 Instance State-change Notification"],
            "detail": { "state": ["stopped", "terminated"] }
        })));
        assert!(!matches(json!({ "detail": { "state": ["running"] } })));
        assert!(
            !matches(json!({ "detail": { "missing": ["x"] } })),
            "a missing field does not match a value"
        );
    }

    #[test]
    fn arrays_in_the_event_match_any_element() {
        assert!(matches(
            json!({ "resources": ["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"] })
        ));
        assert!(matches(
            json!({ "resources": [{ "prefix": "arn:aws:ec2:" }] })
        ));
    }

    #[test]
    fn prefix_suffix_and_ignore_case() {
        assert!(matches(json!({ "time": [{ "prefix": "2017-12-22" }] })));
        assert!(!matches(json!({ "time": [{ "prefix": "2018" }] })));
        assert!(matches(
            json!({ "detail": { "instance-id": [{ "suffix": "cdef0" }] } })
        ));
        assert!(matches(
            json!({ "detail": { "state": [{ "equals-ignore-case": "TERMINATED" }] } })
        ));
        assert!(matches(
            json!({ "source": [{ "prefix": { "equals-ignore-case": "AWS." } }] })
        ));
        assert!(matches(
            json!({ "detail": { "instance-id": [{ "wildcard": "i-*def0" }] } })
        ));
    }

    #[test]
    fn anything_but() {
        assert!(matches(
            json!({ "detail": { "state": [{ "anything-but": "initializing" }] } })
        ));
        assert!(!matches(
            json!({ "detail": { "state": [{ "anything-but": "terminated" }] } })
        ));
        assert!(!matches(
            json!({ "detail": { "state": [{ "anything-but": ["stopped", "terminated"] }] } })
        ));
        assert!(matches(
            json!({ "detail": { "state": [{ "anything-but": { "prefix": "init" } }] } })
        ));
        assert!(!matches(
            json!({ "detail": { "state": [{ "anything-but": { "prefix": "term" } }] } })
        ));
        assert!(matches(
            json!({ "detail": { "c-count": [{ "anything-but": [1, 2] }] } })
        ));
    }

    #[test]
    fn numeric_ranges() {
        assert!(matches(
            json!({ "detail": { "c-count": [{ "numeric": [">", 0, "<=", 5] }] } })
        ));
        assert!(!matches(
            json!({ "detail": { "c-count": [{ "numeric": [">", 5] }] } })
        ));
        assert!(matches(
            json!({ "detail": { "x-limit": [{ "numeric": ["=", 301.8] }] } })
        ));
        assert!(matches(
            json!({ "detail": { "d-count": [{ "numeric": ["<", 10] }] } })
        ));
        assert!(
            !matches(json!({ "detail": { "state": [{ "numeric": [">", 0] }] } })),
            "a string is not a number"
        );
    }

    #[test]
    fn exists() {
        assert!(matches(
            json!({ "detail": { "state": [{ "exists": true }] } })
        ));
        assert!(!matches(
            json!({ "detail": { "state": [{ "exists": false }] } })
        ));
        assert!(matches(
            json!({ "detail": { "no-such-field": [{ "exists": false }] } })
        ));
        assert!(!matches(
            json!({ "detail": { "no-such-field": [{ "exists": true }] } })
        ));
    }

    #[test]
    fn or_over_sub_patterns() {
        assert!(matches(json!({ "$or": [
            { "detail": { "c-count": [{ "numeric": [">", 10] }] } },
            { "detail": { "d-count": [{ "numeric": ["<", 10] }] } }
        ] })));
        assert!(!matches(json!({ "$or": [
            { "detail": { "c-count": [{ "numeric": [">", 10] }] } },
            { "source": ["aws.s3"] }
        ] })));
    }

    #[test]
    fn malformed_patterns_are_rejected() {
        for bad in [
            json!(["aws.ec2"]),
            json!({ "source": "aws.ec2" }),
            json!({ "source": [] }),
            json!({ "detail": { "state": [{ "starts-with": "x" }] } }),
            json!({ "detail": { "c": [{ "numeric": [">"] }] } }),
            json!({ "detail": { "c": [{ "exists": "yes" }] } }),
        ] {
            assert!(EventPattern::new(bad.clone()).is_err(), "{bad}");
        }
    }
}
