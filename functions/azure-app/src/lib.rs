#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub use switchyard_runtime::azure::{
    AzureApp, HTTP_BINDING, HTTP_OUTPUT, LISTEN_CONNECTION, PORT_VAR, build, function_json,
    host_json, listen_port, router,
};
use switchyard_triggers::registry::Function;

/// The functions this Function App serves: every registered function with a
/// Service Bus or HTTP trigger, each at `POST /<name>`.
pub fn functions() -> Vec<Function> {
    switchyard_runtime::azure::hosted(switchyard_registry::functions())
}
