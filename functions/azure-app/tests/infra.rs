//! `infra/azure` and the generated Function App files say what the code
//! and the tests assume: one generated `function.json` per hosted function
//! with the app's routes and bindings (from the registry), host.json
//! starting this binary as a custom handler, and main.bicep wiring the
//! topic, the subscriptions' filters, maxDeliveryCount, dead-lettering, the
//! park queue, least-privilege SAS rules and every app setting the app
//! requires. (checkov checks the Bicep file for security
//! misconfigurations in `scripts/test.sh`; `switchyard package` writes the
//! generated files, `shared/local/tests/package_azure.rs` runs them.)

mod common;

use serde_json::{Value, json};
use switchyard_azure_app::{
    HTTP_BINDING, HTTP_OUTPUT, LISTEN_CONNECTION, function_json, functions, host_json,
};
use switchyard_testkit::bicep::Resource;
use switchyard_triggers::registry::{Function, Trigger};
use switchyard_triggers::servicebus::ServiceBusAdapterConfig;

fn infra(path: &str) -> String {
    let full = format!("{}/../../infra/azure/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn resources() -> Vec<Resource> {
    switchyard_testkit::bicep::resources(&infra("main.bicep"))
}

fn find<'a>(all: &'a [Resource], kind_suffix: &str, name: &str) -> &'a Resource {
    all.iter()
        .find(|r| r.kind.contains(kind_suffix) && r.name() == name)
        .unwrap_or_else(|| panic!("no {kind_suffix} named {name} in main.bicep"))
}

fn generated(name: &str) -> Value {
    let function = functions()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("{name} is not hosted"));
    function_json(&function).unwrap_or_else(|| panic!("{name} has no function.json"))
}

#[test]
fn host_json_runs_this_binary_as_a_custom_handler() {
    let host = host_json();
    assert_eq!(host["version"], "2.0");
    assert_eq!(
        host["customHandler"]["description"]["defaultExecutablePath"],
        std::path::Path::new(env!("CARGO_BIN_EXE_azure-app"))
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
        "the [[bin]] name of functions/azure-app"
    );
    assert_eq!(
        host["customHandler"]["description"]["workingDirectory"], "",
        "started in the package root"
    );
    assert_eq!(
        host["customHandler"]["enableForwardingHttpRequest"], false,
        "HTTP triggers arrive as custom-handler requests (Data.req), answered through Outputs.res"
    );
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
    let timeout_ms = ServiceBusAdapterConfig::default().invocation_timeout_ms;
    assert_eq!(
        host["functionTimeout"],
        format!("00:{:02}:00", timeout_ms / 60_000),
        "the app's default SWITCHYARD_INVOCATION_TIMEOUT_MS"
    );
}

#[test]
fn generated_function_json_is_what_the_app_reads() {
    let binding = ServiceBusAdapterConfig::default().binding;
    assert!(
        !ServiceBusAdapterConfig::default().binary_body,
        "no dataType"
    );
    let trigger = |subscription: &str| {
        json!({"bindings": [{
            "type": "serviceBusTrigger",
            "direction": "in",
            "name": binding,
            "topicName": "integration",
            "subscriptionName": subscription,
            "connection": "ServiceBusListenConnection",
            "isSessionsEnabled": false
        }]})
    };
    assert_eq!(generated("erp-sync"), trigger("erp-sync"));
    assert_eq!(generated("audit-log"), trigger("audit"));
    assert!(
        infra("main.bicep").contains(&format!("name: '{LISTEN_CONNECTION}'")),
        "{LISTEN_CONNECTION} is an app setting"
    );
    assert!(infra("main.bicep").contains("var topicName = 'integration'"));

    let crm = generated("crm-webhook");
    assert_eq!(
        crm,
        json!({"bindings": [
            {
                "type": "httpTrigger",
                "direction": "in",
                "name": HTTP_BINDING,
                "authLevel": "anonymous",
                "methods": ["post", "options"],
                "route": "webhooks/{provider}"
            },
            {"type": "http", "direction": "out", "name": HTTP_OUTPUT}
        ]}),
        "crm-webhook's /webhooks/<provider> routes; signatures are verified in the app"
    );
}

#[test]
fn every_hosted_function_has_one_function_json_and_others_none() {
    let hosted = functions();
    let names: Vec<&str> = hosted.iter().map(|f| f.name).collect();
    assert_eq!(
        names,
        ["crm-webhook", "erp-sync", "audit-log", "crm-writeback"]
    );
    for f in &hosted {
        let json = function_json(f).unwrap_or_else(|| panic!("{}", f.name));
        assert_eq!(json["bindings"][0]["direction"], "in", "{}", f.name);
    }
    for f in switchyard_registry::functions() {
        let azure = f.triggers.iter().any(|t| t.is_azure());
        assert_eq!(function_json(&f).is_some(), azure, "{}", f.name);
    }
    let mut lambda_only: Function = switchyard_erp_sync::function();
    lambda_only.triggers = &[Trigger::Sqs];
    assert_eq!(function_json(&lambda_only), None);
    lambda_only.triggers = &[Trigger::EventBridge];
    assert_eq!(function_json(&lambda_only), None);
}

#[test]
fn each_service_bus_source_setting_names_the_declared_subscription() {
    let bicep = infra("main.bicep");
    for f in functions().iter().filter(|f| f.has(Trigger::ServiceBus)) {
        let setting = format!(
            "name: '{}SWITCHYARD_SERVICEBUS_SOURCE'",
            switchyard_config::scope_prefix(f.name)
        );
        let at = bicep
            .find(&setting)
            .unwrap_or_else(|| panic!("main.bicep has no {setting}"));
        let value = bicep[at..].lines().nth(1).unwrap().trim();
        let path = f
            .subscription
            .path()
            .replacen(f.subscription.topic, "${topicName}", 1);
        assert_eq!(value, format!("value: '{path}'"), "{}", f.name);
    }
}

#[test]
fn a_changed_declaration_changes_the_generated_file() {
    let before = generated("erp-sync");
    let after =
        function_json(&switchyard_erp_sync::function().subscription("erp-sync-v2")).unwrap();
    assert_eq!(after["bindings"][0]["subscriptionName"], "erp-sync-v2");
    let mut expected = before.clone();
    expected["bindings"][0]["subscriptionName"] = json!("erp-sync-v2");
    assert_eq!(after, expected, "nothing else changes");
    let moved = function_json(&switchyard_erp_sync::function().topic("other")).unwrap();
    assert_eq!(moved["bindings"][0]["topicName"], "other");

    let crm = switchyard_crm_webhook::function()
        .route("hooks/{provider}")
        .methods(&[switchyard_triggers::registry::HttpMethod::Post]);
    let json = function_json(&crm).unwrap();
    assert_eq!(json["bindings"][0]["route"], "hooks/{provider}");
    assert_eq!(json["bindings"][0]["methods"], json!(["post"]));
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
