//! Reads the parts of `template.yaml` the local stack runs: SQS queues with
//! their redrive policies, EventBridge rules with their patterns and
//! targets, and the functions with their triggers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serde_norway::Value as Yaml;

use crate::bus::pattern::{EventPattern, PatternError};

/// The template could not be read or does not describe a runnable stack.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not YAML.
    #[error("{path} is not valid YAML: {source}")]
    Yaml {
        /// The path.
        path: String,
        /// Why.
        source: serde_norway::Error,
    },
    /// A resource is malformed.
    #[error("template resource {resource}: {reason}")]
    Resource {
        /// The logical id.
        resource: String,
        /// What is wrong.
        reason: String,
    },
    /// An event pattern is malformed.
    #[error("template resource {resource}: {source}")]
    Pattern {
        /// The logical id.
        resource: String,
        /// Why.
        source: PatternError,
    },
}

/// An SQS queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSpec {
    /// Logical id.
    pub name: String,
    /// `VisibilityTimeout` (default 30 s).
    pub visibility_timeout: Duration,
    /// The DLQ's logical id and `maxReceiveCount`, from `RedrivePolicy`.
    pub redrive: Option<(String, u32)>,
    /// `FifoQueue`.
    pub fifo: bool,
}

/// Where a rule delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// An SQS queue (logical id).
    Queue(String),
    /// A function (logical id), with its target DLQ queue (logical id) if any.
    Function {
        /// The function.
        function: String,
        /// The target's dead-letter queue.
        dead_letter_queue: Option<String>,
    },
}

/// An EventBridge rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// Logical id (or `<function>.<event>` for SAM EventBridgeRule events).
    pub name: String,
    /// The event pattern.
    pub pattern: EventPattern,
    /// The targets.
    pub targets: Vec<TargetSpec>,
}

/// A function's SQS trigger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsTrigger {
    /// Queue logical id.
    pub queue: String,
    /// `BatchSize` (default 10).
    pub batch_size: usize,
    /// `ReportBatchItemFailures` is set.
    pub report_batch_item_failures: bool,
}

/// A function.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionSpec {
    /// Logical id.
    pub name: String,
    /// The binary (`Metadata.BuildProperties.Binary`, or the logical id in kebab case).
    pub binary: String,
    /// `Timeout` (function or Globals; default 3 s).
    pub timeout: Duration,
    /// Its SQS trigger.
    pub sqs: Option<SqsTrigger>,
    /// It has a Function URL.
    pub url: bool,
    /// The queue its `SWITCHYARD_PARK_QUEUE_URL` environment variable references.
    pub park_queue: Option<String>,
}

/// What the local stack runs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StackSpec {
    /// Queues by logical id.
    pub queues: BTreeMap<String, QueueSpec>,
    /// Rules.
    pub rules: Vec<RuleSpec>,
    /// Functions by logical id.
    pub functions: BTreeMap<String, FunctionSpec>,
}

impl StackSpec {
    /// The function built from `binary`.
    pub fn function_by_binary(&self, binary: &str) -> Option<&FunctionSpec> {
        self.functions.values().find(|f| f.binary == binary)
    }
}

/// The reference integration's `template.yaml`, built into the CLI: what
/// `switchyard up` and `demo` run without `--template`, anywhere.
pub const REFERENCE_TEMPLATE: &str = include_str!("../../../template.yaml");

/// Reads a template file.
pub fn load(path: &Path) -> Result<StackSpec, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
        path: path.display().to_string(),
        source,
    })?;
    load_str(&text, &path.display().to_string())
}

/// Reads a template from text; `name` says where it came from in errors.
pub fn load_str(text: &str, name: &str) -> Result<StackSpec, TemplateError> {
    let yaml: Yaml = serde_norway::from_str(text).map_err(|source| TemplateError::Yaml {
        path: name.to_owned(),
        source,
    })?;
    parse(&yaml)
}

/// Turns YAML (with CloudFormation short-form tags) into JSON, keeping tags
/// as their long form (`!GetAtt A.Arn` → `{"Fn::GetAtt": "A.Arn"}`).
fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map_or(Value::Null, Value::from)
            }
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(seq) => Value::Array(seq.iter().map(to_json).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    (
                        k.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| format!("{k:?}")),
                        to_json(v),
                    )
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let key = if name == "Ref" {
                "Ref".to_owned()
            } else {
                format!("Fn::{name}")
            };
            let mut map = serde_json::Map::new();
            map.insert(key, to_json(&tagged.value));
            Value::Object(map)
        }
    }
}

/// The logical id an `Arn`/`Queue` property points at (`!GetAtt X.Arn`, `!Ref X`).
fn referenced(v: &Value) -> Option<String> {
    if let Some(r) = v.get("Ref").and_then(Value::as_str) {
        return Some(r.to_owned());
    }
    match v.get("Fn::GetAtt")? {
        Value::String(s) => s.split('.').next().map(str::to_owned),
        Value::Array(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out.trim_end_matches("-function").to_owned()
}

/// Parses a template document.
pub fn parse(yaml: &Yaml) -> Result<StackSpec, TemplateError> {
    let doc = to_json(yaml);
    let resources = doc
        .get("Resources")
        .and_then(Value::as_object)
        .ok_or_else(|| TemplateError::Resource {
            resource: "Resources".to_owned(),
            reason: "the template has no Resources".to_owned(),
        })?;
    let global_timeout = number(doc.pointer("/Globals/Function/Timeout")).unwrap_or(3);
    let bad = |resource: &str, reason: &str| TemplateError::Resource {
        resource: resource.to_owned(),
        reason: reason.to_owned(),
    };
    let pattern_of = |resource: &str, v: Option<&Value>| -> Result<EventPattern, TemplateError> {
        let v = v.ok_or_else(|| bad(resource, "no event pattern"))?;
        // a pattern may be given as a JSON string
        let v = match v {
            Value::String(s) => serde_json::from_str(s)
                .map_err(|_| bad(resource, "the event pattern is not JSON"))?,
            other => other.clone(),
        };
        EventPattern::new(v).map_err(|source| TemplateError::Pattern {
            resource: resource.to_owned(),
            source,
        })
    };

    let mut spec = StackSpec::default();
    let mut mappings: Vec<(String, SqsTrigger)> = Vec::new();
    for (id, res) in resources {
        let props = res.get("Properties").cloned().unwrap_or(Value::Null);
        match res.get("Type").and_then(Value::as_str) {
            Some("AWS::SQS::Queue") => {
                let redrive = match props.get("RedrivePolicy") {
                    None => None,
                    Some(r) => {
                        let dlq = r
                            .get("deadLetterTargetArn")
                            .and_then(referenced)
                            .ok_or_else(|| bad(id, "RedrivePolicy.deadLetterTargetArn must reference a queue of this template"))?;
                        let max = number(r.get("maxReceiveCount"))
                            .ok_or_else(|| bad(id, "RedrivePolicy.maxReceiveCount is missing"))?;
                        Some((dlq, u32::try_from(max).unwrap_or(u32::MAX)))
                    }
                };
                spec.queues.insert(
                    id.clone(),
                    QueueSpec {
                        name: id.clone(),
                        visibility_timeout: Duration::from_secs(
                            number(props.get("VisibilityTimeout")).unwrap_or(30),
                        ),
                        redrive,
                        fifo: props
                            .get("FifoQueue")
                            .and_then(Value::as_bool)
                            .unwrap_or(false),
                    },
                );
            }
            Some("AWS::Events::Rule") => {
                let targets = props
                    .get("Targets")
                    .and_then(Value::as_array)
                    .map(|ts| {
                        ts.iter()
                            .filter_map(|t| t.get("Arn").and_then(referenced))
                            .map(TargetSpec::Queue)
                            .collect()
                    })
                    .unwrap_or_default();
                spec.rules.push(RuleSpec {
                    name: id.clone(),
                    pattern: pattern_of(id, props.get("EventPattern"))?,
                    targets,
                });
            }
            Some("AWS::Lambda::EventSourceMapping") => {
                let function = props
                    .get("FunctionName")
                    .and_then(referenced)
                    .ok_or_else(|| {
                        bad(
                            id,
                            "FunctionName must reference a function of this template",
                        )
                    })?;
                let Some(queue) = props.get("EventSourceArn").and_then(referenced) else {
                    continue; // not a queue of this template (e.g. a stream)
                };
                mappings.push((
                    function,
                    SqsTrigger {
                        queue,
                        batch_size: usize::try_from(number(props.get("BatchSize")).unwrap_or(10))
                            .unwrap_or(10),
                        report_batch_item_failures: props
                            .get("FunctionResponseTypes")
                            .and_then(Value::as_array)
                            .is_some_and(|a| a.iter().any(|t| t == "ReportBatchItemFailures")),
                    },
                ));
            }
            Some("AWS::Serverless::Function") => {
                let binary = res
                    .pointer("/Metadata/BuildProperties/Binary")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .unwrap_or_else(|| kebab(id));
                let mut function = FunctionSpec {
                    name: id.clone(),
                    binary,
                    timeout: Duration::from_secs(
                        number(props.get("Timeout")).unwrap_or(global_timeout),
                    ),
                    sqs: None,
                    url: props.get("FunctionUrlConfig").is_some(),
                    park_queue: props
                        .pointer("/Environment/Variables/SWITCHYARD_PARK_QUEUE_URL")
                        .and_then(referenced),
                };
                if let Some(events) = props.get("Events").and_then(Value::as_object) {
                    for (event_id, event) in events {
                        let ep = event.get("Properties").cloned().unwrap_or(Value::Null);
                        match event.get("Type").and_then(Value::as_str) {
                            Some("SQS") => {
                                let queue =
                                    ep.get("Queue").and_then(referenced).ok_or_else(|| {
                                        bad(
                                            id,
                                            "an SQS event must reference a queue of this template",
                                        )
                                    })?;
                                function.sqs = Some(SqsTrigger {
                                    queue,
                                    batch_size: usize::try_from(
                                        number(ep.get("BatchSize")).unwrap_or(10),
                                    )
                                    .unwrap_or(10),
                                    report_batch_item_failures: ep
                                        .get("FunctionResponseTypes")
                                        .and_then(Value::as_array)
                                        .is_some_and(|a| {
                                            a.iter().any(|t| t == "ReportBatchItemFailures")
                                        }),
                                });
                            }
                            Some("EventBridgeRule") | Some("CloudWatchEvent") => {
                                let name = format!("{id}.{event_id}");
                                let dead_letter_queue = ep.get("DeadLetterConfig").and_then(|d| {
                                    d.get("Arn").and_then(referenced).or_else(|| {
                                        d.get("QueueLogicalId")
                                            .and_then(Value::as_str)
                                            .map(str::to_owned)
                                    })
                                });
                                spec.rules.push(RuleSpec {
                                    pattern: pattern_of(&name, ep.get("Pattern"))?,
                                    name,
                                    targets: vec![TargetSpec::Function {
                                        function: id.clone(),
                                        dead_letter_queue,
                                    }],
                                });
                            }
                            _ => {}
                        }
                    }
                }
                spec.functions.insert(id.clone(), function);
            }
            _ => {}
        }
    }
    for (function, trigger) in mappings {
        match spec.functions.get_mut(&function) {
            Some(f) if spec.queues.contains_key(&trigger.queue) => f.sqs = Some(trigger),
            Some(_) => {
                return Err(bad(
                    &function,
                    &format!(
                        "its event source {} is not a queue of this template",
                        trigger.queue
                    ),
                ));
            }
            None => {
                return Err(bad(
                    &function,
                    "an event source mapping names a function that is not in this template",
                ));
            }
        }
    }
    for f in spec.functions.values() {
        if let Some(q) = &f.park_queue {
            if !spec.queues.contains_key(q) {
                return Err(bad(
                    &f.name,
                    &format!(
                        "SWITCHYARD_PARK_QUEUE_URL references {q}, which is not a queue of this template"
                    ),
                ));
            }
        }
    }
    for queue in spec.queues.values() {
        if let Some((dlq, _)) = &queue.redrive {
            if !spec.queues.contains_key(dlq) {
                return Err(bad(
                    &queue.name,
                    &format!("its DLQ {dlq} is not a queue of this template"),
                ));
            }
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 30
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties: { Name: bus }
  ErpSyncDLQ:
    Type: AWS::SQS::Queue
  ErpSyncQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 180
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt ErpSyncDLQ.Arn
        maxReceiveCount: 5
  OrdersRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !GetAtt Bus.Name
      EventPattern:
        detail-type: [order.placed, customer.updated]
      Targets:
        - Id: erp-sync
          Arn: !GetAtt ErpSyncQueue.Arn
  ErpSyncFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties: { Binary: erp-sync }
    Properties:
      CodeUri: .
      Environment:
        Variables:
          SWITCHYARD_PARK_QUEUE_URL: !Ref ErpSyncDLQ
      Events:
        Queue:
          Type: SQS
          Properties:
            Queue: !GetAtt ErpSyncQueue.Arn
            BatchSize: 10
            FunctionResponseTypes: [ReportBatchItemFailures]
  AuditLogFunction:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 10
      Events:
        Synced:
          Type: EventBridgeRule
          Properties:
            EventBusName: !GetAtt Bus.Name
            Pattern: { detail-type: [erp.order-synced] }
            DeadLetterConfig: { Arn: !GetAtt AuditDLQ.Arn }
  AuditDLQ:
    Type: AWS::SQS::Queue
"#;

    #[test]
    fn queues_rules_and_functions_are_read() {
        let spec = parse(&serde_norway::from_str(TEMPLATE).unwrap()).unwrap();
        let q = &spec.queues["ErpSyncQueue"];
        assert_eq!(q.visibility_timeout, Duration::from_secs(180));
        assert_eq!(q.redrive, Some(("ErpSyncDLQ".to_owned(), 5)));
        assert_eq!(spec.rules.len(), 2);
        let orders = spec.rules.iter().find(|r| r.name == "OrdersRule").unwrap();
        assert_eq!(
            orders.targets,
            vec![TargetSpec::Queue("ErpSyncQueue".into())]
        );
        assert!(
            orders
                .pattern
                .matches(&serde_json::json!({"detail-type": "order.placed"}))
        );
        let erp = spec.function_by_binary("erp-sync").unwrap();
        assert_eq!(erp.timeout, Duration::from_secs(30));
        assert_eq!(erp.park_queue.as_deref(), Some("ErpSyncDLQ"));
        assert_eq!(
            erp.sqs
                .as_ref()
                .map(|s| (s.queue.as_str(), s.report_batch_item_failures)),
            Some(("ErpSyncQueue", true))
        );
        let audit = spec.function_by_binary("audit-log").unwrap();
        assert_eq!(audit.timeout, Duration::from_secs(10));
        let synced = spec
            .rules
            .iter()
            .find(|r| r.name == "AuditLogFunction.Synced")
            .unwrap();
        assert_eq!(
            synced.targets,
            vec![TargetSpec::Function {
                function: "AuditLogFunction".into(),
                dead_letter_queue: Some("AuditDLQ".into())
            }]
        );
    }

    #[test]
    fn a_plain_event_source_mapping_is_an_sqs_trigger() {
        let with_esm = TEMPLATE.replace(
            "      Events:\n        Queue:\n          Type: SQS\n          Properties:\n            Queue: !GetAtt ErpSyncQueue.Arn\n            BatchSize: 10\n            FunctionResponseTypes: [ReportBatchItemFailures]\n",
            "",
        ) + "  Mapping:\n    Type: AWS::Lambda::EventSourceMapping\n    Properties:\n      FunctionName: !Ref ErpSyncFunction\n      EventSourceArn: !GetAtt ErpSyncQueue.Arn\n      BatchSize: 5\n      FunctionResponseTypes: [ReportBatchItemFailures]\n";
        assert!(!with_esm.contains("Type: SQS"));
        let spec = parse(&serde_norway::from_str(&with_esm).unwrap()).unwrap();
        let erp = spec.function_by_binary("erp-sync").unwrap();
        assert_eq!(
            erp.sqs.as_ref().map(|s| (s.queue.as_str(), s.batch_size)),
            Some(("ErpSyncQueue", 5))
        );
    }

    #[test]
    fn a_dangling_dlq_is_an_error() {
        let broken = TEMPLATE.replace(
            "deadLetterTargetArn: !GetAtt ErpSyncDLQ.Arn",
            "deadLetterTargetArn: !GetAtt Nope.Arn",
        );
        let err = parse(&serde_norway::from_str(&broken).unwrap()).unwrap_err();
        assert!(err.to_string().contains("Nope"), "{err}");
    }

    #[test]
    fn an_invalid_event_pattern_is_an_error_naming_the_rule_and_the_field() {
        let broken = TEMPLATE.replace(
            "detail-type: [order.placed, customer.updated]",
            "detail: { total: [{ numeric: [\">\", 0, \">\", 5] }] }",
        );
        let err = parse(&serde_norway::from_str(&broken).unwrap()).unwrap_err();
        assert!(
            err.to_string().starts_with(
                "template resource OrdersRule: invalid event pattern at `detail.total`: bad numeric range operator"
            ),
            "{err}"
        );
        let broken = TEMPLATE.replace(
            "Pattern: { detail-type: [erp.order-synced] }",
            "Pattern: { detail: { ip: [{ cidr: 10.0.0.0 }] } }",
        );
        let err = parse(&serde_norway::from_str(&broken).unwrap()).unwrap_err();
        assert!(err.to_string().contains("one '/' required"), "{err}");
    }
}
