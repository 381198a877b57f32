//! The local bus's event patterns against the table of cases written after
//! the EventBridge user guide (`fixtures/event-patterns.json`): every case
//! matches or not as the guide says, and every invalid pattern is rejected
//! with its reason. `event_patterns_moto.rs` runs the same table against
//! moto.

mod pattern_table;

use pattern_table::Table;
use serde_json::Value;
use switchyard_local::bus::pattern::{EventPattern, PatternError};

/// A case's pattern: an object, or JSON text (to keep a repeated key).
fn compile(pattern: &Value) -> Result<EventPattern, PatternError> {
    match pattern {
        Value::String(text) => EventPattern::parse(text),
        other => EventPattern::new(other.clone()),
    }
}

#[test]
fn the_guide_cases_match_as_the_guide_says() {
    let table = Table::load();
    let cases = table.cases();
    let positive = cases.iter().filter(|c| c["matches"] == true).count();
    assert!(
        cases.len() >= 150 && positive >= 50 && cases.len() - positive >= 50,
        "the table keeps at least 150 cases, positive and negative"
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().unwrap_or("?");
            let expected = case["matches"].as_bool().expect("matches is a boolean");
            match compile(&case["pattern"]) {
                Err(e) => Some(format!("{name}: rejected: {e}")),
                Ok(p) if p.matches(table.event(case)) != expected => {
                    Some(format!("{name}: expected matches = {expected}"))
                }
                Ok(_) => None,
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases fail:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn the_patterns_eventbridge_rejects_are_rejected_with_their_reason() {
    let invalid = Table::load().invalid().to_vec();
    assert!(invalid.len() >= 50, "the table keeps the invalid patterns");
    let failures: Vec<String> = invalid
        .iter()
        .filter_map(|case| {
            let name = case["name"].as_str().unwrap_or("?");
            let fragment = case["error"].as_str().expect("error is a string");
            match compile(&case["pattern"]) {
                Ok(_) => Some(format!("{name}: accepted")),
                Err(e) if !e.to_string().contains(fragment) => {
                    Some(format!("{name}: {e:?} does not say {fragment:?}"))
                }
                Err(_) => None,
            }
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} invalid patterns:\n{}",
        failures.len(),
        invalid.len(),
        failures.join("\n")
    );
}

#[test]
fn errors_name_where_in_the_pattern() {
    let e = EventPattern::new(serde_json::json!({
        "detail": { "order": { "total": [{ "numeric": [">", "x"] }] } }
    }))
    .unwrap_err();
    assert_eq!(e.path, "detail.order.total");
    assert_eq!(
        e.to_string(),
        "invalid event pattern at `detail.order.total`: value of > must be numeric"
    );
    let e = EventPattern::new(serde_json::json!(["aws.ec2"])).unwrap_err();
    assert_eq!(e.path, "<root>");
}
