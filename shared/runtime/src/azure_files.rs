//! The files the Azure Functions host reads, generated from the registry:
//! `host.json` (the custom handler, the extension bundle, the Service Bus
//! and HTTP settings) and one `<function>/function.json` per hosted
//! function (its trigger binding, from the function's declaration). Pure
//! functions, no I/O; `switchyard package` writes them next to the
//! `azure-app` binary. Not behind the `azure` feature: the CLI generates
//! them without linking the Function App.

use serde_json::{Value, json};
use switchyard_triggers::registry::{Function, Trigger};
use switchyard_triggers::servicebus::ServiceBusAdapterConfig;

/// The HTTP trigger's binding name in a generated `function.json`: the key
/// of the request in the invocation's `Data`.
pub const HTTP_BINDING: &str = "req";

/// The HTTP output binding's name in a generated `function.json`: the key
/// of the answer in the invocation response's `Outputs`.
pub const HTTP_OUTPUT: &str = "res";

/// The app setting holding the Service Bus trigger's connection (the
/// Listen-only rule of `main.bicep`); the host's, not the app's.
pub const LISTEN_CONNECTION: &str = "ServiceBusListenConnection";

/// The custom handler's executable, next to `host.json` (the `[[bin]]` of
/// `functions/azure-app`).
pub const EXECUTABLE: &str = "azure-app";

/// host.json's `extensions.http.routePrefix`: stripped from HTTP trigger
/// URLs by the app (`SWITCHYARD_HTTP_ROUTE_PREFIX`, default `/api`).
pub const ROUTE_PREFIX: &str = "api";

/// The functions of `registry` the Function App hosts: those with a
/// Service Bus or HTTP trigger.
pub fn hosted(registry: Vec<Function>) -> Vec<Function> {
    registry
        .into_iter()
        .filter(|f| f.triggers.iter().any(|t| t.is_azure()))
        .collect()
}

/// `function.json` of `function`, from its declaration: an HTTP function's
/// `httpTrigger` (its route, methods and auth level) with the `http`
/// output; a message function's `serviceBusTrigger` on its topic and
/// subscription, with the binding name and `dataType` the app's Service
/// Bus adapter reads by default. `None` when the Function App does not
/// serve it (no Azure trigger of its kind).
pub fn function_json(function: &Function) -> Option<Value> {
    if function.is_http() {
        function.has(Trigger::Http).then(|| http(function))
    } else {
        function
            .has(Trigger::ServiceBus)
            .then(|| servicebus(function))
    }
}

fn http(function: &Function) -> Value {
    let endpoint = &function.endpoint;
    let methods: Vec<&str> = endpoint.methods.iter().map(|m| m.name()).collect();
    json!({
        "bindings": [
            {
                "type": "httpTrigger",
                "direction": "in",
                "name": HTTP_BINDING,
                "authLevel": endpoint.auth.name(),
                "methods": methods,
                "route": endpoint.route,
            },
            {
                "type": "http",
                "direction": "out",
                "name": HTTP_OUTPUT,
            }
        ]
    })
}

fn servicebus(function: &Function) -> Value {
    let adapter = ServiceBusAdapterConfig::default();
    let mut trigger = json!({
        "type": "serviceBusTrigger",
        "direction": "in",
        "name": adapter.binding,
        "topicName": function.subscription.topic,
        "subscriptionName": function.subscription.name,
        "connection": LISTEN_CONNECTION,
        "isSessionsEnabled": false,
    });
    // Without `dataType` the host sends the body as text (or parsed JSON),
    // which the adapter reads unless SWITCHYARD_SERVICEBUS_BINARY_BODY says
    // base64.
    if adapter.binary_body {
        trigger["dataType"] = Value::from("binary");
    }
    json!({ "bindings": [trigger] })
}

/// `host.json`: the custom handler (`azure-app` in the package root, the
/// custom-handler request for HTTP triggers too — no forwarding, the app
/// reads `Data.req`), the extension bundle (Service Bus), `functionTimeout`
/// as the app's invocation deadline, the route prefix, and the Service Bus
/// settings: complete on 2xx and abandon otherwise, lock renewal,
/// concurrency, client retries.
pub fn host_json() -> Value {
    json!({
        "version": "2.0",
        "functionTimeout": hms(ServiceBusAdapterConfig::default().invocation_timeout_ms / 1000),
        "logging": {
            "logLevel": {
                "default": "Information"
            }
        },
        "extensionBundle": {
            "id": "Microsoft.Azure.Functions.ExtensionBundle",
            "version": "[4.*, 5.0.0)"
        },
        "customHandler": {
            "description": {
                "defaultExecutablePath": EXECUTABLE,
                "workingDirectory": "",
                "arguments": []
            },
            "enableForwardingHttpRequest": false
        },
        "extensions": {
            "http": {
                "routePrefix": ROUTE_PREFIX
            },
            "serviceBus": {
                "prefetchCount": 0,
                "autoCompleteMessages": true,
                "maxAutoLockRenewalDuration": "00:05:00",
                "maxConcurrentCalls": 16,
                "clientRetryOptions": {
                    "mode": "exponential",
                    "tryTimeout": "00:01:00",
                    "delay": "00:00:00.80",
                    "maxDelay": "00:01:00",
                    "maxRetries": 3
                }
            }
        }
    })
}

/// `hh:mm:ss`, as host.json writes durations.
fn hms(secs: u64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A generated file's text: pretty-printed JSON, keys sorted at every
/// level (whatever serde_json's `preserve_order` says), a trailing newline.
pub fn json_text(value: &Value) -> String {
    let mut value = value.clone();
    sort_keys(&mut value);
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.sort_keys();
            map.values_mut().for_each(sort_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_hh_mm_ss() {
        assert_eq!(hms(300), "00:05:00");
        assert_eq!(hms(3_661), "01:01:01");
    }

    #[test]
    fn text_is_pretty_sorted_and_ends_with_a_newline() {
        let text = json_text(&json!({"b": 1, "a": {"d": [], "c": true}}));
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"c\": true,\n    \"d\": []\n  },\n  \"b\": 1\n}\n"
        );
    }
}
