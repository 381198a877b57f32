"""Deploys template.yaml into moto server's CloudFormation and asserts the wiring.

moto does not apply the SAM transform, so the template is translated first
with aws-sam-translator (the library SAM uses), each function's CodeUri
pointing at a tiny zip uploaded to a moto bucket, as `sam package` would.
Needs moto server: AWS_ENDPOINT_URL (and the standard AWS_* variables) as
exported by `bash scripts/test.sh`; without it every test here fails.

What moto cannot do, and where it is handled:
- It creates no AWS::CloudWatch::Alarm, AWS::SQS::QueuePolicy or
  AWS::Lambda::Url from a template (it skips them with a warning), and a
  stack Output that reads an attribute of a skipped resource makes
  CreateStack fail: the deployed copy drops the CrmWebhookUrl output.
  Alarms, queue policies and the Function URL are asserted from the template
  and its translation in test_template.py.
- It ignores TimeToLiveSpecification and Architectures, the tables'
  SSESpecification and PointInTimeRecoverySpecification, and the functions'
  KmsKeyArn and DeadLetterQueue: asserted in test_template.py. Its
  DescribeKey fails (HTTP 500) on a key created from a template with a
  KeyPolicy: the key's ARN is read from ListKeys.
- It fails CreateStack on an `Fn::If` among an IAM role's Policies (the
  read access to secrets given by ARN): the deployed copy leaves out those
  whose condition is false for the test's parameters; the grants are
  asserted in test_template.py.
- It stores a rule target's RetryPolicy/DeadLetterConfig (asserted here, as
  stored) but never applies them, and never runs Lambda code: what
  EventBridge would do with them is asserted in test_template.py; the
  functions' behaviour is tested by their crates.
- PutEvents fails (HTTP 500) for an event matching a rule whose target is a
  Lambda function. The routing test therefore deploys a second stack from a
  variant of the translated template in which the audit-log rule's target is
  an SQS probe queue and the erp-sync and crm-writeback event source mappings are left out (with
  them, moto would try to run the functions in Docker on every delivery). The
  variant's rules and patterns are otherwise the real ones.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import time
import unittest
import uuid
import zipfile
from typing import Any, Callable

from infra_support import aws_client, load_template, moto_endpoint, translate

PARAMETERS = {
    "ErpBaseUrl": "https://erp.example.test",
    "HubSpotClientSecret": "hubspot-test-secret",
    "StandardWebhookSecret": "whsec_dGVzdA==",
}
EXPECTED_RULES = {
    "erp-sync": {"detail-type": ["order.placed", "customer.updated"]},
    "audit-log": {"detail-type": ["erp.order-synced", "customer.updated"]},
    # only the ERP's confirmations of orders that came from a CRM
    "crm-writeback": {"detail-type": ["erp.order-synced"],
                      "detail": {"data": {"origin": {"system": [{"exists": True}]}}}},
}


class Stack:
    """One translated template deployed into moto, with handy lookups."""

    def __init__(self, make_template: Callable[[str], dict[str, Any]], prefix: str) -> None:
        """Deploys make_template(code_uri) as a stack named `prefix-<random>`."""
        moto_endpoint()  # fails with instructions when moto is not there
        self.name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.cfn = aws_client("cloudformation")
        self.s3 = aws_client("s3")
        self.bucket = f"{self.name}-code"
        self.s3.create_bucket(Bucket=self.bucket)
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("bootstrap", "#!/bin/sh\nexit 1\n")  # never run: moto does not execute Lambda code
        self.s3.put_object(Bucket=self.bucket, Key="functions.zip", Body=archive.getvalue())
        self.physical: dict[str, str] = {}
        try:
            self.cfn.create_stack(
                StackName=self.name,
                TemplateBody=json.dumps(make_template(f"s3://{self.bucket}/functions.zip")),
                Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
                Capabilities=["CAPABILITY_IAM"],
            )
            self.wait("CREATE_COMPLETE")
        except BaseException:
            self.delete()  # leave nothing behind, then report the failure
            raise
        self.physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in self.cfn.list_stack_resources(StackName=self.name)["StackResourceSummaries"]
        }
        stack = self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def wait(self, want: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            stack = self.cfn.describe_stacks(StackName=self.name)["Stacks"][0]
            status = stack["StackStatus"]
            if not status.endswith("_IN_PROGRESS"):
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"stack {self.name} still {status} after {timeout}s")
            time.sleep(0.2)
        if status != want:
            events = self.cfn.describe_stack_events(StackName=self.name)["StackEvents"]
            reasons = [f"{e['LogicalResourceId']}: {e['ResourceStatus']} {e.get('ResourceStatusReason', '')}"
                       for e in events[:10]]
            raise AssertionError(f"stack {self.name} is {status}, want {want}: "
                                 f"{stack.get('StackStatusReason')}\n" + "\n".join(reasons))

    def delete(self) -> None:
        """Deletes the stack, the retained audit table and the code bucket."""
        try:
            retained = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in
                        self.cfn.list_stack_resources(StackName=self.name)["StackResourceSummaries"]}
            self.physical = {**retained, **self.physical}
            self.cfn.delete_stack(StackName=self.name)
        except Exception:  # noqa: BLE001 - never created
            pass
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stacks = [s for s in self.cfn.list_stacks()["StackSummaries"] if s["StackName"] == self.name]
            if all(s["StackStatus"] == "DELETE_COMPLETE" for s in stacks):
                break
            time.sleep(0.2)
        # AuditTable has DeletionPolicy: Retain (the audit trail outlives the
        # stack), which moto honours: remove it by hand.
        if "AuditTable" in self.physical:
            try:
                aws_client("dynamodb").delete_table(TableName=self.physical["AuditTable"])
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
        # So is DataKey, the audit table's key.
        if "DataKey" in self.physical:
            try:
                aws_client("kms").schedule_key_deletion(KeyId=self.physical["DataKey"], PendingWindowInDays=7)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
        for obj in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", []):
            self.s3.delete_object(Bucket=self.bucket, Key=obj["Key"])
        self.s3.delete_bucket(Bucket=self.bucket)

    def queue_arn(self, logical_id: str) -> str:
        return aws_client("sqs").get_queue_attributes(
            QueueUrl=self.physical[logical_id], AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def key_arn(self) -> str:
        """The ARN of the stack's DataKey (from ListKeys: moto's DescribeKey
        fails on a key CloudFormation created with a KeyPolicy)."""
        pages = aws_client("kms").get_paginator("list_keys").paginate()
        return next(k["KeyArn"] for page in pages for k in page["Keys"] if k["KeyId"] == self.physical["DataKey"])

    def function_arn(self, logical_id: str) -> str:
        return aws_client("lambda").get_function_configuration(FunctionName=self.physical[logical_id])["FunctionArn"]

    def rules(self) -> dict[str, dict[str, Any]]:
        """The stack's own rules on the bus by role, each with its targets (the
        archive's managed rule left out)."""
        events = aws_client("events")
        bus = self.outputs["BusName"]
        found = {}
        for rule in events.list_rules(EventBusName=bus)["Rules"]:
            if rule.get("ManagedBy"):
                continue  # the archive's rule
            rule["Targets"] = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
            pattern = json.loads(rule["EventPattern"])
            role = next((r for r, expected in EXPECTED_RULES.items() if pattern == expected), rule["Name"])
            found[role] = rule
        return found


def deployable(cfn: dict[str, Any]) -> dict[str, Any]:
    """The translated template as moto can create it: without the output that
    reads the Function URL (moto skips AWS::Lambda::Url, and then fails the
    whole stack on an output that reads it)."""
    out = copy.deepcopy(cfn)
    out["Outputs"].pop("CrmWebhookUrl")
    # moto fails CreateStack (HTTP 500) on an `Fn::If` among a role's
    # Policies. Those grant read access to secrets given by ARN (the
    # `<Secret>Arn` parameters); PARAMETERS gives none, so their conditions
    # are false and CloudFormation would leave them out too.
    assert not any(name.endswith("Arn") for name in PARAMETERS)
    for res in out["Resources"].values():
        props = res.get("Properties") or {}
        if res.get("Type") == "AWS::IAM::Role" and props.get("Policies"):
            props["Policies"] = [p for p in props["Policies"] if "Fn::If" not in p]
    return out


def translated(code_uri: str) -> dict[str, Any]:
    return deployable(translate(load_template(), PARAMETERS, code_uri=code_uri))


def routing_variant(code_uri: str) -> dict[str, Any]:
    """The translated template with the audit-log rule delivering to an SQS
    probe queue instead of the function, and without the erp-sync event
    source mapping (see the module docstring)."""
    out = translated(code_uri)
    resources = out["Resources"]
    resources["AuditLogProbeQueue"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    rules = [r for r in resources.values()
             if r["Type"] == "AWS::Events::Rule"
             and r["Properties"]["EventPattern"] == EXPECTED_RULES["audit-log"]]
    assert len(rules) == 1, "the audit-log rule is not in the translated template"
    (target,) = rules[0]["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["AuditLogFunction", "Arn"]}, target
    target["Arn"] = {"Fn::GetAtt": ["AuditLogProbeQueue", "Arn"]}
    del resources["ErpSyncEventSourceMapping"]
    del resources["CrmWritebackEventSourceMapping"]
    return out


class DeployedStackTest(unittest.TestCase):
    """The real (translated) template, deployed."""

    stack: Stack

    @classmethod
    def setUpClass(cls) -> None:
        cls.stack = Stack(translated, "sy-infra")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.stack.delete()

    def test_erp_sync_queue_redrives_to_its_dlq_after_five_receives(self) -> None:
        attributes = aws_client("sqs").get_queue_attributes(
            QueueUrl=self.stack.outputs["ErpSyncQueueUrl"], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        self.assertEqual(redrive["deadLetterTargetArn"], self.stack.queue_arn("ErpSyncDlq"))
        self.assertEqual(int(redrive["maxReceiveCount"]), 5)
        self.assertEqual(attributes["VisibilityTimeout"], "210")
        # The deployed values agree with the rule test_template.py enforces.
        function = aws_client("lambda").get_function_configuration(FunctionName=self.stack.physical["ErpSyncFunction"])
        mapping = self.erp_sync_mapping()
        self.assertGreaterEqual(int(attributes["VisibilityTimeout"]),
                                6 * function["Timeout"] + mapping["MaximumBatchingWindowInSeconds"])

    def test_dead_letter_and_park_queues_keep_messages_fourteen_days(self) -> None:
        sqs = aws_client("sqs")
        for logical_id in ("ErpSyncDlq", "ErpSyncRuleDlq", "AuditLogTargetDlq", "AuditLogParkQueue"):
            attributes = sqs.get_queue_attributes(QueueUrl=self.stack.physical[logical_id],
                                                  AttributeNames=["MessageRetentionPeriod"])["Attributes"]
            self.assertEqual(attributes["MessageRetentionPeriod"], "1209600", logical_id)

    def erp_sync_mapping(self) -> dict[str, Any]:
        mappings = aws_client("lambda").list_event_source_mappings(
            FunctionName=self.stack.physical["ErpSyncFunction"])["EventSourceMappings"]
        self.assertEqual(len(mappings), 1, mappings)
        return mappings[0]

    def test_erp_sync_event_source_mapping(self) -> None:
        mapping = self.erp_sync_mapping()
        self.assertEqual(mapping["EventSourceArn"], self.stack.queue_arn("ErpSyncQueue"))
        self.assertEqual(mapping["FunctionArn"], self.stack.function_arn("ErpSyncFunction"))
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(mapping["BatchSize"], 10)
        self.assertEqual(mapping["MaximumBatchingWindowInSeconds"], 5)
        self.assertEqual(mapping["ScalingConfig"], {"MaximumConcurrency": 5})  # ErpSyncMaxConcurrency's default
        self.assertEqual(mapping["State"], "Enabled")

    def test_queues_are_encrypted_with_the_stack_key(self) -> None:
        # moto applies KmsMasterKeyId and EnableKeyRotation; it ignores the
        # tables' SSESpecification and PointInTimeRecoverySpecification and
        # the functions' KmsKeyArn and DeadLetterQueue (test_template.py).
        key_arn = self.stack.key_arn()
        rotation = aws_client("kms").get_key_rotation_status(KeyId=self.stack.physical["DataKey"])
        self.assertIs(rotation["KeyRotationEnabled"], True)
        sqs = aws_client("sqs")
        queues = [r for r, physical in self.stack.physical.items() if physical.startswith("http")]
        self.assertEqual(len(queues), 8, queues)
        for logical_id in queues:
            attributes = sqs.get_queue_attributes(QueueUrl=self.stack.physical[logical_id],
                                                  AttributeNames=["KmsMasterKeyId"])["Attributes"]
            self.assertEqual(attributes.get("KmsMasterKeyId"), key_arn, logical_id)

    def test_functions_have_reserved_concurrency(self) -> None:
        lam = aws_client("lambda")
        # the parameters' defaults; the mappings' MaximumConcurrency are the same parameters
        expected = {"CrmWebhookFunction": 20, "ErpSyncFunction": 5, "CrmWritebackFunction": 2, "AuditLogFunction": 5}
        for logical_id, reserved in expected.items():
            concurrency = lam.get_function_concurrency(FunctionName=self.stack.physical[logical_id])
            self.assertEqual(concurrency.get("ReservedConcurrentExecutions"), reserved, logical_id)

    def test_only_erp_sync_has_an_event_source_mapping(self) -> None:
        lam = aws_client("lambda")
        for logical_id in ("CrmWebhookFunction", "AuditLogFunction"):
            self.assertEqual(lam.list_event_source_mappings(
                FunctionName=self.stack.physical[logical_id])["EventSourceMappings"], [], logical_id)

    def test_bus_has_exactly_the_three_rules(self) -> None:
        rules = self.stack.rules()
        self.assertEqual(set(rules), set(EXPECTED_RULES))
        for role, pattern in EXPECTED_RULES.items():
            self.assertEqual(json.loads(rules[role]["EventPattern"]), pattern, role)
            self.assertEqual(rules[role]["State"], "ENABLED", role)
        self.assertEqual(rules["audit-log"]["Name"], f"{self.stack.name}-audit-log")

    def test_erp_sync_rule_targets_the_queue(self) -> None:
        (target,) = self.stack.rules()["erp-sync"]["Targets"]
        self.assertEqual(target["Arn"], self.stack.queue_arn("ErpSyncQueue"))
        self.assertEqual(target["DeadLetterConfig"], {"Arn": self.stack.queue_arn("ErpSyncRuleDlq")})
        self.assertEqual(target["RetryPolicy"], {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400})

    def test_audit_log_rule_target_retries_then_dead_letters(self) -> None:
        # As stored by moto: moto keeps these settings but never applies them.
        (target,) = self.stack.rules()["audit-log"]["Targets"]
        self.assertEqual(target["Arn"], self.stack.function_arn("AuditLogFunction"))
        self.assertEqual(target["DeadLetterConfig"], {"Arn": self.stack.queue_arn("AuditLogTargetDlq")})
        self.assertEqual(target["RetryPolicy"], {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 3600})

    def test_archive_keeps_the_bus(self) -> None:
        events = aws_client("events")
        bus_arn = events.describe_event_bus(Name=self.stack.outputs["BusName"])["Arn"]
        archives = events.list_archives(EventSourceArn=bus_arn)["Archives"]
        self.assertEqual(len(archives), 1, archives)
        self.assertEqual(archives[0]["RetentionDays"], 30)
        self.assertEqual(archives[0]["State"], "ENABLED")

    def test_idempotency_table(self) -> None:
        # TimeToLiveSpecification is ignored by moto's CloudFormation: the TTL
        # attribute is asserted from the template in test_template.py.
        table = aws_client("dynamodb").describe_table(TableName=self.stack.outputs["IdempotencyTableName"])["Table"]
        self.assertEqual(table["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertEqual(table["AttributeDefinitions"], [{"AttributeName": "pk", "AttributeType": "S"}])
        self.assertEqual(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")

    def test_audit_table(self) -> None:
        table = aws_client("dynamodb").describe_table(TableName=self.stack.outputs["AuditTableName"])["Table"]
        self.assertEqual(table["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertEqual(table["AttributeDefinitions"], [{"AttributeName": "pk", "AttributeType": "S"}])

    def test_functions_are_configured_from_the_stack(self) -> None:
        lam = aws_client("lambda")

        def config(logical_id: str) -> dict[str, Any]:
            return lam.get_function_configuration(FunctionName=self.stack.physical[logical_id])

        idempotency = f"dynamodb:{self.stack.outputs['IdempotencyTableName']}"
        bus = self.stack.outputs["BusName"]

        erp = config("ErpSyncFunction")
        self.assertEqual((erp["Runtime"], erp["Handler"], erp["Timeout"]), ("provided.al2023", "bootstrap", 30))
        env = erp["Environment"]["Variables"]
        self.assertEqual(env["ERP_BASE_URL"], PARAMETERS["ErpBaseUrl"])
        self.assertEqual(env["SWITCHYARD_IDEMPOTENCY"], idempotency)
        self.assertEqual(env["EVENT_BUS_NAME"], bus)
        self.assertEqual(env["SWITCHYARD_PARK_QUEUE_URL"], self.stack.outputs["ErpSyncDlqUrl"])

        audit = config("AuditLogFunction")
        self.assertEqual((audit["Runtime"], audit["Handler"], audit["Timeout"]), ("provided.al2023", "bootstrap", 10))
        env = audit["Environment"]["Variables"]
        self.assertEqual(env["AUDIT_STORE"], "dynamodb:" + self.stack.outputs["AuditTableName"])
        self.assertEqual(env["SWITCHYARD_IDEMPOTENCY"], idempotency)
        self.assertEqual(env["SWITCHYARD_PARK_QUEUE_URL"], self.stack.outputs["AuditLogParkQueueUrl"])

        crm = config("CrmWebhookFunction")
        env = crm["Environment"]["Variables"]
        self.assertEqual(env["SWITCHYARD_HUBSPOT_CLIENT_SECRET"], PARAMETERS["HubSpotClientSecret"])
        self.assertEqual(env["SWITCHYARD_STANDARD_WEBHOOK_SECRET"], PARAMETERS["StandardWebhookSecret"])
        self.assertEqual(env["SWITCHYARD_IDEMPOTENCY"], idempotency)
        self.assertEqual(env["EVENT_BUS_NAME"], bus)

    def test_roles_grant_data_plane_only_on_stack_resources(self) -> None:
        iam = aws_client("iam")
        sqs_arns = {self.stack.queue_arn(q) for q in ("ErpSyncQueue", "ErpSyncDlq", "AuditLogParkQueue",
                                                        "AuditLogTargetDlq")}
        tables = {self.stack.outputs["IdempotencyTableName"], self.stack.outputs["AuditTableName"]}
        ddb = aws_client("dynamodb")
        table_arns = {ddb.describe_table(TableName=t)["Table"]["TableArn"] for t in tables}
        table_arns |= {f"{arn}/index/*" for arn in table_arns}
        bus_arn = aws_client("events").describe_event_bus(Name=self.stack.outputs["BusName"])["Arn"]
        # the stack's key: the functions' environments, the encrypted queues
        allowed = sqs_arns | table_arns | {bus_arn, self.stack.key_arn()}
        for role_id in ("CrmWebhookFunctionRole", "ErpSyncFunctionRole", "AuditLogFunctionRole"):
            role = self.stack.physical[role_id]
            # Managed policies: moto (without its optional AWS-managed-policy
            # catalogue) attaches none, so which ones the roles get is asserted
            # on the translated template in test_template.py.
            names = iam.list_role_policies(RoleName=role)["PolicyNames"]
            self.assertTrue(names, role_id)
            for name in names:
                document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
                if isinstance(document, str):
                    # moto keeps a policy created by CloudFormation as the
                    # Python repr of the dict, not as JSON.
                    try:
                        document = json.loads(document)
                    except json.JSONDecodeError:
                        document = ast.literal_eval(document)
                for statement in document["Statement"]:
                    resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                    for resource in resources:
                        self.assertIn(resource, allowed, f"{role_id}/{name}: {statement}")

    def test_outputs(self) -> None:
        expected = {
            "BusName": f"switchyard-{self.stack.name}",  # moto reports no physical id for the bus
            "ErpSyncQueueUrl": self.stack.physical["ErpSyncQueue"],
            "ErpSyncDlqUrl": self.stack.physical["ErpSyncDlq"],
            "ErpSyncRuleDlqUrl": self.stack.physical["ErpSyncRuleDlq"],
            "CrmWritebackQueueUrl": self.stack.physical["CrmWritebackQueue"],
            "CrmWritebackDlqUrl": self.stack.physical["CrmWritebackDlq"],
            "CrmWritebackRuleDlqUrl": self.stack.physical["CrmWritebackRuleDlq"],
            "AuditLogTargetDlqUrl": self.stack.physical["AuditLogTargetDlq"],
            "AuditLogParkQueueUrl": self.stack.physical["AuditLogParkQueue"],
            "IdempotencyTableName": self.stack.physical["IdempotencyTable"],
            "AuditTableName": self.stack.physical["AuditTable"],
        }
        # CrmWebhookUrl is left out of the deployed copy (see the module docstring).
        self.assertEqual(self.stack.outputs, expected)


class RoutingTest(unittest.TestCase):
    """End to end through moto's bus: events reach the queues their rules name.
    Deployed from the routing variant (see the module docstring)."""

    stack: Stack

    @classmethod
    def setUpClass(cls) -> None:
        cls.stack = Stack(routing_variant, "sy-route")
        cls.events = aws_client("events")
        cls.sqs = aws_client("sqs")
        cls.queues = {
            "erp-sync": cls.stack.physical["ErpSyncQueue"],
            "crm-writeback": cls.stack.physical["CrmWritebackQueue"],
            "audit-log": cls.stack.physical["AuditLogProbeQueue"],
        }

    @classmethod
    def tearDownClass(cls) -> None:
        cls.stack.delete()

    def publish(self, detail_type: str, data: dict[str, Any] | None = None) -> str:
        marker = uuid.uuid4().hex
        detail: dict[str, Any] = {"id": marker}
        if data is not None:
            detail["data"] = data
        response = self.events.put_events(Entries=[{
            "EventBusName": self.stack.outputs["BusName"],
            "Source": "switchyard/tests-infra",
            "DetailType": detail_type,
            "Detail": json.dumps(detail),
        }])
        self.assertEqual(response["FailedEntryCount"], 0, response)
        return marker

    def arrived(self, queue: str, marker: str) -> list[dict[str, Any]]:
        """The bus events carrying `marker` in `queue` (moto delivers within
        PutEvents, so no waiting is needed; a short poll covers slow hosts)."""
        found = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            messages = self.sqs.receive_message(QueueUrl=self.queues[queue], MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", [])
            for m in messages:
                self.sqs.delete_message(QueueUrl=self.queues[queue], ReceiptHandle=m["ReceiptHandle"])
                body = json.loads(m["Body"])
                if body.get("detail", {}).get("id") == marker:
                    found.append(body)
            if found:
                break
            time.sleep(0.1)
        return found

    def assert_routed(self, detail_type: str, to: set[str], data: dict[str, Any] | None = None) -> None:
        marker = self.publish(detail_type, data)
        for queue in self.queues:
            got = self.arrived(queue, marker)
            if queue in to:
                self.assertEqual(len(got), 1, f"{detail_type} should reach {queue} once")
                self.assertEqual(got[0]["detail-type"], detail_type)
            else:
                self.assertEqual(got, [], f"{detail_type} must not reach {queue}")

    def test_order_placed_reaches_the_erp_sync_queue(self) -> None:
        self.assert_routed("order.placed", {"erp-sync"})

    def test_customer_updated_reaches_both(self) -> None:
        self.assert_routed("customer.updated", {"erp-sync", "audit-log"})

    def test_erp_order_synced_reaches_only_audit_log(self) -> None:
        # erp-sync publishes erp.order-synced: it must not loop back to erp-sync;
        # without an origin there is no CRM record to write back to.
        self.assert_routed("erp.order-synced", {"audit-log"})

    def test_erp_order_synced_of_a_crm_order_reaches_crm_writeback_too(self) -> None:
        origin = {"system": "dynamics", "object": "salesorder", "id": "2d7e9a1b-5c6d-e711-8118-000d3a1a0e11"}
        self.assert_routed("erp.order-synced", {"audit-log", "crm-writeback"}, {"origin": origin})

    def test_other_events_reach_no_queue(self) -> None:
        self.assert_routed("crm.something-else", set())


if __name__ == "__main__":
    unittest.main()
