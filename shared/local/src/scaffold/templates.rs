//! The text `switchyard new function` writes: the crate's Cargo.toml,
//! lib.rs (message or HTTP function), main.rs, README, and the IaC snippets.

use std::fmt::Write as _;

use switchyard_contracts::catalog::EventVersion;
use switchyard_triggers::registry::Trigger;

use super::{NewFunction, pascal, snake};

pub(super) fn cargo_toml(spec: &NewFunction, aws: bool, http: bool) -> String {
    let mut t = format!(
        r#"[package]
name = "switchyard-{name}"
description = "The {name} function."
version = "0.1.0"
edition.workspace = true
rust-version.workspace = true
license.workspace = true
publish.workspace = true
"#,
        name = spec.name
    );
    if aws {
        let _ = write!(
            t,
            r#"
[[bin]]
name = "{name}"
path = "src/main.rs"
required-features = ["lambda"]

[features]
default = ["lambda"]
# The Lambda binary (the library alone links no cloud SDK).
lambda = ["dep:switchyard-runtime", "switchyard-runtime/lambda"]
"#,
            name = spec.name
        );
    }
    t.push_str("\n[dependencies]\nasync-trait.workspace = true\n");
    if http {
        t.push_str("http.workspace = true\n");
    }
    t.push_str("switchyard-contracts.workspace = true\n");
    if aws {
        t.push_str("switchyard-runtime = { workspace = true, optional = true }\n");
    }
    t.push_str("switchyard-triggers.workspace = true\n\n[dev-dependencies]\ntokio.workspace = true\n\n[lints]\nworkspace = true\n");
    t
}

fn trigger_list(triggers: &[Trigger]) -> String {
    triggers
        .iter()
        .map(|t| format!("Trigger::{t:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn message_lib(
    spec: &NewFunction,
    triggers: &[Trigger],
    events: &[EventVersion],
) -> String {
    let ty = pascal(&spec.name);
    let uses: Vec<&str> = events.iter().map(|e| e.rust_type).collect();
    let (event_ty, set_decl, first_ctor) = if events.len() == 1 {
        (
            uses[0].to_owned(),
            String::new(),
            format!("{}::example()", uses[0]),
        )
    } else {
        let set = format!("{ty}Event");
        let mut decl = format!(
            "event_set! {{\n    /// What {name} consumes.\n    #[derive(Debug, Clone, PartialEq)]\n    pub enum {set} {{\n",
            name = spec.name
        );
        for e in events {
            let _ = writeln!(
                decl,
                "        /// `{}`\n        {}({}),",
                e.event_type, e.rust_type, e.rust_type
            );
        }
        decl.push_str("    }\n}\n\n");
        (
            set.clone(),
            decl,
            format!("{}::example().map({set}::from)", uses[0]),
        )
    };
    let envelope_import = if events.len() > 1 {
        "{Envelope, event_set}"
    } else {
        "Envelope"
    };
    let consumed: Vec<String> = events
        .iter()
        .map(|e| format!("`{}`", e.event_type))
        .collect();
    format!(
        r#"//! {name}: consumes {consumed}. The handler is trigger-agnostic; the
//! registration says which triggers run it.

use switchyard_contracts::{envelope_import};
use switchyard_contracts::events::{uses};
use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{{BuildContext, Function, Setting, Trigger}};
use switchyard_triggers::{{Context, Handled, Handler, HandlerError}};

/// The function's name: its idempotency key prefix, log field and settings scope.
pub const FUNCTION_NAME: &str = "{name}";

/// The settings it reads besides the platform's (read them in [`build`]).
pub const SETTINGS: &[Setting] = &[];

{set_decl}/// The business handler.
pub struct {ty};

#[async_trait::async_trait]
impl Handler for {ty} {{
    type Event = {event_ty};
    type Output = String;

    async fn handle(
        &self,
        event: Envelope<{event_ty}>,
        _ctx: Context,
    ) -> Result<Handled<String>, HandlerError> {{
        // Your business logic: return HandlerError::transient(..) to retry,
        // HandlerError::permanent(kind, ..) to park; events to publish go in
        // Handled::publishing(..).
        Ok(event.id.into())
    }}
}}

/// Builds the handler from its settings and the platform's publisher.
///
/// # Errors
/// [`ConfigError`] naming a missing or malformed setting.
pub async fn build(_ctx: BuildContext) -> Result<{ty}, ConfigError> {{
    Ok({ty})
}}

/// The registration.
pub fn function() -> Function {{
    Function::messages(FUNCTION_NAME, &[{triggers}], build)
        .summary("{name}")
        .settings(SETTINGS)
}}

#[cfg(test)]
mod tests {{
    use std::time::{{Duration, SystemTime}};

    use switchyard_contracts::Event;
    use switchyard_triggers::{{Delivery, Ordering, Outcome, Pipeline, PipelineSettings}};

    use super::*;

    #[test]
    fn it_declares_what_it_consumes() {{
        assert_eq!(function().consumes, &[{consumes_lit}]);
    }}

    #[tokio::test(flavor = "current_thread")]
    async fn an_event_is_handled_through_the_pipeline() {{
        let data = {first_ctor}.expect("the contract has an example");
        let event = Envelope::new("test", data);
        let pipeline = Pipeline::new({ty}, PipelineSettings::new(FUNCTION_NAME));
        let delivery = Delivery {{
            message_id: "m-1".to_owned(),
            body: event.to_json().expect("encodes"),
            attempt: 1,
            group: None,
            source: "test".to_owned(),
        }};
        let outcomes = pipeline
            .run_batch(
                vec![delivery],
                SystemTime::now() + Duration::from_secs(30),
                Ordering::Concurrent,
            )
            .await;
        assert_eq!(outcomes, vec![Outcome::Handled]);
    }}
}}
"#,
        name = spec.name,
        consumed = consumed.join(", "),
        uses = if uses.len() == 1 {
            uses[0].to_owned()
        } else {
            format!("{{{}}}", uses.join(", "))
        },
        triggers = trigger_list(triggers),
        consumes_lit = events
            .iter()
            .map(|e| format!("{:?}", e.event_type))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

pub(super) fn http_lib(spec: &NewFunction, triggers: &[Trigger]) -> String {
    let ty = pascal(&spec.name);
    format!(
        r#"//! {name}: an HTTP function (a Function URL on Lambda, an HTTP trigger
//! on Azure, a route of `switchyard up`).

use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{{AuthLevel, BuildContext, Function, HttpApp, Setting, Trigger}};

/// The function's name: its idempotency key prefix, log field and settings scope.
pub const FUNCTION_NAME: &str = "{name}";

/// The settings it reads besides the platform's (read them in [`function`]'s builder).
pub const SETTINGS: &[Setting] = &[];

/// The HTTP app: one request, one response.
pub struct {ty} {{
    _ctx: BuildContext,
}}

#[async_trait::async_trait]
impl HttpApp for {ty} {{
    async fn call(&self, request: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {{
        // Your routes: verify, map, publish through the context's publisher.
        let mut response = http::Response::new(format!("{name}: {{}}", request.uri().path()).into_bytes());
        *response.status_mut() = http::StatusCode::OK;
        response
    }}
}}

/// The registration. On Azure: `POST /api/{name}/...`, anonymous (verify
/// the caller's signature in `call`); `switchyard package` generates its
/// `function.json` from these declarations.
pub fn function() -> Function {{
    Function::http(FUNCTION_NAME, &[{triggers}], |ctx: BuildContext, _store| async move {{
        Ok::<_, ConfigError>({ty} {{ _ctx: ctx }})
    }})
    .summary("{name}")
    .settings(SETTINGS)
    .route("{name}/{{*path}}")
    .auth_level(AuthLevel::Anonymous)
}}

#[cfg(test)]
mod tests {{
    use super::*;

    #[test]
    fn it_is_an_http_function() {{
        assert!(function().is_http());
    }}
}}
"#,
        name = spec.name,
        triggers = trigger_list(triggers),
    )
}

pub(super) fn main_rs(spec: &NewFunction) -> String {
    format!(
        "//! {name} on AWS Lambda. Wiring only: the function is declared in the library.\n\nfn main() -> std::process::ExitCode {{\n    switchyard_runtime::lambda::main(switchyard_{snake}::function())\n}}\n",
        name = spec.name,
        snake = snake(&spec.name)
    )
}

pub(super) fn readme(spec: &NewFunction, triggers: &[Trigger]) -> String {
    let names: Vec<&str> = triggers.iter().map(|t| t.name()).collect();
    format!(
        "# {name}\n\nTriggers: {triggers}. Consumes: {consumes}.\n\n- `src/lib.rs` — the handler, its registration (`function()`) and its test.\n{main}\nRun its tests with `cargo test -p switchyard-{name}`; run it locally with\n`switchyard invoke {name} --event <payload.json>`.\n",
        name = spec.name,
        triggers = names.join(", "),
        consumes = if spec.consumes.is_empty() {
            "nothing (HTTP)".to_owned()
        } else {
            spec.consumes.join(", ")
        },
        main = if triggers.iter().any(|t| t.is_aws()) {
            "- `src/main.rs` — the Lambda binary: one line.\n"
        } else {
            ""
        },
    )
}

pub(super) fn iac(spec: &NewFunction, triggers: &[Trigger], events: &[EventVersion]) -> String {
    let ty = pascal(&spec.name);
    let types: Vec<&str> = events.iter().map(|e| e.event_type).collect();
    let mut out = String::new();
    if triggers.iter().any(|t| t.is_aws()) {
        let _ = writeln!(
            out,
            "# template.yaml (AWS SAM) — Resources:\n  {ty}Function:\n    Type: AWS::Serverless::Function\n    Metadata:\n      BuildMethod: rust-cargolambda\n      BuildProperties:\n        Binary: {name}\n    Properties:\n      CodeUri: .\n      Handler: bootstrap\n      Runtime: provided.al2023\n      Environment:\n        Variables:\n          SWITCHYARD_IDEMPOTENCY: !Sub \"dynamodb:${{IdempotencyTable}}\"",
            name = spec.name
        );
    }
    if triggers.contains(&Trigger::Sqs) {
        let _ = writeln!(
            out,
            "          SWITCHYARD_PARK_QUEUE_URL: !Ref {ty}Dlq\n  {ty}Queue:\n    Type: AWS::SQS::Queue\n    Properties:\n      VisibilityTimeout: 180\n      RedrivePolicy:\n        deadLetterTargetArn: !GetAtt {ty}Dlq.Arn\n        maxReceiveCount: 5\n  {ty}Dlq:\n    Type: AWS::SQS::Queue\n  {ty}Rule:\n    Type: AWS::Events::Rule\n    Properties:\n      EventBusName: !GetAtt Bus.Name\n      EventPattern:\n        detail-type: [{types}]\n      Targets:\n        - Id: {name}-queue\n          Arn: !GetAtt {ty}Queue.Arn\n          InputPath: $.detail\n  {ty}Mapping:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref {ty}Function\n      EventSourceArn: !GetAtt {ty}Queue.Arn\n      BatchSize: 10\n      FunctionResponseTypes: [ReportBatchItemFailures]\n  (plus the queue policy for the rule, and SQSPollerPolicy / DynamoDBCrudPolicy on the function)",
            name = spec.name,
            types = types.join(", ")
        );
    }
    if triggers.contains(&Trigger::EventBridge) {
        let _ = writeln!(
            out,
            "      Events:\n        Bus:\n          Type: EventBridgeRule\n          Properties:\n            EventBusName: !GetAtt Bus.Name\n            Pattern:\n              detail-type: [{}]\n            DeadLetterConfig:\n              Type: SQS",
            types.join(", ")
        );
    }
    if triggers.contains(&Trigger::Http) {
        let _ = writeln!(
            out,
            "      FunctionUrlConfig:\n        AuthType: NONE\n\n// Azure: its function.json (httpTrigger on route `{name}/{{*path}}`, anonymous) is generated from the registry by `switchyard package`",
            name = spec.name
        );
    }
    if triggers.contains(&Trigger::ServiceBus) {
        let rules: String = types
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "resource {snake}Rule{i} 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {{\n  parent: {snake}Subscription\n  name: '{rule}'\n  properties: {{\n    filterType: 'CorrelationFilter'\n    correlationFilter: {{\n      properties: {{\n        type: '{t}'\n      }}\n    }}\n  }}\n}}\n",
                    snake = snake(&spec.name),
                    rule = if i == 0 { "$Default".to_owned() } else { t.replace('.', "-") },
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "\n// infra/azure/main.bicep\nresource {snake}Subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {{\n  parent: topic\n  name: '{name}'\n  properties: {{\n    maxDeliveryCount: 5\n    lockDuration: lockDuration\n    deadLetteringOnMessageExpiration: true\n  }}\n}}\n{rules}// app setting: {prefix}SWITCHYARD_SERVICEBUS_SOURCE = '${{topicName}}/subscriptions/{name}'\n\n// Azure: its function.json (serviceBusTrigger on topic `integration`, subscription `{name}`: the registry's defaults, `.topic(...)` / `.subscription(...)` to change them) is generated from the registry by `switchyard package`",
            name = spec.name,
            snake = snake(&spec.name),
            prefix = switchyard_config::scope_prefix(&spec.name),
        );
    }
    out.push_str("\nThen `cargo test -p switchyard-tests --test registry_iac` checks the registry against the IaC.\n");
    out
}
