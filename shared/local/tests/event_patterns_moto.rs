//! moto as a second oracle for the table of `event_patterns.rs`: where
//! moto implements EventBridge as the guide documents it, it must agree
//! with the guide's answer, and so with the local bus.
//!
//! moto answers `TestEventPattern` with an empty 200 (it does not
//! implement it), so each case goes through a rule instead: `PutRule` with
//! the case's pattern on a bus of this test, `PutEvents` with the case's
//! event, and the rule's queue receives the event or not (moto delivers
//! before `PutEvents` returns).
//!
//! Cases moto (the version pinned in `scripts/tools-requirements.txt`)
//! answers differently from the guide are listed below with the reason;
//! the test checks that moto still differs on them, so the list cannot go
//! stale when moto changes. Cases `PutEvents` cannot express are counted and named
//! by [`not_expressible`]. Needs moto: `AWS_ENDPOINT_URL` (the test fails
//! without it).

mod pattern_table;

use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use pattern_table::Table;
use serde_json::Value;
use switchyard_testkit::moto::BusToQueue;

/// Cases where moto answers otherwise than the guide, and why.
const MOTO_DIFFERS: &[(&str, &str)] = &[
    // moto counts any present key as existing; the guide counts leaf values
    // only, so an empty array does not exist.
    (
        "exists true and an empty array / does not match 1",
        "moto: an empty array exists",
    ),
    (
        "exists false and an empty array / matches 1",
        "moto: an empty array exists",
    ),
    // moto flattens objects but not arrays, so nested patterns and dotted
    // keys never reach into an array of objects, nor into nested arrays.
    (
        "a nested pattern over an array of objects / matches 1",
        "moto: no nested patterns over arrays",
    ),
    (
        "dotted keys over an array of objects are one element's / matches 1",
        "moto: no nested patterns over arrays",
    ),
    (
        "exists false over an array of objects / does not match 1",
        "moto: no nested patterns over arrays",
    ),
    (
        "nested arrays of values / matches 1",
        "moto: values of nested arrays are not compared",
    ),
    // moto compares with Python's `==` and `<`, where `True == 1` and a
    // boolean is a number.
    (
        "a boolean / does not match 3",
        "moto: true equals 1 in Python",
    ),
    (
        "numeric does not match null, booleans or strings / does not match 2",
        "moto: a boolean is a number in Python",
    ),
    // moto compares exact numbers by value; the guide by their
    // representation ("300, 300.0 and 3.0e2 are not considered equal"),
    // in exact matching and so in anything-but.
    (
        "an exact number is compared as written: 1.0 is not 1 / does not match 1",
        "moto: 1.0 == 1 in Python",
    ),
    (
        "exact numbers by their representation: 300 is not 300.0 / does not match 1",
        "moto: 300 == 300.0 in Python",
    ),
    (
        "exact numbers by their representation: 300.0 is not 300 / does not match 1",
        "moto: 300.0 == 300 in Python",
    ),
    (
        "exact numbers in a list / does not match 2",
        "moto: 1.0 == 1 in Python",
    ),
    (
        "anything-but a number / matches 3",
        "moto: 123.0 == 123 in Python",
    ),
    (
        "anything-but a list of numbers / matches 3",
        "moto: 300.0 == 300 in Python",
    ),
    // moto compares doubles; EventBridge compares at six decimal places.
    (
        "numeric at six decimals / matches 1",
        "moto: numbers are compared as doubles",
    ),
];

/// The patterns moto rejects too: it validates only that the pattern is
/// JSON, that arrays are not empty and that fields hold an object or an
/// array. Every other invalid pattern of the table is accepted by moto.
const MOTO_REJECTS: &[&str] = &[
    "not JSON",
    "a value that is not in an array",
    "a number that is not in an array",
    "an empty array",
];

/// The invalid patterns moto fails on with an internal error (500) instead
/// of rejecting them: it reads every pattern as an object.
const MOTO_FAILS: &[&str] = &["not an object"];

/// The top-level fields of the event that moto sets itself rather than
/// from the `PutEvents` entry (it keeps `Time` as epoch seconds).
const MOTO_SETS: &[&str] = &["version", "id", "account", "time", "region"];

fn pattern_text(pattern: &Value) -> String {
    match pattern {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Why a case cannot go through `PutEvents`, if it cannot.
fn not_expressible(case: &Value, event: &Value) -> Option<&'static str> {
    let event = event.as_object()?;
    let standard = [
        "version",
        "id",
        "account",
        "time",
        "region",
        "source",
        "detail-type",
        "resources",
        "detail",
    ];
    if event.keys().any(|k| !standard.contains(&k.as_str())) {
        return Some("the event has top-level fields PutEvents cannot set");
    }
    if !(event.get("source").is_some_and(Value::is_string)
        && event.get("detail-type").is_some_and(Value::is_string)
        && event.get("detail").is_some_and(Value::is_object))
    {
        return Some("PutEvents needs a Source, a DetailType and a Detail object");
    }
    let pattern: Value = match &case["pattern"] {
        Value::String(text) => serde_json::from_str(text).ok()?,
        other => other.clone(),
    };
    if top_level_keys(&pattern)
        .iter()
        .any(|k| MOTO_SETS.contains(&k.split('.').next().unwrap_or_default()))
    {
        return Some("the pattern matches a field moto sets itself (time, account, region, id)");
    }
    None
}

fn top_level_keys(pattern: &Value) -> Vec<String> {
    let Some(map) = pattern.as_object() else {
        return Vec::new();
    };
    map.iter()
        .flat_map(|(k, v)| match (k.as_str(), v) {
            ("$or", Value::Array(alts)) => alts.iter().flat_map(top_level_keys).collect(),
            _ => vec![k.clone()],
        })
        .collect()
}

fn entry(event: &Value, bus: &str) -> PutEventsRequestEntry {
    let resources = event["resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(event["source"].as_str().unwrap_or_default())
        .detail_type(event["detail-type"].as_str().unwrap_or_default())
        .detail(event["detail"].to_string())
        .set_resources(Some(resources))
        .build()
}

/// Whether moto's rule, set to `pattern`, delivers `event`.
async fn moto_matches(
    eb: &aws_sdk_eventbridge::Client,
    sqs: &aws_sdk_sqs::Client,
    route: &BusToQueue,
    pattern: &str,
    event: &Value,
) -> bool {
    eb.put_rule()
        .name(&route.rule)
        .event_bus_name(&route.bus)
        .event_pattern(pattern)
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutRule {pattern}: {e:?}"));
    let put = eb
        .put_events()
        .entries(entry(event, &route.bus))
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(put.failed_entry_count(), 0, "PutEvents {event}: {put:?}");
    let received = sqs
        .receive_message()
        .queue_url(&route.queue.url)
        .max_number_of_messages(10)
        .wait_time_seconds(0)
        .send()
        .await
        .expect("ReceiveMessage");
    let messages = received.messages();
    for message in messages {
        sqs.delete_message()
            .queue_url(&route.queue.url)
            .receipt_handle(message.receipt_handle().unwrap_or_default())
            .send()
            .await
            .expect("DeleteMessage");
    }
    assert!(messages.len() <= 1, "one event, one delivery: {messages:?}");
    !messages.is_empty()
}

#[tokio::test]
async fn moto_agrees_with_the_guide_where_it_implements_it() {
    let config = switchyard_testkit::aws_config().await;
    let eb = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let route = BusToQueue::create(&eb, &sqs, r#"{"source": ["switchyard.none"]}"#).await;

    let table = Table::load();
    let cases = table.cases();
    let (mut compared, mut differing, mut unexpressible) = (0, 0, 0);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        let expected = case["matches"].as_bool().expect("matches");
        let event = table.event(case);
        if let Some(reason) = not_expressible(case, event) {
            println!("not through PutEvents: {name}: {reason}");
            unexpressible += 1;
            continue;
        }
        let moto = moto_matches(&eb, &sqs, &route, &pattern_text(&case["pattern"]), event).await;
        match MOTO_DIFFERS.iter().find(|(n, _)| *n == name) {
            Some((_, why)) => {
                differing += 1;
                if moto == expected {
                    failures.push(format!(
                        "{name}: moto now agrees ({why}): take it off MOTO_DIFFERS"
                    ));
                }
            }
            None => {
                compared += 1;
                if moto != expected {
                    failures.push(format!("{name}: the guide says {expected}, moto {moto}"));
                }
            }
        }
    }
    for (name, _) in MOTO_DIFFERS {
        if !cases.iter().any(|c| c["name"] == *name) {
            failures.push(format!("{name}: in MOTO_DIFFERS but not in the table"));
        }
    }

    for case in table.invalid() {
        let name = case["name"].as_str().unwrap_or("?");
        let answer = eb
            .put_rule()
            .name(&route.rule)
            .event_bus_name(&route.bus)
            .event_pattern(pattern_text(&case["pattern"]))
            .send()
            .await;
        let rejected = match answer {
            Ok(_) => false,
            Err(e) if e.code() == Some("InvalidEventPatternException") => true,
            Err(_) if MOTO_FAILS.contains(&name) => continue,
            Err(e) => {
                failures.push(format!("{name}: moto fails with {e:?}"));
                continue;
            }
        };
        if MOTO_FAILS.contains(&name) {
            failures.push(format!(
                "{name}: moto no longer fails on it: take it off MOTO_FAILS"
            ));
            continue;
        }
        if rejected != MOTO_REJECTS.contains(&name) {
            failures.push(format!(
                "{name}: moto {} it; MOTO_REJECTS says otherwise",
                if rejected { "rejects" } else { "accepts" }
            ));
        }
    }
    route.delete(&eb, &sqs).await;

    println!(
        "compared with moto: {compared}; moto differs: {differing}; not expressible: {unexpressible}; \
         invalid patterns moto rejects too: {}",
        MOTO_REJECTS.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 150, "only {compared} cases compared with moto");
}
