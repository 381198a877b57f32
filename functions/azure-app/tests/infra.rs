//! `infra/azure` says what the code and the tests assume: the function
//! folders match the app's routes and bindings, host.json starts this
//! binary as a custom handler, and main.bicep wires the topic, the
//! subscriptions' filters, maxDeliveryCount, dead-lettering, the park queue,
//! least-privilege SAS rules and every app setting the app requires.
//! (checkov checks the Bicep file for security misconfigurations in
//! `scripts/test.sh`.)

mod common;

use serde_json::Value;
use switchyard_azure_app::{HTTP_BINDING, HTTP_OUTPUT};
use switchyard_testkit::bicep::Resource;
use switchyard_triggers::servicebus::ServiceBusAdapterConfig;

fn infra(path: &str) -> String {
    let full = format!("{}/../../infra/azure/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&infra(path)).unwrap()
}

fn resources() -> Vec<Resource> {
    switchyard_testkit::bicep::resources(&infra("main.bicep"))
}

fn find<'a>(all: &'a [Resource], kind_suffix: &str, name: &str) -> &'a Resource {
    all.iter()
        .find(|r| r.kind.contains(kind_suffix) && r.name() == name)
        .unwrap_or_else(|| panic!("no {kind_suffix} named {name} in main.bicep"))
}

#[test]
fn host_json_runs_this_binary_as_a_custom_handler() {
    let host = json("host.json");
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"], "azure-app",
        "the [[bin]] name of functions/azure-app"
    );
    assert_eq!(host["customHandler"]["enableForwardingHttpRequest"], false);
    assert_eq!(
        host["extensionBundle"]["id"],
        "Microsoft.Azure.Functions.ExtensionBundle"
    );
    assert_eq!(
        host["extensions"]["serviceBus"]["autoCompleteMessages"], true,
        "complete on 2xx, abandon otherwise"
    );
    let prefix = host["extensions"]["http"]["routePrefix"].as_str().unwrap();
    assert_eq!(
        format!("/{prefix}"),
        "/api",
        "the app's default SWITCHYARD_HTTP_ROUTE_PREFIX"
    );
}

#[test]
fn function_folders_match_the_routes_and_bindings() {
    let erp = json("erp-sync/function.json");
    let trigger = &erp["bindings"][0];
    assert_eq!(trigger["type"], "serviceBusTrigger");
    assert_eq!(
        trigger["name"],
        ServiceBusAdapterConfig::default().binding.as_str()
    );
    assert_eq!(trigger["topicName"], "integration");
    assert_eq!(trigger["subscriptionName"], "erp-sync");
    let connection = trigger["connection"].as_str().unwrap();
    assert!(
        infra("main.bicep").contains(&format!("name: '{connection}'")),
        "{connection} is an app setting"
    );

    let audit = json("audit-log/function.json");
    let trigger = &audit["bindings"][0];
    assert_eq!(trigger["type"], "serviceBusTrigger");
    assert_eq!(trigger["subscriptionName"], "audit");
    assert_eq!(trigger["connection"], erp["bindings"][0]["connection"]);

    let crm = json("crm-webhook/function.json");
    let bindings = crm["bindings"].as_array().unwrap();
    let input = bindings.iter().find(|b| b["direction"] == "in").unwrap();
    let output = bindings.iter().find(|b| b["direction"] == "out").unwrap();
    assert_eq!(input["type"], "httpTrigger");
    assert_eq!(input["name"], HTTP_BINDING);
    assert_eq!(
        input["route"], "webhooks/{provider}",
        "crm-webhook's /webhooks/<provider> routes"
    );
    assert_eq!(output["type"], "http");
    assert_eq!(output["name"], HTTP_OUTPUT);
}

#[test]
fn the_topic_subscriptions_and_park_queue() {
    let all = resources();
    assert!(infra("main.bicep").contains("var topicName = 'integration'"));
    let topic = find(&all, "namespaces/topics@", "topicName");
    assert_eq!(
        topic.prop("requiresDuplicateDetection").as_deref(),
        Some("true")
    );
    assert!(topic.prop("duplicateDetectionHistoryTimeWindow").is_some());

    let erp = find(&all, "topics/subscriptions@", "erp-sync");
    assert_eq!(
        erp.prop("maxDeliveryCount").as_deref(),
        Some("erpSyncMaxDeliveryCount")
    );
    assert_eq!(
        common::max_delivery_count(),
        5,
        "the parameter's default, used by the end-to-end tests"
    );
    for sub in [erp, find(&all, "topics/subscriptions@", "audit")] {
        assert_eq!(
            sub.prop("deadLetteringOnMessageExpiration").as_deref(),
            Some("true"),
            "{}",
            sub.name()
        );
        assert_eq!(sub.prop("lockDuration").as_deref(), Some("lockDuration"));
    }

    let rules_of = |sub: &Resource| -> Vec<&Resource> {
        all.iter()
            .filter(|r| {
                r.kind.contains("subscriptions/rules@")
                    && r.parent().as_deref() == Some(sub.symbol.as_str())
            })
            .collect()
    };
    let erp_rules = rules_of(erp);
    let mut filtered: Vec<(String, String)> = erp_rules
        .iter()
        .map(|r| (r.name(), r.prop("type").unwrap()))
        .collect();
    filtered.sort();
    assert_eq!(
        filtered,
        [
            ("$Default".to_owned(), "order.placed".to_owned()),
            ("customer-updated".to_owned(), "customer.updated".to_owned())
        ],
        "the $Default TrueFilter is replaced by the filter rules"
    );
    assert!(
        erp_rules
            .iter()
            .all(|r| r.prop("filterType").as_deref() == Some("CorrelationFilter"))
    );
    let audit_rules = rules_of(find(&all, "topics/subscriptions@", "audit"));
    assert_eq!(audit_rules.len(), 2);
    let default = audit_rules.iter().find(|r| r.name() == "$Default").unwrap();
    assert_eq!(default.prop("filterType").as_deref(), Some("SqlFilter"));
    assert!(default.body.contains("erp.order-synced"));
    let customers = audit_rules
        .iter()
        .find(|r| r.name() == "customer-updated")
        .unwrap();
    assert_eq!(customers.prop("type").as_deref(), Some("customer.updated"));
    for rule in all
        .iter()
        .filter(|r| r.kind.contains("subscriptions/rules@"))
    {
        assert!(
            !rule.body.contains("TrueFilter") && !rule.body.contains("1=1"),
            "{} lets everything through",
            rule.symbol
        );
    }

    let park = find(&all, "namespaces/queues@", "parkQueueName");
    assert_eq!(
        park.prop("deadLetteringOnMessageExpiration").as_deref(),
        Some("true")
    );
    assert_eq!(
        park.prop("requiresDuplicateDetection").as_deref(),
        Some("true")
    );
    assert!(infra("main.bicep").contains("var parkQueueName = 'park'"));
}

#[test]
fn sas_rules_have_the_least_rights() {
    let all = resources();
    let rights = |r: &Resource| -> Vec<String> {
        let start = r.body.find("rights:").unwrap();
        let list = &r.body[start..r.body[start..].find(']').unwrap() + start];
        list.lines()
            .skip(1)
            .map(|l| l.trim().trim_matches('\'').to_owned())
            .filter(|l| !l.is_empty())
            .collect()
    };
    let send = find(&all, "namespaces/authorizationRules@", "switchyard-send");
    assert_eq!(rights(send), ["Send"]);
    let listen = find(&all, "topics/authorizationRules@", "functions-host-listen");
    assert_eq!(rights(listen), ["Listen"]);
    assert_eq!(
        listen.parent().as_deref(),
        Some("topic"),
        "listen on the topic only"
    );
    let bicep = infra("main.bicep");
    assert!(bicep.contains("sendRule.listKeys().primaryConnectionString"));
    assert!(bicep.contains("listenRule.listKeys().primaryConnectionString"));
    assert!(!bicep.contains("'Manage'"));
}

#[test]
fn every_required_app_setting_is_set() {
    let bicep = infra("main.bicep");
    let app = resources()
        .into_iter()
        .find(|r| r.symbol == "functionApp")
        .unwrap();
    assert_eq!(app.prop("kind").as_deref(), Some("functionapp,linux"));
    assert_eq!(app.prop("httpsOnly").as_deref(), Some("true"));
    for setting in [
        "FUNCTIONS_WORKER_RUNTIME",
        "AzureWebJobsStorage",
        "APPLICATIONINSIGHTS_CONNECTION_STRING",
        "ERP_BASE_URL",
        "SWITCHYARD_IDEMPOTENCY",
        "SERVICEBUS_CONNECTION_STRING",
        "SERVICEBUS_ENTITY",
        "SWITCHYARD_PARK_QUEUE",
        "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
        "ERP_SYNC__SWITCHYARD_SERVICEBUS_SOURCE",
        "AUDIT_LOG__SWITCHYARD_SERVICEBUS_SOURCE",
        "AUDIT_STORE",
    ] {
        assert!(
            app.body.contains(&format!("name: '{setting}'")),
            "{setting} missing"
        );
    }
    assert!(
        bicep.contains("value: 'custom'"),
        "FUNCTIONS_WORKER_RUNTIME = custom"
    );
    for resource in [
        "Microsoft.Storage/storageAccounts",
        "Microsoft.Insights/components",
        "Microsoft.Web/serverfarms",
    ] {
        assert!(bicep.contains(resource), "{resource}");
    }
}
