//! EventBridge event patterns, validated and evaluated as the EventBridge
//! user guide documents them ("Event patterns", "Comparison operators",
//! "Arrays", "Matching null values and empty strings", "Best practices"):
//!
//! - every field of the pattern must match (AND); a field's array lists
//!   alternatives (OR); `$or` lists alternative sub-patterns;
//! - nested objects match nested event fields, and a dotted key (`"a.b"`)
//!   is the same as nesting, in the pattern and in the event;
//! - an event field holding an array matches when any element matches; a
//!   nested pattern over an array of objects matches when one element
//!   matches all of it;
//! - matchers: exact values (string, number, boolean, null), `prefix`,
//!   `suffix` (both also with `equals-ignore-case`), `equals-ignore-case`,
//!   `wildcard`, `anything-but` (values, or `prefix`, `suffix`,
//!   `equals-ignore-case`, `wildcard`, each one value or a list),
//!   `numeric`, `cidr` (IPv4 and IPv6) and `exists`.
//!
//! What is accepted and rejected, and the choices made where the guide is
//! silent, are listed in the crate README ("Event patterns").

mod compile;
mod matcher;
mod ops;

use serde_json::Value;

/// A pattern that EventBridge would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event pattern at `{path}`: {reason}")]
pub struct PatternError {
    /// Where in the pattern (`<root>`, or the dotted path of the field).
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// A parsed, validated event pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct EventPattern {
    raw: Value,
    compiled: compile::Pattern,
}

impl EventPattern {
    /// Parses and validates a pattern (the JSON of a rule's `EventPattern`).
    pub fn new(pattern: Value) -> Result<Self, PatternError> {
        let compiled = compile::pattern(&pattern)?;
        Ok(EventPattern {
            raw: pattern,
            compiled,
        })
    }

    /// Parses a pattern given as JSON text, as `PutRule` takes it. A key
    /// repeated in one object keeps its last value, as the guide says.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let value: Value = serde_json::from_str(text).map_err(|e| PatternError {
            path: "<root>".to_owned(),
            reason: format!("the pattern is not JSON: {e}"),
        })?;
        Self::new(value)
    }

    /// The pattern as written.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// True when `event` (the full EventBridge event: `source`,
    /// `detail-type`, `detail`, ...) matches.
    pub fn matches(&self, event: &Value) -> bool {
        matcher::matches(&self.compiled, event)
    }
}
