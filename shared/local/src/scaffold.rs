//! `switchyard new function NAME --trigger ... [--consumes TYPE ...]`:
//! writes a function crate (a typed handler, its registration, a test that
//! runs it through the pipeline, a README), registers it in the registry,
//! and prints the IaC to add — the only other thing a new function needs.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use switchyard_contracts::catalog::{EventVersion, catalog};
use switchyard_triggers::registry::Trigger;

/// The marker line in `functions/registry/src/lib.rs` new entries go above.
pub const REGISTRY_MARKER: &str = "// switchyard new: registered functions above this line";

/// The function could not be scaffolded; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not a valid function name.
    #[error(
        "invalid function name {0:?}: use lower-case letters, digits and '-', starting with a letter (e.g. invoice-sync)"
    )]
    Name(String),
    /// A consumed type is not a contract event type.
    #[error("unknown event type {event_type:?}: known types are {known}")]
    UnknownType {
        /// The type asked for.
        event_type: String,
        /// The known ones.
        known: String,
    },
    /// The trigger list is unusable.
    #[error("{0}")]
    Triggers(String),
    /// No workspace with a registry was found.
    #[error(
        "no Switchyard workspace found at or above {0} (a Cargo.toml beside functions/registry)"
    )]
    NoWorkspace(String),
    /// The function exists already.
    #[error("functions/{0} exists already")]
    Exists(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewFunction {
    /// The function's name, e.g. `invoice-sync`.
    pub name: String,
    /// Its triggers.
    pub triggers: Vec<Trigger>,
    /// The event types it consumes (message functions).
    pub consumes: Vec<String>,
}

/// What was written, and the IaC to add by hand.
#[derive(Debug, Clone)]
pub struct Scaffolded {
    /// Files created or changed, relative to the workspace root.
    pub files: Vec<PathBuf>,
    /// The snippets for `template.yaml` and `infra/azure`.
    pub iac: String,
}

/// The workspace root at or above `start`: the directory whose Cargo.toml
/// sits beside `functions/registry`.
///
/// # Errors
/// [`ScaffoldError::NoWorkspace`].
pub fn find_workspace(start: &Path) -> Result<PathBuf, ScaffoldError> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join("Cargo.toml").is_file() && d.join("functions/registry/src/lib.rs").is_file() {
            return Ok(d.to_owned());
        }
        dir = d.parent();
    }
    Err(ScaffoldError::NoWorkspace(start.display().to_string()))
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

fn pascal(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

fn snake(name: &str) -> String {
    name.replace('-', "_")
}

/// The latest version of each consumed type.
fn resolve(consumes: &[String]) -> Result<Vec<EventVersion>, ScaffoldError> {
    let all = catalog();
    let known: BTreeSet<&str> = all.iter().map(|e| e.event_type).collect();
    consumes
        .iter()
        .map(|t| {
            all.iter()
                .filter(|e| e.event_type == t)
                .max_by_key(|e| e.version)
                .copied()
                .ok_or_else(|| ScaffoldError::UnknownType {
                    event_type: t.clone(),
                    known: known.iter().copied().collect::<Vec<_>>().join(", "),
                })
        })
        .collect()
}

fn write(
    root: &Path,
    rel: &str,
    text: &str,
    files: &mut Vec<PathBuf>,
) -> Result<(), ScaffoldError> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ScaffoldError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| ScaffoldError::Io {
        path: path.display().to_string(),
        source,
    })?;
    files.push(PathBuf::from(rel));
    Ok(())
}

fn read(path: &Path) -> Result<String, ScaffoldError> {
    std::fs::read_to_string(path).map_err(|source| ScaffoldError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Writes the crate, registers it and returns the IaC snippets.
///
/// # Errors
/// [`ScaffoldError`]; on a validation error nothing is written.
pub fn new_function(root: &Path, spec: &NewFunction) -> Result<Scaffolded, ScaffoldError> {
    if !valid_name(&spec.name) {
        return Err(ScaffoldError::Name(spec.name.clone()));
    }
    let mut triggers = spec.triggers.clone();
    triggers.sort();
    triggers.dedup();
    if triggers.is_empty() {
        return Err(ScaffoldError::Triggers(
            "give at least one --trigger: sqs, eventbridge, servicebus or http".to_owned(),
        ));
    }
    let http = triggers.contains(&Trigger::Http);
    if http && triggers.len() > 1 {
        return Err(ScaffoldError::Triggers(
            "an http function has only the http trigger (it answers requests; message triggers need a handler of events)".to_owned(),
        ));
    }
    if http && !spec.consumes.is_empty() {
        return Err(ScaffoldError::Triggers(
            "an http function consumes no events; drop --consumes".to_owned(),
        ));
    }
    if !http && spec.consumes.is_empty() {
        return Err(ScaffoldError::Triggers(
            "a message function consumes something: give --consumes TYPE (e.g. order.placed)"
                .to_owned(),
        ));
    }
    let events = resolve(&spec.consumes)?;
    let dir = format!("functions/{}", spec.name);
    if root.join(&dir).exists() {
        return Err(ScaffoldError::Exists(spec.name.clone()));
    }
    let registry_lib = root.join("functions/registry/src/lib.rs");
    let registry_toml = root.join("functions/registry/Cargo.toml");
    let lib_text = read(&registry_lib)?;
    let toml_text = read(&registry_toml)?;
    if !lib_text.contains(REGISTRY_MARKER) {
        return Err(ScaffoldError::Triggers(format!(
            "{} has no line {REGISTRY_MARKER:?} to register the function above",
            registry_lib.display()
        )));
    }

    let mut files = Vec::new();
    let aws = triggers.iter().any(|t| t.is_aws());
    write(
        root,
        &format!("{dir}/Cargo.toml"),
        &cargo_toml(spec, aws, http),
        &mut files,
    )?;
    let lib = if http {
        http_lib(spec, &triggers)
    } else {
        message_lib(spec, &triggers, &events)
    };
    write(root, &format!("{dir}/src/lib.rs"), &lib, &mut files)?;
    if aws {
        write(
            root,
            &format!("{dir}/src/main.rs"),
            &main_rs(spec),
            &mut files,
        )?;
    }
    write(
        root,
        &format!("{dir}/README.md"),
        &readme(spec, &triggers),
        &mut files,
    )?;
    format_sources(&root.join(&dir));

    let crate_name = format!("switchyard-{}", spec.name);
    let entry = format!("        switchyard_{}::function(),\n", snake(&spec.name));
    let lib_text = lib_text.replacen(
        &format!("        {REGISTRY_MARKER}"),
        &format!("{entry}        {REGISTRY_MARKER}"),
        1,
    );
    write(root, "functions/registry/src/lib.rs", &lib_text, &mut files)?;
    let dep = format!(
        "{crate_name} = {{ path = \"../{}\", default-features = false }}\n",
        spec.name
    );
    let toml_text = match toml_text.find("[dependencies]\n") {
        Some(at) => {
            let at = at + "[dependencies]\n".len();
            format!("{}{dep}{}", &toml_text[..at], &toml_text[at..])
        }
        None => format!("{toml_text}\n[dependencies]\n{dep}"),
    };
    write(
        root,
        "functions/registry/Cargo.toml",
        &toml_text,
        &mut files,
    )?;
    Ok(Scaffolded {
        files,
        iac: iac(spec, &triggers, &events),
    })
}

/// Formats the generated sources with the toolchain's rustfmt, as
/// `cargo fmt` would; without rustfmt they stay as generated (valid Rust).
fn format_sources(dir: &Path) {
    let sources = ["src/lib.rs", "src/main.rs"]
        .iter()
        .map(|f| dir.join(f))
        .filter(|p| p.is_file());
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(sources)
        .status();
    if !matches!(status, Ok(s) if s.success()) {
        tracing::warn!("rustfmt did not run on the generated sources; run cargo fmt");
    }
}

fn cargo_toml(spec: &NewFunction, aws: bool, http: bool) -> String {
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

fn message_lib(spec: &NewFunction, triggers: &[Trigger], events: &[EventVersion]) -> String {
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

fn http_lib(spec: &NewFunction, triggers: &[Trigger]) -> String {
    let ty = pascal(&spec.name);
    format!(
        r#"//! {name}: an HTTP function (a Function URL on Lambda, an HTTP trigger
//! on Azure, a route of `switchyard up`).

use switchyard_triggers::config::ConfigError;
use switchyard_triggers::registry::{{BuildContext, Function, HttpApp, Setting, Trigger}};

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

/// The registration.
pub fn function() -> Function {{
    Function::http(FUNCTION_NAME, &[{triggers}], |ctx: BuildContext, _store| async move {{
        Ok::<_, ConfigError>({ty} {{ _ctx: ctx }})
    }})
    .summary("{name}")
    .settings(SETTINGS)
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

fn main_rs(spec: &NewFunction) -> String {
    format!(
        "//! {name} on AWS Lambda. Wiring only: the function is declared in the library.\n\nfn main() -> std::process::ExitCode {{\n    switchyard_runtime::lambda::main(switchyard_{snake}::function())\n}}\n",
        name = spec.name,
        snake = snake(&spec.name)
    )
}

fn readme(spec: &NewFunction, triggers: &[Trigger]) -> String {
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

fn iac(spec: &NewFunction, triggers: &[Trigger], events: &[EventVersion]) -> String {
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
            "      FunctionUrlConfig:\n        AuthType: NONE\n\n// infra/azure/{name}/function.json\n{{\n  \"bindings\": [\n    {{ \"type\": \"httpTrigger\", \"direction\": \"in\", \"name\": \"req\", \"authLevel\": \"anonymous\", \"methods\": [\"post\"], \"route\": \"{name}/{{*path}}\" }},\n    {{ \"type\": \"http\", \"direction\": \"out\", \"name\": \"res\" }}\n  ]\n}}",
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
            "\n// infra/azure/main.bicep\nresource {snake}Subscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {{\n  parent: topic\n  name: '{name}'\n  properties: {{\n    maxDeliveryCount: 5\n    lockDuration: lockDuration\n    deadLetteringOnMessageExpiration: true\n  }}\n}}\n{rules}// app setting: {prefix}SWITCHYARD_SERVICEBUS_SOURCE = '${{topicName}}/subscriptions/{name}'\n\n// infra/azure/{name}/function.json\n{{\n  \"bindings\": [\n    {{ \"type\": \"serviceBusTrigger\", \"direction\": \"in\", \"name\": \"message\", \"topicName\": \"integration\", \"subscriptionName\": \"{name}\", \"connection\": \"ServiceBusListenConnection\", \"isSessionsEnabled\": false }}\n  ]\n}}",
            name = spec.name,
            snake = snake(&spec.name),
            prefix = switchyard_config::scope_prefix(&spec.name),
        );
    }
    out.push_str("\nThen `cargo test -p switchyard-tests --test registry_iac` checks the registry against the IaC.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_cases() {
        assert!(valid_name("invoice-sync"));
        for bad in ["", "Invoice", "1sync", "a--b", "a-", "a_b"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(pascal("invoice-sync"), "InvoiceSync");
        assert_eq!(snake("invoice-sync"), "invoice_sync");
    }

    #[test]
    fn unknown_types_and_bad_trigger_sets_are_refused_before_writing() {
        let dir = std::env::temp_dir().join("switchyard-scaffold-never-written");
        let err = new_function(
            &dir,
            &NewFunction {
                name: "x".into(),
                triggers: vec![Trigger::Sqs],
                consumes: vec!["order.cancelled".into()],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("order.placed"), "{err}");
        let err = new_function(
            &dir,
            &NewFunction {
                name: "x".into(),
                triggers: vec![Trigger::Http, Trigger::Sqs],
                consumes: vec![],
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("http"), "{err}");
        assert!(!dir.exists());
    }
}
