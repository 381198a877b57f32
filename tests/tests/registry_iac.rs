//! The registry against the IaC: every registered function has its
//! resources in `template.yaml` (AWS) and `infra/azure/main.bicep` (Azure;
//! its `function.json` is generated from the declaration) for the triggers
//! it declares; every rule and subscription that feeds a function
//! filters on event types the function consumes; and every consumed event
//! has a producer — a registered function, or an external producer the
//! function documents.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;
use switchyard_local::template::{self, StackSpec, TargetSpec};
use switchyard_runtime::azure_files::function_json;
use switchyard_testkit::bicep::{self, Resource};
use switchyard_triggers::registry::{Function, Trigger};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn spec() -> StackSpec {
    template::load(&root().join("template.yaml")).expect("template.yaml loads")
}

fn azure(path: &str) -> String {
    let full = root().join("infra/azure").join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// The `detail-type` values a rule pattern accepts; `None` when it does not filter on it.
fn detail_types(pattern: &Value) -> Option<BTreeSet<String>> {
    let list = pattern.get("detail-type")?.as_array()?;
    list.iter().map(|v| v.as_str().map(str::to_owned)).collect()
}

/// The event types rules deliver to `function` on AWS, one set per rule.
fn aws_feeds(spec: &StackSpec, function: &Function) -> Vec<(String, Option<BTreeSet<String>>)> {
    let Some(f) = spec.function_by_binary(function.name) else {
        return Vec::new();
    };
    let queue = f.sqs.as_ref().map(|t| t.queue.clone());
    spec.rules
        .iter()
        .filter(|rule| {
            rule.targets.iter().any(|t| match t {
                TargetSpec::Function { function: id, .. } => *id == f.name,
                TargetSpec::Queue(q) => Some(q) == queue.as_ref(),
            })
        })
        .map(|rule| (rule.name.clone(), detail_types(rule.pattern.raw())))
        .collect()
}

/// The event types the Service Bus subscription `name` lets through.
fn subscription_types(all: &[Resource], name: &str) -> Option<BTreeSet<String>> {
    let sub = all
        .iter()
        .find(|r| r.kind.contains("topics/subscriptions@") && r.name() == name)?;
    let mut types = BTreeSet::new();
    for rule in all.iter().filter(|r| {
        r.kind.contains("subscriptions/rules@") && r.parent().as_deref() == Some(&sub.symbol)
    }) {
        if let Some(t) = rule.prop("type") {
            types.insert(t); // correlationFilter.properties.type
        } else if let Some(expr) = rule.prop("sqlExpression") {
            // sqlExpression: 'type = \'erp.order-synced\'' (or IN (...)):
            // the quoted literals, Bicep-escaped
            for part in expr.replace("\\'", "'").split('\'').skip(1).step_by(2) {
                types.insert(part.trim_end_matches('\\').to_owned());
            }
        }
    }
    Some(types)
}

#[test]
fn every_registered_function_has_its_resources_in_template_yaml() {
    let spec = spec();
    for function in switchyard_registry::functions() {
        if !function.triggers.iter().any(|t| t.is_aws()) {
            continue;
        }
        let f = spec
            .function_by_binary(function.name)
            .unwrap_or_else(|| panic!("{} has no function in template.yaml", function.name));
        if function.has(Trigger::Sqs) {
            let trigger = f
                .sqs
                .as_ref()
                .unwrap_or_else(|| panic!("{}: no SQS event source mapping", function.name));
            assert!(trigger.report_batch_item_failures, "{}", function.name);
            let queue = &spec.queues[&trigger.queue];
            assert!(
                queue.redrive.is_some(),
                "{}: its queue has no DLQ",
                function.name
            );
        }
        if function.has(Trigger::EventBridge) {
            assert!(
                !aws_feeds(&spec, &function).is_empty(),
                "{}: no EventBridge rule targets it",
                function.name
            );
        }
        if function.has(Trigger::Http) {
            assert!(f.url, "{}: no Function URL", function.name);
        }
    }
}

#[test]
fn every_registered_function_with_a_service_bus_trigger_has_its_azure_resources() {
    let all = bicep::resources(&azure("main.bicep"));
    for function in switchyard_registry::functions() {
        if !function.triggers.iter().any(|t| t.is_azure()) {
            continue;
        }
        let folder = function_json(&function)
            .unwrap_or_else(|| panic!("{}: no function.json is generated", function.name));
        let trigger = &folder["bindings"][0];
        if function.has(Trigger::ServiceBus) {
            assert_eq!(trigger["type"], "serviceBusTrigger", "{}", function.name);
            let topic = trigger["topicName"].as_str().unwrap();
            assert!(
                azure("main.bicep").contains(&format!("var topicName = '{topic}'")),
                "{}: topic {topic} is not main.bicep's topic",
                function.name
            );
            let subscription = trigger["subscriptionName"].as_str().unwrap();
            assert!(
                subscription_types(&all, subscription).is_some(),
                "{}: subscription {subscription} is not in main.bicep",
                function.name
            );
        } else {
            assert_eq!(trigger["type"], "httpTrigger", "{}", function.name);
        }
    }
}

/// Rules that deliver an event type the function does not consume (or
/// deliver without filtering on `detail-type`).
fn rule_violations(spec: &StackSpec) -> Vec<String> {
    let mut out = Vec::new();
    for function in switchyard_registry::functions() {
        let consumes: BTreeSet<String> =
            function.consumes.iter().map(|t| (*t).to_owned()).collect();
        for (rule, types) in aws_feeds(spec, &function) {
            match types {
                None => out.push(format!(
                    "{rule} feeds {} without filtering on detail-type",
                    function.name
                )),
                Some(types) if !types.is_subset(&consumes) => out.push(format!(
                    "{rule} delivers {types:?} to {}, which consumes {consumes:?}",
                    function.name
                )),
                Some(_) => {}
            }
        }
    }
    out
}

#[test]
fn rules_filter_on_events_the_function_consumes() {
    assert_eq!(rule_violations(&spec()), Vec::<String>::new());
    // the check sees a rule that routes what the function does not consume
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let doctored = text.replacen(
        "          - customer.updated\n",
        "          - erp.order-synced\n",
        1,
    );
    assert_ne!(
        doctored, text,
        "the ErpSyncRule pattern moved; update this test"
    );
    let found = rule_violations(&template::load_str(&doctored, "doctored").unwrap());
    assert!(
        found
            .iter()
            .any(|v| v.contains("ErpSyncRule") && v.contains("erp.order-synced")),
        "{found:?}"
    );
}

#[test]
fn subscriptions_filter_on_events_the_function_consumes() {
    let all = bicep::resources(&azure("main.bicep"));
    for function in switchyard_registry::functions() {
        if !function.has(Trigger::ServiceBus) {
            continue;
        }
        let consumes: BTreeSet<String> =
            function.consumes.iter().map(|t| (*t).to_owned()).collect();
        let folder = function_json(&function).unwrap();
        let subscription = folder["bindings"][0]["subscriptionName"].as_str().unwrap();
        let types = subscription_types(&all, subscription).unwrap();
        assert!(!types.is_empty(), "{subscription} does not filter on type");
        assert!(
            types.is_subset(&consumes),
            "subscription {subscription} delivers {types:?} to {}, which consumes {consumes:?}",
            function.name
        );
    }
}

#[test]
fn every_consumed_event_has_a_producer() {
    let functions = switchyard_registry::functions();
    let published: BTreeSet<&str> = functions
        .iter()
        .flat_map(|f| f.publishes.iter().copied())
        .collect();
    for function in &functions {
        for event in function.consumes {
            let external = function.external_producers.iter().any(|(t, _)| t == event);
            assert!(
                published.contains(event) || external,
                "{} consumes {event}, which no registered function publishes and no external producer is documented for",
                function.name
            );
        }
    }
}
