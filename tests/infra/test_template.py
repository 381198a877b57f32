"""Checks of template.yaml that read the template itself (no emulator).

Two kinds:

1. What cfn-lint does not catch (the checks are functions returning a list of
   problems, each also run on a deliberately broken copy to prove it bites):
   - a queue consumed by a function must hide an in-flight batch longer than
     the function can run: VisibilityTimeout >= 6 x the function's Timeout
     (Globals + per-function override) + the mapping's batching window;
   - EventBridge dead-letter/retry settings use only documented keys (SAM's
     EventBridgeRule event is not schema-checked by cfn-lint, and the SAM
     translator passes unknown RetryPolicy keys through);
   - no IAM statement grants data-plane actions on "*"; secrets are NoEcho;
     every redrive policy has maxReceiveCount 5.
2. What moto's CloudFormation cannot show (test_moto_deploy.py deploys the
   template there): moto does not create AWS::CloudWatch::Alarm,
   AWS::SQS::QueuePolicy or AWS::Lambda::Url from a template, ignores
   TimeToLiveSpecification and Architectures, stores but never applies a rule
   target's RetryPolicy/DeadLetterConfig, and never runs Lambda code. Those
   are asserted here from the template (and from its SAM translation).
3. The policies checkov checks (scripts/test.sh runs it; infra/README.md,
   Policy checks), so a regression fails without checkov too: every queue,
   table and function environment encrypted with the stack's key (and every
   role that needs it may use it), point-in-time recovery on every table,
   every asynchronously invoked function with a DLQ, every function's
   concurrency bounded (a mapping never allowed more than is reserved), and
   exactly the justified checkov skips.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
import unittest
from typing import Any, Iterator

from infra_support import REPO_ROOT, load_template, resources_of_type, translate

FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")
SAM_DEFAULT_TIMEOUT = 3  # seconds, when neither the function nor Globals set one
SQS_DEFAULT_VISIBILITY = 30

# Documented keys (AWS::Serverless::Function EventBridgeRule event; AWS::Events::Rule Target).
SAM_DLQ_KEYS = {"Arn", "Type", "QueueLogicalId"}
RULE_TARGET_DLQ_KEYS = {"Arn"}
RETRY_POLICY_KEYS = {"MaximumRetryAttempts", "MaximumEventAgeInSeconds"}
SAM_EVENTBRIDGE_RULE_KEYS = {
    "Pattern", "EventBusName", "RuleName", "DeadLetterConfig", "RetryPolicy", "Input",
    "InputPath", "InputTransformer", "Target", "Enabled", "State",
}

DATA_PLANE_ACTION = re.compile(r"^(sqs:.*|dynamodb:.*|events:PutEvents|\*)$", re.IGNORECASE)
SECRET_PARAMETER = re.compile(r"(secret|key|password|token)", re.IGNORECASE)
# Environment variables that carry secrets must come from NoEcho parameters.
SECRET_ENV = re.compile(r"(SECRET|_KEY$|PASSWORD|TOKEN)")


# ---------------------------------------------------------------- template walking
def globals_function(template: dict[str, Any]) -> dict[str, Any]:
    return (template.get("Globals") or {}).get("Function") or {}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") in FUNCTION_TYPES}


def function_timeout(template: dict[str, Any], logical_id: str) -> int:
    props = template["Resources"][logical_id].get("Properties") or {}
    if "Timeout" in props:
        return int(props["Timeout"])
    if template["Resources"][logical_id]["Type"] == "AWS::Serverless::Function":
        return int(globals_function(template).get("Timeout", SAM_DEFAULT_TIMEOUT))
    return SAM_DEFAULT_TIMEOUT


def logical_id_of(value: Any, attribute: str | None = None) -> str | None:
    """The resource a {"Ref": X} or {"Fn::GetAtt": [X, attribute]} points to."""
    if isinstance(value, dict):
        if "Ref" in value and attribute in (None, "Ref"):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target, attr = value["Fn::GetAtt"]
            if attribute is None or attr == attribute:
                return target
    return None


def sqs_event_sources(template: dict[str, Any]) -> Iterator[tuple[str, Any, str | None, int]]:
    """(where, queue reference, consuming function, batching window) for
    every SQS event source: AWS::Lambda::EventSourceMapping resources and SAM
    `SQS` events."""
    resources = template.get("Resources", {})
    for name, res in resources.items():
        if res.get("Type") == "AWS::Lambda::EventSourceMapping":
            props = res.get("Properties") or {}
            source = props.get("EventSourceArn")
            queue = logical_id_of(source, "Arn")
            if queue is not None and resources.get(queue, {}).get("Type") != "AWS::SQS::Queue":
                continue  # a stream or another kind of source
            function = logical_id_of(props.get("FunctionName"))
            yield name, source, function, int(props.get("MaximumBatchingWindowInSeconds", 0))
    for fname, res in resources.items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        for ename, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") == "SQS":
                props = event.get("Properties") or {}
                yield (f"{fname}.Events.{ename}", props.get("Queue"), fname,
                       int(props.get("MaximumBatchingWindowInSeconds", 0)))


def unless_no_value(policy: Any) -> Any:
    """A policy guarded by `!If [Cond, policy, !Ref AWS::NoValue]` (read
    access to a secret given by ARN) is checked as the policy it grants."""
    if isinstance(policy, dict) and "Fn::If" in policy:
        granted = policy["Fn::If"][1]
        return granted if granted != {"Ref": "AWS::NoValue"} else {}
    return policy


def policy_documents(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, policy document) for every identity policy in the template:
    IAM roles/policies and the inline statements of SAM functions."""
    for name, res in template.get("Resources", {}).items():
        props = res.get("Properties") or {}
        kind = res.get("Type")
        if kind == "AWS::IAM::Role":
            for i, policy in enumerate(props.get("Policies") or []):
                yield f"{name}.Policies[{i}]", unless_no_value(policy).get("PolicyDocument") or {}
        elif kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            yield name, props.get("PolicyDocument") or {}
        elif kind == "AWS::Serverless::Function":
            policies = props.get("Policies") or []
            if isinstance(policies, dict):
                policies = [policies]
            for i, policy in enumerate(policies):
                policy = unless_no_value(policy)
                if isinstance(policy, dict) and "Statement" in policy:
                    yield f"{name}.Policies[{i}]", policy


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# ---------------------------------------------------------------- checks
def visibility_timeout_problems(template: dict[str, Any]) -> list[str]:
    """Every SQS queue used as an event source: VisibilityTimeout >= 6 x the
    consuming function's timeout + the batching window (AWS's guidance for
    Lambda SQS sources). Unresolvable references are problems, not passes."""
    problems = []
    resources = template.get("Resources", {})
    for where, source, function, window in sqs_event_sources(template):
        queue = logical_id_of(source, "Arn")
        if queue is None or queue not in resources:
            problems.append(f"{where}: cannot resolve the source queue {source!r} to a queue in this template")
            continue
        if function is None or function not in functions(template):
            problems.append(f"{where}: cannot resolve the consuming function")
            continue
        timeout = function_timeout(template, function)
        visibility = int((resources[queue].get("Properties") or {}).get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY))
        needed = 6 * timeout + window
        if visibility < needed:
            problems.append(
                f"{where}: queue {queue} VisibilityTimeout {visibility}s < 6 x {function} Timeout "
                f"{timeout}s + batching window {window}s = {needed}s"
            )
    return problems


def _retry_policy_problems(where: str, retry: Any) -> list[str]:
    if not isinstance(retry, dict):
        return [f"{where}.RetryPolicy is not a mapping"]
    problems = [f"{where}.RetryPolicy: undocumented key {k!r}" for k in sorted(set(retry) - RETRY_POLICY_KEYS)]
    attempts = retry.get("MaximumRetryAttempts")
    if isinstance(attempts, int) and not 0 <= attempts <= 185:
        problems.append(f"{where}.RetryPolicy.MaximumRetryAttempts {attempts} outside 0..185")
    age = retry.get("MaximumEventAgeInSeconds")
    if isinstance(age, int) and not 60 <= age <= 86400:
        problems.append(f"{where}.RetryPolicy.MaximumEventAgeInSeconds {age} outside 60..86400")
    return problems


def dead_letter_problems(template: dict[str, Any]) -> list[str]:
    """EventBridge DeadLetterConfig/RetryPolicy use only documented keys; every
    rule target that is a function has both (a failed event is retried, then
    kept, never dropped)."""
    problems: list[str] = []
    resources = template.get("Resources", {})
    function_ids = set(functions(template))
    for name, res in resources.items():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::Events::Rule":
            for i, target in enumerate(props.get("Targets") or []):
                where = f"{name}.Targets[{i}]"
                if "DeadLetterConfig" in target:
                    dlq = target["DeadLetterConfig"]
                    if not isinstance(dlq, dict) or "Arn" not in dlq:
                        problems.append(f"{where}.DeadLetterConfig has no Arn")
                    else:
                        problems += [f"{where}.DeadLetterConfig: undocumented key {k!r}"
                                     for k in sorted(set(dlq) - RULE_TARGET_DLQ_KEYS)]
                if "RetryPolicy" in target:
                    problems += _retry_policy_problems(where, target["RetryPolicy"])
                if logical_id_of(target.get("Arn"), "Arn") in function_ids:
                    for key in ("DeadLetterConfig", "RetryPolicy"):
                        if key not in target:
                            problems.append(f"{where}: a function target without {key}")
        if res.get("Type") == "AWS::Serverless::Function":
            for ename, event in (props.get("Events") or {}).items():
                if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                    continue
                where = f"{name}.Events.{ename}"
                eprops = event.get("Properties") or {}
                problems += [f"{where}: undocumented property {k!r}"
                             for k in sorted(set(eprops) - SAM_EVENTBRIDGE_RULE_KEYS)]
                dlq = eprops.get("DeadLetterConfig")
                if dlq is None:
                    problems.append(f"{where}: no DeadLetterConfig")
                elif not isinstance(dlq, dict):
                    problems.append(f"{where}.DeadLetterConfig is not a mapping")
                else:
                    problems += [f"{where}.DeadLetterConfig: undocumented key {k!r}"
                                 for k in sorted(set(dlq) - SAM_DLQ_KEYS)]
                    if ("Arn" in dlq) == ("Type" in dlq):
                        problems.append(f"{where}.DeadLetterConfig needs exactly one of Arn and Type")
                    if "Type" in dlq and dlq["Type"] != "SQS":
                        problems.append(f"{where}.DeadLetterConfig.Type must be SQS")
                    if "QueueLogicalId" in dlq and "Type" not in dlq:
                        problems.append(f"{where}.DeadLetterConfig.QueueLogicalId only goes with Type")
                if "RetryPolicy" not in eprops:
                    problems.append(f"{where}: no RetryPolicy")
                else:
                    problems += _retry_policy_problems(where, eprops["RetryPolicy"])
    return problems


def wildcard_problems(template: dict[str, Any]) -> list[str]:
    """No Allow statement grants a data-plane action (sqs:*, dynamodb:*,
    events:PutEvents) on Resource "*" (or via NotResource)."""
    problems = []
    for where, doc in policy_documents(template):
        for j, statement in enumerate(as_list(doc.get("Statement") or [])):
            if statement.get("Effect") != "Allow":
                continue
            actions = [a for a in as_list(statement.get("Action") or []) if isinstance(a, str)]
            data_plane = [a for a in actions if DATA_PLANE_ACTION.match(a)]
            if not data_plane:
                continue
            if "NotResource" in statement:
                problems.append(f"{where}.Statement[{j}]: {data_plane} with NotResource")
            if any(r == "*" for r in as_list(statement.get("Resource"))):
                problems.append(f"{where}.Statement[{j}]: {data_plane} on Resource '*'")
            if any(a in ("*", "sqs:*", "dynamodb:*") for a in data_plane):
                problems.append(f"{where}.Statement[{j}]: action wildcard {data_plane}")
    return problems


def policy_template_problems(template: dict[str, Any]) -> list[str]:
    """SAM policy templates are scoped to resources of this template: every
    parameter is a Ref/GetAtt of one of them, never a literal (a literal "*"
    would widen e.g. SQSPollerPolicy to every queue). Managed policies named
    by string are not allowed at all."""
    problems = []
    resources = template.get("Resources", {})
    for name, res in resources_of_type(template, "AWS::Serverless::Function").items():
        policies = (res.get("Properties") or {}).get("Policies") or []
        for i, policy in enumerate(as_list(policies)):
            policy = unless_no_value(policy)
            if isinstance(policy, str):
                problems.append(f"{name}.Policies[{i}]: managed policy {policy!r}")
                continue
            if "Statement" in policy:
                continue
            for template_name, params in policy.items():
                for key, value in (params or {}).items():
                    target = logical_id_of(value)
                    if target not in resources:
                        problems.append(f"{name}.Policies[{i}].{template_name}.{key} = {value!r} "
                                        "is not a resource of this template")
    return problems


def no_echo_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    parameters = template.get("Parameters") or {}
    for name, spec in parameters.items():
        # The Dynamics header *name*, a token endpoint's URL and a KMS key's ARN are not secrets.
        # A secret's *Arn form names where it is stored: no secret, as long
        # as its pattern admits nothing but an ARN.
        if name.endswith("Arn") and SECRET_PARAMETER.search(name):
            if not str(spec.get("AllowedPattern", "")).startswith("^$|^arn:"):
                problems.append(f"parameter {name} looks secret but is not NoEcho")
            continue
        if (SECRET_PARAMETER.search(name) and not name.endswith(("Header", "TokenUrl", "KmsKeyArn"))
                and str(spec.get("NoEcho")).lower() != "true"):
            problems.append(f"parameter {name} looks secret but is not NoEcho")
    for fname, res in functions(template).items():
        variables = (((res.get("Properties") or {}).get("Environment") or {}).get("Variables")) or {}
        for var, value in variables.items():
            if SECRET_ENV.search(var) and not var.endswith("_TOKEN_URL"):
                # a plain Ref, the value branch of `!If [Has..., !Ref X, !Ref AWS::NoValue]`,
                # or `!If [HasXArn, <reference built from XArn>, !Ref X]`
                refs = {r for r in refs_in(value) if r != "AWS::NoValue"}
                plain = {r for r in refs if not r.endswith("Arn")}
                if not plain or any(r not in parameters or str(parameters[r].get("NoEcho")).lower() != "true"
                                    for r in plain):
                    problems.append(f"{fname}: {var} does not come from a NoEcho parameter")
    secret_params = {n for n, s in parameters.items() if str(s.get("NoEcho")).lower() == "true"}
    outputs = json.dumps(template.get("Outputs") or {})
    for name in secret_params:
        if f'"Ref": "{name}"' in outputs or "${" + name + "}" in outputs:
            problems.append(f"output exposes NoEcho parameter {name}")
    return problems


def refs_in(value: Any) -> set[str]:
    """Every `Ref` target inside an intrinsic expression."""
    if isinstance(value, dict):
        found = {value["Ref"]} if isinstance(value.get("Ref"), str) else set()
        for v in value.values():
            found |= refs_in(v)
        return found
    if isinstance(value, list):
        return set().union(*(refs_in(v) for v in value)) if value else set()
    return set()


def redrive_problems(template: dict[str, Any]) -> list[str]:
    problems = []
    queues = resources_of_type(template, "AWS::SQS::Queue")
    for name, res in queues.items():
        redrive = (res.get("Properties") or {}).get("RedrivePolicy")
        if redrive is None:
            continue
        if int(redrive.get("maxReceiveCount", -1)) != 5:
            problems.append(f"{name}: maxReceiveCount {redrive.get('maxReceiveCount')!r}, want 5")
        if logical_id_of(redrive.get("deadLetterTargetArn"), "Arn") not in queues:
            problems.append(f"{name}: deadLetterTargetArn is not a queue of this template")
    return problems


# ---------------------------------------------------------------- policy checks
# The key of every queue, table and function environment: the parameter's, or the stack's own.
DATA_KEY = {"Fn::If": ["CreateDataKey", {"Fn::GetAtt": ["DataKey", "Arn"]}, {"Ref": "KmsKeyArn"}]}
# The checkov skips, each justified in the template: (resource, check id).
EXPECTED_SKIPS = {
    # VPC placement is the deployer's choice (infra/README.md, Policy checks).
    ("CrmWebhookFunction", "CKV_AWS_117"), ("ErpSyncFunction", "CKV_AWS_117"),
    ("CrmWritebackFunction", "CKV_AWS_117"), ("AuditLogFunction", "CKV_AWS_117"),
    # A function DLQ receives only asynchronous invocations; these are invoked synchronously.
    ("CrmWebhookFunction", "CKV_AWS_116"), ("ErpSyncFunction", "CKV_AWS_116"),
    ("CrmWritebackFunction", "CKV_AWS_116"),
}
# SAM event types Lambda is invoked asynchronously by.
ASYNC_EVENT_TYPES = {"EventBridgeRule", "CloudWatchEvent", "Schedule", "ScheduleV2", "SNS", "S3", "CloudWatchLogs",
                     "IoTRule", "AlexaSkill", "Cognito"}
# SAM policy templates that read or send to a queue (so need the queue's key).
SQS_POLICY_TEMPLATES = {"SQSPollerPolicy", "SQSSendMessagePolicy"}


def checkov_skips(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(resource, skip entry) for every Metadata.checkov.skip entry."""
    for name, res in template.get("Resources", {}).items():
        checkov = (res.get("Metadata") or {}).get("checkov") or {}
        for entry in as_list(checkov.get("skip") or []):
            yield name, entry


def asynchronously_invoked(template: dict[str, Any]) -> set[str]:
    """Functions some source invokes asynchronously: SAM events of an
    asynchronous type, and targets of AWS::Events::Rule resources."""
    found = set()
    resources = template.get("Resources", {})
    for name, res in functions(template).items():
        events = (res.get("Properties") or {}).get("Events") or {}
        if any(e.get("Type") in ASYNC_EVENT_TYPES for e in events.values()):
            found.add(name)
    for res in resources_of_type(template, "AWS::Events::Rule").values():
        for target in (res.get("Properties") or {}).get("Targets") or []:
            target_id = logical_id_of(target.get("Arn"), "Arn")
            if target_id in functions(template):
                found.add(target_id)
    return found


def function_statements(res: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in as_list((res.get("Properties") or {}).get("Policies") or [])
            if isinstance(policy, dict) and "Statement" in policy for s in as_list(policy["Statement"])]


def grants(res: dict[str, Any], action: str, resource: Any) -> bool:
    return any(s.get("Effect") == "Allow" and action in as_list(s.get("Action")) and resource in as_list(s.get("Resource"))
               for s in function_statements(res))


def encryption_problems(template: dict[str, Any]) -> list[str]:
    """Every queue, table and function environment is encrypted with
    DATA_KEY; every function may decrypt its environment, and every one that
    reads or sends to a queue may also generate data keys."""
    problems = []
    resources = template.get("Resources", {})
    for name, res in resources_of_type(template, "AWS::SQS::Queue").items():
        props = res.get("Properties") or {}
        if props.get("KmsMasterKeyId") != DATA_KEY:
            problems.append(f"{name}: KmsMasterKeyId {props.get('KmsMasterKeyId')!r} is not the stack's key")
        if "SqsManagedSseEnabled" in props:
            problems.append(f"{name}: SqsManagedSseEnabled with KmsMasterKeyId")
    for name, res in resources_of_type(template, "AWS::DynamoDB::Table").items():
        sse = (res.get("Properties") or {}).get("SSESpecification") or {}
        if sse != {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": DATA_KEY}:
            problems.append(f"{name}: SSESpecification {sse!r} is not KMS with the stack's key")
    global_key = globals_function(template).get("KmsKeyArn")
    for name, res in functions(template).items():
        props = res.get("Properties") or {}
        key = props.get("KmsKeyArn", global_key if res.get("Type") == "AWS::Serverless::Function" else None)
        if key != DATA_KEY:
            problems.append(f"{name}: environment KmsKeyArn {key!r} is not the stack's key")
        if not grants(res, "kms:Decrypt", DATA_KEY):
            problems.append(f"{name}: may not kms:Decrypt the stack's key (its environment)")
        uses_queues = "DeadLetterQueue" in props or any(
            isinstance(p, dict) and SQS_POLICY_TEMPLATES & set(p) for p in as_list(props.get("Policies") or []))
        if uses_queues and not grants(res, "kms:GenerateDataKey", DATA_KEY):
            problems.append(f"{name}: uses an encrypted queue but may not kms:GenerateDataKey the stack's key")
    key = resources.get("DataKey")
    if key is None:
        return problems + ["no DataKey"]
    if key.get("Condition") != "CreateDataKey":
        problems.append("DataKey is created whatever KmsKeyArn says")
    if (key.get("DeletionPolicy"), key.get("UpdateReplacePolicy")) != ("Retain", "Retain"):
        problems.append("DataKey is not retained, but the retained audit table needs it")
    kprops = key.get("Properties") or {}
    if kprops.get("EnableKeyRotation") is not True:
        problems.append("DataKey does not rotate")
    events = [s for s in as_list((kprops.get("KeyPolicy") or {}).get("Statement") or [])
              if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    bus_rules = {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
                            + resources["Bus"]["Properties"]["Name"]["Fn::Sub"] + "/*"}
    if [(sorted(as_list(s.get("Action"))), s.get("Condition")) for s in events] != [
            (["kms:Decrypt", "kms:GenerateDataKey"],
             {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
              "ArnLike": {"aws:SourceArn": bus_rules}})]:
        problems.append(f"DataKey: EventBridge may not use the key for exactly the rules of the bus: {events!r}")
    return problems


def recovery_problems(template: dict[str, Any]) -> list[str]:
    return [f"{name}: no point-in-time recovery"
            for name, res in resources_of_type(template, "AWS::DynamoDB::Table").items()
            if ((res.get("Properties") or {}).get("PointInTimeRecoverySpecification") or {})
            .get("PointInTimeRecoveryEnabled") is not True]


def async_dead_letter_problems(template: dict[str, Any]) -> list[str]:
    """Every asynchronously invoked function keeps what it failed on after
    Lambda's retries (a DeadLetterQueue or an on-failure destination, to a
    queue of this template); a checkov DLQ skip only on a function nothing
    invokes asynchronously."""
    problems = []
    queues = resources_of_type(template, "AWS::SQS::Queue")
    asynchronous = asynchronously_invoked(template)
    for name in sorted(asynchronous):
        props = template["Resources"][name].get("Properties") or {}
        dlq = props.get("DeadLetterQueue") or {}
        on_failure = (((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {})
                      .get("OnFailure") or {})
        if dlq:
            if dlq.get("Type") != "SQS" or logical_id_of(dlq.get("TargetArn"), "Arn") not in queues:
                problems.append(f"{name}: DeadLetterQueue {dlq!r} is not an SQS queue of this template")
        elif not on_failure:
            problems.append(f"{name}: invoked asynchronously, but no DeadLetterQueue or on-failure destination")
    for name, entry in checkov_skips(template):
        if entry.get("id") == "CKV_AWS_116" and name in asynchronous:
            problems.append(f"{name}: skips CKV_AWS_116 but is invoked asynchronously")
    return problems


def concurrency_problems(template: dict[str, Any]) -> list[str]:
    """Every function has reserved concurrency, from a Number parameter of at
    least 1; a queue mapping's MaximumConcurrency is its function's
    reservation (more would be throttled batches counted as receives)."""
    problems = []
    parameters = template.get("Parameters") or {}
    reserved: dict[str, Any] = {}
    for name, res in functions(template).items():
        value = (res.get("Properties") or {}).get("ReservedConcurrentExecutions")
        reserved[name] = value
        param = logical_id_of(value, "Ref")
        spec = parameters.get(param) if param else None
        if spec is None:
            problems.append(f"{name}: ReservedConcurrentExecutions {value!r} is not a parameter")
        elif spec.get("Type") != "Number" or int(spec.get("MinValue", 0)) < 1 or int(spec.get("Default", 0)) < 1:
            problems.append(f"{name}: parameter {param} allows no reserved concurrency (Number, MinValue >= 1)")
    for name, res in resources_of_type(template, "AWS::Lambda::EventSourceMapping").items():
        props = res.get("Properties") or {}
        function = logical_id_of(props.get("FunctionName"))
        maximum = (props.get("ScalingConfig") or {}).get("MaximumConcurrency")
        if maximum is None:
            problems.append(f"{name}: no ScalingConfig.MaximumConcurrency")
        elif function in reserved and maximum != reserved[function]:
            problems.append(f"{name}: MaximumConcurrency {maximum!r} is not {function}'s reservation "
                            f"{reserved[function]!r}")
    for name, res in functions(template).items():
        for ename, event in ((res.get("Properties") or {}).get("Events") or {}).items():
            if event.get("Type") == "SQS" and "ScalingConfig" not in (event.get("Properties") or {}):
                problems.append(f"{name}.Events.{ename}: no ScalingConfig.MaximumConcurrency")
    return problems


def skip_problems(template: dict[str, Any]) -> list[str]:
    """Exactly EXPECTED_SKIPS, each with a reason."""
    problems = []
    found = set()
    for name, entry in checkov_skips(template):
        check = entry.get("id")
        found.add((name, check))
        if not re.fullmatch(r"CKV2?_AWS_\d+", str(check)):
            problems.append(f"{name}: skip {entry!r} has no check id")
        if len(str(entry.get("comment") or "").strip()) < 40:
            problems.append(f"{name}: skip of {check} without a reason")
    problems += [f"{n}: unexpected skip of {c}" for n, c in sorted(found - EXPECTED_SKIPS)]
    problems += [f"{n}: expected skip of {c} is gone (update EXPECTED_SKIPS)" for n, c in sorted(EXPECTED_SKIPS - found)]
    return problems


# ---------------------------------------------------------------- tests
class TemplateChecksTest(unittest.TestCase):
    """Our own checks on template.yaml."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = load_template()

    def test_event_source_queues_outlast_their_functions(self) -> None:
        self.assertEqual(visibility_timeout_problems(self.template), [])
        self.assertTrue(list(sqs_event_sources(self.template)), "no SQS event source found: the check checked nothing")

    def test_eventbridge_dead_letter_and_retry_keys_are_documented(self) -> None:
        self.assertEqual(dead_letter_problems(self.template), [])

    def test_no_wildcard_resources_for_data_plane_actions(self) -> None:
        self.assertEqual(wildcard_problems(self.template), [])

    def test_policy_templates_are_scoped_to_template_resources(self) -> None:
        self.assertEqual(policy_template_problems(self.template), [])

    def test_secrets_are_no_echo(self) -> None:
        self.assertEqual(no_echo_problems(self.template), [])
        for name in ("DynamicsWebhookKey", "HubSpotClientSecret", "StandardWebhookSecret", "StripeWebhookSecret",
                     "CloudEventsWebhookToken"):
            self.assertIs(self.template["Parameters"][name].get("NoEcho"), True, name)

    def test_redrive_policies_allow_five_receives(self) -> None:
        self.assertEqual(redrive_problems(self.template), [])
        redrive = self.template["Resources"]["ErpSyncQueue"]["Properties"]["RedrivePolicy"]
        self.assertEqual(redrive["maxReceiveCount"], 5)
        self.assertEqual(redrive["deadLetterTargetArn"], {"Fn::GetAtt": ["ErpSyncDlq", "Arn"]})


class ChecksBiteTest(unittest.TestCase):
    """Each check fails on a template copy broken the way it guards against."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = load_template()

    def broken(self) -> dict[str, Any]:
        return copy.deepcopy(self.template)

    def audit_event(self, template: dict[str, Any]) -> dict[str, Any]:
        return template["Resources"]["AuditLogFunction"]["Properties"]["Events"]["AuditEvents"]["Properties"]

    def test_short_visibility_timeout_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncQueue"]["Properties"]["VisibilityTimeout"] = 60
        problems = visibility_timeout_problems(t)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("ErpSyncQueue VisibilityTimeout 60s", problems[0])

    def test_longer_function_timeout_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncFunction"]["Properties"]["Timeout"] = 60
        self.assertEqual(len(visibility_timeout_problems(t)), 1)

    def test_globals_timeout_applies_when_the_function_sets_none(self) -> None:
        t = self.broken()
        del t["Resources"]["ErpSyncFunction"]["Properties"]["Timeout"]
        t["Globals"]["Function"]["Timeout"] = 900
        self.assertEqual(len(visibility_timeout_problems(t)), 1)

    def test_sam_sqs_event_is_checked_too(self) -> None:
        t = self.broken()
        del t["Resources"]["ErpSyncEventSourceMapping"]
        t["Resources"]["ErpSyncFunction"]["Properties"]["Events"] = {
            "Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["ErpSyncQueue", "Arn"]},
                                                      "MaximumBatchingWindowInSeconds": 60}}}
        problems = visibility_timeout_problems(t)
        self.assertEqual(len(problems), 1, problems)
        self.assertIn("ErpSyncFunction.Events.Queue", problems[0])

    def test_misspelt_dead_letter_config_is_caught(self) -> None:
        t = self.broken()
        props = self.audit_event(t)
        props["DeadLetterConfg"] = props.pop("DeadLetterConfig")
        problems = dead_letter_problems(t)
        self.assertTrue(any("'DeadLetterConfg'" in p for p in problems), problems)
        self.assertTrue(any("no DeadLetterConfig" in p for p in problems), problems)

    def test_misspelt_arn_in_sam_dead_letter_config_is_caught(self) -> None:
        t = self.broken()
        props = self.audit_event(t)
        props["DeadLetterConfig"] = {"Ar": props["DeadLetterConfig"]["Arn"]}
        problems = dead_letter_problems(t)
        self.assertTrue(any("undocumented key 'Ar'" in p for p in problems), problems)

    def test_extra_key_in_rule_target_dead_letter_config_is_caught(self) -> None:
        t = self.broken()
        target = t["Resources"]["ErpSyncRule"]["Properties"]["Targets"][0]
        target["DeadLetterConfig"]["QueueLogicalId"] = "Nope"  # SAM-only key, not valid on a raw rule
        problems = dead_letter_problems(t)
        self.assertEqual(problems, ["ErpSyncRule.Targets[0].DeadLetterConfig: undocumented key 'QueueLogicalId'"])

    def test_misspelt_retry_policy_key_is_caught(self) -> None:
        # The SAM translator passes this through unchanged; EventBridge would reject it at deploy.
        t = self.broken()
        self.audit_event(t)["RetryPolicy"] = {"MaxRetryAttempts": 3}
        problems = dead_letter_problems(t)
        self.assertTrue(any("undocumented key 'MaxRetryAttempts'" in p for p in problems), problems)

    def test_function_target_without_dlq_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["RawRule"] = {"Type": "AWS::Events::Rule", "Properties": {
            "Targets": [{"Id": "x", "Arn": {"Fn::GetAtt": ["AuditLogFunction", "Arn"]}}]}}
        self.assertEqual(len(dead_letter_problems(t)), 2)

    def test_wildcard_data_plane_resource_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncFunction"]["Properties"]["Policies"].append(
            {"Statement": [{"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*"}]})
        self.assertEqual(len(wildcard_problems(t)), 1)

    def test_wildcard_policy_template_parameter_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncFunction"]["Properties"]["Policies"].append({"SQSPollerPolicy": {"QueueName": "*"}})
        self.assertEqual(len(policy_template_problems(t)), 1)

    def test_echoed_secret_is_caught(self) -> None:
        t = self.broken()
        del t["Parameters"]["HubSpotClientSecret"]["NoEcho"]
        problems = no_echo_problems(t)
        self.assertIn("parameter HubSpotClientSecret looks secret but is not NoEcho", problems)
        self.assertIn("CrmWebhookFunction: SWITCHYARD_HUBSPOT_CLIENT_SECRET does not come from a NoEcho parameter",
                      problems)

    def test_other_max_receive_count_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 3
        self.assertEqual(len(redrive_problems(t)), 1)


class PolicyChecksTest(unittest.TestCase):
    """What checkov checks, asserted without checkov."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = load_template()

    def test_queues_tables_and_environments_are_encrypted_with_the_stack_key(self) -> None:
        self.assertEqual(encryption_problems(self.template), [])
        self.assertEqual(len(resources_of_type(self.template, "AWS::SQS::Queue")), 8)

    def test_tables_have_point_in_time_recovery(self) -> None:
        self.assertEqual(recovery_problems(self.template), [])
        self.assertEqual(set(resources_of_type(self.template, "AWS::DynamoDB::Table")), {"IdempotencyTable", "AuditTable"})

    def test_asynchronously_invoked_functions_dead_letter(self) -> None:
        self.assertEqual(async_dead_letter_problems(self.template), [])
        self.assertEqual(asynchronously_invoked(self.template), {"AuditLogFunction"})

    def test_concurrency_is_bounded(self) -> None:
        self.assertEqual(concurrency_problems(self.template), [])

    def test_only_the_justified_checkov_skips(self) -> None:
        self.assertEqual(skip_problems(self.template), [])


class PolicyChecksBiteTest(unittest.TestCase):
    """Each policy check fails on a template copy broken the way it guards against."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = load_template()

    def broken(self) -> dict[str, Any]:
        return copy.deepcopy(self.template)

    def test_a_queue_with_sqs_managed_encryption_is_caught(self) -> None:
        t = self.broken()
        props = t["Resources"]["ErpSyncDlq"]["Properties"]
        del props["KmsMasterKeyId"]
        props["SqsManagedSseEnabled"] = True
        self.assertEqual(len(encryption_problems(t)), 2)

    def test_a_table_with_the_aws_owned_key_is_caught(self) -> None:
        t = self.broken()
        del t["Resources"]["IdempotencyTable"]["Properties"]["SSESpecification"]
        self.assertEqual(len(encryption_problems(t)), 1)

    def test_an_environment_without_the_key_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncFunction"]["Properties"]["KmsKeyArn"] = {"Ref": "AWS::NoValue"}
        self.assertEqual(len(encryption_problems(t)), 1)

    def test_a_role_that_may_not_use_the_key_is_caught(self) -> None:
        t = self.broken()
        policies = t["Resources"]["AuditLogFunction"]["Properties"]["Policies"]
        policies[:] = [p for p in policies if not ("Statement" in p and any(
            "kms:Decrypt" in as_list(s["Action"]) for s in p["Statement"]))]
        self.assertEqual(len(encryption_problems(t)), 2)

    def test_a_key_eventbridge_may_not_use_is_caught(self) -> None:
        t = self.broken()
        statements = t["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
        statements[:] = [s for s in statements if s["Principal"] != {"Service": "events.amazonaws.com"}]
        self.assertEqual(len(encryption_problems(t)), 1)

    def test_a_deleted_key_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["DataKey"]["DeletionPolicy"] = "Delete"
        self.assertEqual(len(encryption_problems(t)), 1)

    def test_a_table_without_recovery_is_caught(self) -> None:
        t = self.broken()
        del t["Resources"]["IdempotencyTable"]["Properties"]["PointInTimeRecoverySpecification"]
        self.assertEqual(recovery_problems(t), ["IdempotencyTable: no point-in-time recovery"])

    def test_an_asynchronous_function_without_a_dlq_is_caught(self) -> None:
        t = self.broken()
        del t["Resources"]["AuditLogFunction"]["Properties"]["DeadLetterQueue"]
        self.assertEqual(len(async_dead_letter_problems(t)), 1)

    def test_a_raw_rule_targeting_a_function_makes_it_asynchronous(self) -> None:
        t = self.broken()
        t["Resources"]["RawRule"] = {"Type": "AWS::Events::Rule", "Properties": {
            "Targets": [{"Id": "x", "Arn": {"Fn::GetAtt": ["ErpSyncFunction", "Arn"]}}]}}
        problems = async_dead_letter_problems(t)
        self.assertIn("ErpSyncFunction: skips CKV_AWS_116 but is invoked asynchronously", problems)
        self.assertEqual(len(problems), 2, problems)

    def test_unbounded_concurrency_is_caught(self) -> None:
        t = self.broken()
        del t["Resources"]["CrmWebhookFunction"]["Properties"]["ReservedConcurrentExecutions"]
        self.assertEqual(len(concurrency_problems(t)), 1)

    def test_a_mapping_allowed_more_than_reserved_is_caught(self) -> None:
        t = self.broken()
        t["Resources"]["ErpSyncEventSourceMapping"]["Properties"]["ScalingConfig"]["MaximumConcurrency"] = 50
        self.assertEqual(len(concurrency_problems(t)), 1)

    def test_a_new_or_unexplained_skip_is_caught(self) -> None:
        t = self.broken()
        skips = t["Resources"]["AuditLogFunction"]["Metadata"]["checkov"]["skip"]
        skips.append({"id": "CKV_AWS_116", "comment": ""})
        problems = skip_problems(t)
        self.assertIn("AuditLogFunction: unexpected skip of CKV_AWS_116", problems)
        self.assertIn("AuditLogFunction: skip of CKV_AWS_116 without a reason", problems)


class TranslatedTemplateTest(unittest.TestCase):
    """The template after the SAM transform (what CloudFormation deploys)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = load_template()
        cls.cfn = translate(cls.template, {"ErpBaseUrl": "https://erp.example"})

    def test_generated_roles_grant_no_wildcard_data_plane(self) -> None:
        self.assertEqual(wildcard_problems(self.cfn), [])

    def test_generated_roles_attach_only_the_basic_execution_policy(self) -> None:
        # A SAM `SQS` event would attach AWSLambdaSQSQueueExecutionRole
        # (sqs:ReceiveMessage/DeleteMessage on "*"): erp-sync uses a plain
        # event source mapping plus SQSPollerPolicy on its queue instead.
        for name, role in resources_of_type(self.cfn, "AWS::IAM::Role").items():
            self.assertEqual(
                role["Properties"].get("ManagedPolicyArns"),
                ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"], name)

    def test_erp_sync_may_back_off_and_park(self) -> None:
        statements = [s for doc in (unless_no_value(p)["PolicyDocument"] for p in
                                    self.cfn["Resources"]["ErpSyncFunctionRole"]["Properties"]["Policies"])
                      for s in as_list(doc["Statement"])]

        def granted(action: str) -> list[Any]:
            return [s["Resource"] for s in statements if action in as_list(s["Action"])]

        queue_arn = {"Fn::Sub": ["arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                                 {"queueName": {"Fn::GetAtt": ["ErpSyncQueue", "QueueName"]}}]}
        self.assertEqual(granted("sqs:ChangeMessageVisibilityBatch"), [queue_arn])
        self.assertEqual(granted("sqs:ReceiveMessage"), [queue_arn])
        self.assertEqual(granted("sqs:GetQueueUrl"), [{"Fn::GetAtt": ["ErpSyncQueue", "Arn"]}])
        dlq_arn = {"Fn::Sub": ["arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${queueName}",
                               {"queueName": {"Fn::GetAtt": ["ErpSyncDlq", "QueueName"]}}]}
        self.assertEqual(granted("sqs:SendMessage*"), [dlq_arn])

    def test_a_sam_sqs_event_would_be_caught(self) -> None:
        # Why erp-sync has a plain mapping: the SAM event attaches a managed
        # policy granting SQS data-plane actions on "*"; the check above bites.
        t = copy.deepcopy(self.template)
        del t["Resources"]["ErpSyncEventSourceMapping"]
        t["Resources"]["ErpSyncFunction"]["Properties"]["Events"] = {
            "Queue": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["ErpSyncQueue", "Arn"]}}}}
        role = translate(t)["Resources"]["ErpSyncFunctionRole"]["Properties"]
        self.assertIn("arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole", role["ManagedPolicyArns"])

    def test_function_url_is_public_with_both_permissions(self) -> None:
        # moto does not create AWS::Lambda::Url from a template.
        url = self.cfn["Resources"]["CrmWebhookFunctionUrl"]
        self.assertEqual(url["Type"], "AWS::Lambda::Url")
        self.assertEqual(url["Properties"]["AuthType"], "NONE")
        permissions = {
            p["Properties"]["Action"]: p["Properties"]
            for p in resources_of_type(self.cfn, "AWS::Lambda::Permission").values()
            if p["Properties"]["FunctionName"] == {"Ref": "CrmWebhookFunction"}
        }
        self.assertEqual(permissions["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"], "NONE")
        self.assertIs(permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"], True)
        self.assertEqual(self.template["Outputs"]["CrmWebhookUrl"]["Value"],
                         {"Fn::GetAtt": ["CrmWebhookFunctionUrl", "FunctionUrl"]})

    def test_functions_keep_their_key_concurrency_and_dlq_through_the_transform(self) -> None:
        # SAM moves Globals' KmsKeyArn onto each function and turns
        # DeadLetterQueue into DeadLetterConfig plus a send permission.
        for name in ("CrmWebhookFunction", "ErpSyncFunction", "CrmWritebackFunction", "AuditLogFunction"):
            props = self.cfn["Resources"][name]["Properties"]
            self.assertEqual(props["KmsKeyArn"], DATA_KEY, name)
            self.assertEqual(props["ReservedConcurrentExecutions"],
                             self.template["Resources"][name]["Properties"]["ReservedConcurrentExecutions"], name)
        audit = self.cfn["Resources"]["AuditLogFunction"]["Properties"]
        self.assertEqual(audit["DeadLetterConfig"], {"TargetArn": {"Fn::GetAtt": ["AuditLogTargetDlq", "Arn"]}})
        statements = [s for p in self.cfn["Resources"]["AuditLogFunctionRole"]["Properties"]["Policies"]
                      for s in as_list(p["PolicyDocument"]["Statement"])]
        self.assertTrue(any("sqs:SendMessage" in as_list(s["Action"])
                            and s["Resource"] == {"Fn::GetAtt": ["AuditLogTargetDlq", "Arn"]} for s in statements),
                        statements)

    def test_functions_run_on_arm64_al2023(self) -> None:
        # moto reports x86_64 whatever the template says.
        for name in ("CrmWebhookFunction", "ErpSyncFunction", "CrmWritebackFunction", "AuditLogFunction"):
            props = self.cfn["Resources"][name]["Properties"]
            self.assertEqual(props["Architectures"], ["arm64"], name)
            self.assertEqual(props["Runtime"], "provided.al2023", name)
            self.assertEqual(props["Handler"], "bootstrap", name)


class WiringFromTemplateTest(unittest.TestCase):
    """What moto cannot show, read from template.yaml."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.template = load_template()
        cls.resources = cls.template["Resources"]

    def test_functions_build_with_cargo_lambda_from_the_workspace(self) -> None:
        binaries = workspace_binaries()
        expected = {"CrmWebhookFunction": "crm-webhook", "ErpSyncFunction": "erp-sync",
                    "CrmWritebackFunction": "crm-writeback", "AuditLogFunction": "audit-log"}
        self.assertEqual(set(resources_of_type(self.template, "AWS::Serverless::Function")), set(expected))
        for name, binary in expected.items():
            res = self.resources[name]
            self.assertEqual(res["Metadata"]["BuildMethod"], "rust-cargolambda", name)
            self.assertEqual(res["Metadata"]["BuildProperties"]["Binary"], binary, name)
            self.assertEqual(res["Properties"]["CodeUri"], ".", name)
            self.assertIn(binary, binaries, f"{name}: no workspace crate builds a binary named {binary}")
        g = globals_function(self.template)
        self.assertEqual((g["Runtime"], g["Architectures"], g["Handler"]), ("provided.al2023", ["arm64"], "bootstrap"))

    def test_idempotency_table_expires_records(self) -> None:
        # moto's CloudFormation ignores TimeToLiveSpecification.
        props = self.resources["IdempotencyTable"]["Properties"]
        self.assertEqual(props["TimeToLiveSpecification"], {"AttributeName": "expiration", "Enabled": True})
        self.assertEqual(props["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertEqual(props["AttributeDefinitions"], [{"AttributeName": "pk", "AttributeType": "S"}])
        self.assertEqual(props["BillingMode"], "PAY_PER_REQUEST")

    def test_every_event_bus_name_is_the_bus_name_attribute(self) -> None:
        # `!Ref Bus` (the ARN) in EventBusName fails in moto; `!GetAtt Bus.Name` is right everywhere.
        found = list(find_key(self.template, "EventBusName"))
        self.assertGreaterEqual(len(found), 3)
        for where, value in found:
            self.assertEqual(value, {"Fn::GetAtt": ["Bus", "Name"]}, where)
        for name in ("CrmWebhookFunction", "ErpSyncFunction"):
            self.assertEqual(self.resources[name]["Properties"]["Environment"]["Variables"]["EVENT_BUS_NAME"],
                             {"Fn::GetAtt": ["Bus", "Name"]}, name)

    def test_function_environments(self) -> None:
        def env(name: str) -> dict[str, Any]:
            return self.resources[name]["Properties"]["Environment"]["Variables"]

        idempotency = {"Fn::Sub": "dynamodb:${IdempotencyTable}"}
        for name in ("CrmWebhookFunction", "ErpSyncFunction", "CrmWritebackFunction", "AuditLogFunction"):
            self.assertEqual(env(name)["SWITCHYARD_IDEMPOTENCY"], idempotency, name)
        self.assertEqual(env("CrmWritebackFunction")["SWITCHYARD_PARK_QUEUE_URL"], {"Ref": "CrmWritebackDlq"})
        # every CRM is optional: an empty parameter leaves its variable out
        for var, param in (("DATAVERSE_URL", "DataverseUrl"), ("HUBSPOT_ACCESS_TOKEN", "HubSpotAccessToken"),
                           ("SALESFORCE_URL", "SalesforceUrl")):
            value = env("CrmWritebackFunction")[var]["Fn::If"]
            self.assertEqual(value[1:], [{"Ref": param}, {"Ref": "AWS::NoValue"}], var)
            self.assertEqual(self.template["Parameters"][param]["Default"], "", param)
        for param in ("DataverseClientSecret", "HubSpotAccessToken", "SalesforceClientSecret", "ErpClientSecret"):
            self.assertIs(self.template["Parameters"][param]["NoEcho"], True, param)
        self.assertEqual(env("ErpSyncFunction")["SWITCHYARD_PARK_QUEUE_URL"], {"Ref": "ErpSyncDlq"})
        self.assertEqual(env("ErpSyncFunction")["ERP_BASE_URL"], {"Ref": "ErpBaseUrl"})
        self.assertIn("SWITCHYARD_BACKOFF_BASE_SECS", env("ErpSyncFunction"))
        self.assertEqual(env("AuditLogFunction")["SWITCHYARD_PARK_QUEUE_URL"], {"Ref": "AuditLogParkQueue"})
        self.assertEqual(env("AuditLogFunction")["AUDIT_STORE"], {"Fn::Sub": "dynamodb:${AuditTable}"})
        self.assertEqual(
            set(env("CrmWebhookFunction")),
            {"SWITCHYARD_DYNAMICS_WEBHOOK_KEY", "SWITCHYARD_DYNAMICS_WEBHOOK_HEADER", "SWITCHYARD_HUBSPOT_CLIENT_SECRET",
             "SWITCHYARD_SALESFORCE_ORG_IDS", "SWITCHYARD_STANDARD_WEBHOOK_SECRET", "SWITCHYARD_STRIPE_WEBHOOK_SECRET",
             "SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN", "SWITCHYARD_CLOUDEVENTS_ALLOWED_ORIGINS",
             "SWITCHYARD_PUBLIC_BASE_URL", "SWITCHYARD_IDEMPOTENCY", "EVENT_BUS_NAME"})

    def test_deploy_refuses_a_webhook_without_providers(self) -> None:
        # crm-webhook exits at start when no provider is configured; the
        # template's Rules make CloudFormation refuse such parameters (moto
        # does not evaluate Rules).
        provider_vars = {"SWITCHYARD_DYNAMICS_WEBHOOK_KEY", "SWITCHYARD_HUBSPOT_CLIENT_SECRET",
                         "SWITCHYARD_SALESFORCE_ORG_IDS", "SWITCHYARD_STANDARD_WEBHOOK_SECRET",
                         "SWITCHYARD_STRIPE_WEBHOOK_SECRET", "SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN"}
        env = self.resources["CrmWebhookFunction"]["Properties"]["Environment"]["Variables"]
        # a provider is its plain parameter or, for a secret, its *Arn form too
        provider_params = set().union(*(refs_in(env[v]) for v in provider_vars))
        (assertion,) = self.template["Rules"]["AtLeastOneCrmProvider"]["Assertions"]

        def flatten(alternatives: list[Any]) -> list[Any]:
            return [a for alt in alternatives
                    for a in (flatten(alt["Fn::Or"]) if "Fn::Or" in alt else [alt])]

        alternatives = flatten(assertion["Assert"]["Fn::Or"])
        asserted = {alt["Fn::Not"][0]["Fn::Equals"][0]["Ref"] for alt in alternatives
                    if alt["Fn::Not"][0]["Fn::Equals"][1] == ""}
        self.assertEqual(asserted, provider_params)
        self.assertEqual(len(alternatives), len(provider_params))

    def test_secret_arns_become_references_readable_by_their_function_only(self) -> None:
        # `<Secret>Arn` set: the variable holds `<service>:<ARN>` (the ARN's
        # own service field: secretsmanager or ssm), else the NoEcho value;
        # the function may read exactly the ARNs given, and nothing else is
        # granted (no kms:Decrypt: SecureStrings under aws/ssm need none).
        secrets = {
            "CrmWebhookFunction": {
                "SWITCHYARD_DYNAMICS_WEBHOOK_KEY": "DynamicsWebhookKey",
                "SWITCHYARD_HUBSPOT_CLIENT_SECRET": "HubSpotClientSecret",
                "SWITCHYARD_STANDARD_WEBHOOK_SECRET": "StandardWebhookSecret",
                "SWITCHYARD_STRIPE_WEBHOOK_SECRET": "StripeWebhookSecret",
                "SWITCHYARD_CLOUDEVENTS_WEBHOOK_TOKEN": "CloudEventsWebhookToken",
            },
            "ErpSyncFunction": {"ERP_CLIENT_SECRET": "ErpClientSecret"},
        }
        for fname, variables in secrets.items():
            props = self.resources[fname]["Properties"]
            for var, param in variables.items():
                value = props["Environment"]["Variables"][var]
                if fname == "ErpSyncFunction":
                    self.assertEqual(value["Fn::If"][0], "HasErpClientId")
                    value = value["Fn::If"][1]
                arn = {"Ref": f"{param}Arn"}
                self.assertEqual(value["Fn::If"], [
                    f"Has{param}Arn",
                    {"Fn::Join": ["", [{"Fn::Select": [2, {"Fn::Split": [":", arn]}]}, ":", arn]]},
                    {"Ref": param}], var)
                spec = self.template["Parameters"][f"{param}Arn"]
                self.assertEqual(spec["Default"], "", param)
                self.assertRegex("arn:aws:secretsmanager:us-east-1:123456789012:secret:erp-AbCdEf",
                                 spec["AllowedPattern"])
                self.assertRegex("arn:aws:ssm:us-east-1:123456789012:parameter/switchyard/erp",
                                 spec["AllowedPattern"])
                self.assertNotRegex("s3cr3t", spec["AllowedPattern"])
            reads = [s for p in props["Policies"] if isinstance(p, dict) and "Fn::If" in p
                     for s in unless_no_value(p)["Statement"]]
            self.assertEqual(len(reads), 1, fname)
            (read,) = reads
            self.assertEqual(read["Action"], ["secretsmanager:GetSecretValue", "ssm:GetParameter"])
            granted = refs_in(read["Resource"]) - {"AWS::NoValue"}
            self.assertEqual(granted, {f"{p}Arn" for p in variables.values()}, fname)

    def test_queues_accept_only_their_rules(self) -> None:
        # moto neither creates AWS::SQS::QueuePolicy from a template nor enforces queue policies.
        policies = {}
        for name, res in resources_of_type(self.template, "AWS::SQS::QueuePolicy").items():
            for queue in res["Properties"]["Queues"]:
                policies[logical_id_of(queue, "Ref")] = res["Properties"]["PolicyDocument"]["Statement"]
        audit_rule = self.resources["AuditLogFunction"]["Properties"]["Events"]["AuditEvents"]["Properties"]
        expected_sources = {
            "ErpSyncQueue": {"Fn::GetAtt": ["ErpSyncRule", "Arn"]},
            "ErpSyncRuleDlq": {"Fn::GetAtt": ["ErpSyncRule", "Arn"]},
            "CrmWritebackQueue": {"Fn::GetAtt": ["CrmWritebackRule", "Arn"]},
            "CrmWritebackRuleDlq": {"Fn::GetAtt": ["CrmWritebackRule", "Arn"]},
            # The SAM-generated audit-log rule, by its fixed RuleName on the bus.
            "AuditLogTargetDlq": {"Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"
                                             "${Bus.Name}/" + audit_rule["RuleName"]["Fn::Sub"]},
        }
        self.assertEqual(set(policies), set(expected_sources))
        for queue, source in expected_sources.items():
            allows = [s for s in policies[queue] if s["Effect"] == "Allow"]
            self.assertEqual(len(allows), 1, queue)
            self.assertEqual(allows[0]["Principal"], {"Service": "events.amazonaws.com"}, queue)
            self.assertEqual(allows[0]["Action"], "sqs:SendMessage", queue)
            self.assertEqual(allows[0]["Resource"], {"Fn::GetAtt": [queue, "Arn"]}, queue)
            self.assertEqual(allows[0]["Condition"], {"ArnEquals": {"aws:SourceArn": source}}, queue)

    def test_rule_targets_retry_then_dead_letter(self) -> None:
        # moto stores these settings but never applies them (nor runs audit-log):
        # what EventBridge will do is only visible here.
        audit = self.resources["AuditLogFunction"]["Properties"]["Events"]["AuditEvents"]
        self.assertEqual(audit["Type"], "EventBridgeRule")
        self.assertEqual(audit["Properties"]["DeadLetterConfig"], {"Arn": {"Fn::GetAtt": ["AuditLogTargetDlq", "Arn"]}})
        self.assertEqual(set(audit["Properties"]["RetryPolicy"]), RETRY_POLICY_KEYS)
        target = self.resources["ErpSyncRule"]["Properties"]["Targets"][0]
        self.assertEqual(target["Arn"], {"Fn::GetAtt": ["ErpSyncQueue", "Arn"]})
        self.assertEqual(target["DeadLetterConfig"], {"Arn": {"Fn::GetAtt": ["ErpSyncRuleDlq", "Arn"]}})

    def test_alarms_tell_backlog_from_outage(self) -> None:
        # moto does not create AWS::CloudWatch::Alarm from a template.
        alarms = list(resources_of_type(self.template, "AWS::CloudWatch::Alarm").values())

        def alarm_on(metric: str, dimension: str, value: Any) -> dict[str, Any] | None:
            for alarm in alarms:
                p = alarm["Properties"]
                if p["MetricName"] == metric and p["Dimensions"] == [{"Name": dimension, "Value": value}]:
                    return p
            return None

        dead_letter_queues = {logical_id_of(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"], "Arn")
                              for q in resources_of_type(self.template, "AWS::SQS::Queue").values()
                              if "RedrivePolicy" in q["Properties"]}
        dead_letter_queues |= {logical_id_of(v["Arn"], "Arn") for _, v in find_key(self.template, "DeadLetterConfig")}
        dead_letter_queues |= {"AuditLogParkQueue"}
        self.assertEqual(dead_letter_queues, {"ErpSyncDlq", "ErpSyncRuleDlq", "CrmWritebackDlq", "CrmWritebackRuleDlq",
                                              "AuditLogTargetDlq", "AuditLogParkQueue"})
        for queue in dead_letter_queues:
            p = alarm_on("ApproximateNumberOfMessagesVisible", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]})
            self.assertIsNotNone(p, f"no depth alarm on {queue}")
            self.assertEqual((p["Threshold"], p["ComparisonOperator"]), (0, "GreaterThanThreshold"), queue)
        for _, source, _, _ in sqs_event_sources(self.template):
            queue = logical_id_of(source, "Arn")
            p = alarm_on("ApproximateAgeOfOldestMessage", "QueueName", {"Fn::GetAtt": [queue, "QueueName"]})
            self.assertIsNotNone(p, f"no age alarm on {queue}")
            self.assertEqual(p["Threshold"], {"Ref": "OldestMessageAgeAlarmSeconds"})
        for name in functions(self.template):
            p = alarm_on("Errors", "FunctionName", {"Ref": name})
            self.assertIsNotNone(p, f"no errors alarm on {name}")
            self.assertEqual(p["Namespace"], "AWS/Lambda")

    def test_function_url_is_unauthenticated_by_design(self) -> None:
        self.assertEqual(self.resources["CrmWebhookFunction"]["Properties"]["FunctionUrlConfig"], {"AuthType": "NONE"})
        text = (REPO_ROOT / "template.yaml").read_text(encoding="utf-8")
        self.assertRegex(text, r"AuthType NONE on purpose.*\n(.*\n){0,4}.*signature")


def find_key(node: Any, key: str, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield f"{path}.{k}", v
            yield from find_key(v, key, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from find_key(v, key, f"{path}[{i}]")


def workspace_binaries() -> set[str]:
    """Binary names the workspace's function crates build."""
    names = set()
    for manifest in (REPO_ROOT / "functions").glob("*/Cargo.toml"):
        crate = tomllib.loads(manifest.read_text(encoding="utf-8"))
        for binary in crate.get("bin") or []:
            names.add(binary["name"])
        if (manifest.parent / "src" / "main.rs").exists() and not crate.get("bin"):
            names.add(crate["package"]["name"])
    return names


if __name__ == "__main__":
    unittest.main()
