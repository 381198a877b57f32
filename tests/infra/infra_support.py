"""Shared helpers of the template tests (tests/infra).

- `load_template`: reads template.yaml with a YAML loader that understands
  CloudFormation's short-form tags (!Ref, !GetAtt, !Sub, !If, ...) and turns
  them into their long form ({"Ref": ...}, {"Fn::GetAtt": [...]}, ...), the
  shape CloudFormation, cfn-lint and the SAM translator work on.
- `translate`: applies the SAM transform with aws-sam-translator, the library
  SAM itself uses (moto does not apply the transform).
- `moto_endpoint`: the emulator endpoint, failing loudly when it is missing.

Imported by the test modules; unittest's discovery puts this folder on
sys.path (`python -m unittest discover -s tests/infra`).
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

# Short-form intrinsic tags and the long-form key each one becomes.
_TAGS = {
    "!Ref": "Ref",
    "!Condition": "Condition",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!If": "Fn::If",
    "!Not": "Fn::Not",
    "!Equals": "Fn::Equals",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Transform": "Fn::Transform",
    "!ToJsonString": "Fn::ToJsonString",
    "!Length": "Fn::Length",
}


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that knows CloudFormation's short-form intrinsic tags."""


def _construct(key: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if key == "Fn::GetAtt":
                # !GetAtt Resource.Attribute (the attribute may itself contain dots)
                resource, _, attribute = str(value).partition(".")
                value = [resource, attribute]
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag, _key in _TAGS.items():
    CfnLoader.add_constructor(_tag, _construct(_key))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts/lists, intrinsics in long form."""
    return load_template_text(path.read_text(encoding="utf-8"))


def load_template_text(text: str) -> dict[str, Any]:
    loaded = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(loaded, dict):
        raise ValueError("the template is not a mapping")
    return loaded


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only when a function's
    Policies name one; template.yaml names none, so this loader is never
    consulted for a real answer (and fails loudly if it ever is)."""

    def load(self) -> dict[str, str]:
        raise AssertionError("template.yaml must not name managed policies by name")


def with_code_uri(template: dict[str, Any], code_uri: str) -> dict[str, Any]:
    """A copy whose functions' CodeUri is `code_uri` (an s3:// location), as
    `sam package` does after building: the translator accepts nothing else."""
    out = copy.deepcopy(template)
    for resource in resources_of_type(out, "AWS::Serverless::Function").values():
        resource.setdefault("Properties", {})["CodeUri"] = code_uri
    return out


def translate(
    template: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    code_uri: str = "s3://switchyard-code/functions.zip",
) -> dict[str, Any]:
    """The CloudFormation template SAM's transform makes of `template`, with
    every function's code at `code_uri`.

    The translator needs a region for pseudo parameters: AWS_REGION /
    AWS_DEFAULT_REGION when set, else us-east-1 (no AWS call is made).
    """
    import boto3
    from samtranslator.metrics.metrics import Metrics
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import (
        to_py27_compatible_template,
        undo_mark_unicode_str_in_template,
    )

    fragment = with_code_uri(template, code_uri)
    values = dict(parameters or {})
    to_py27_compatible_template(fragment, values)
    metrics = Metrics()  # published (to nowhere) below, so it does not warn
    translator = Translator(
        None, Parser(), boto_session=boto3.session.Session(region_name=region()), metrics=metrics
    )
    try:
        out = translator.translate(
            fragment, parameter_values=values, get_managed_policy_map=_NoManagedPolicies().load
        )
    finally:
        metrics.publish()
    return undo_mark_unicode_str_in_template(out)


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == type_name}


def moto_endpoint() -> str:
    """AWS_ENDPOINT_URL, or a failure that says how to get it."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL", "").strip()
    if not endpoint:
        raise AssertionError(
            "AWS_ENDPOINT_URL is not set: this test needs moto server. "
            "Run `bash scripts/test.sh`, which starts it and exports the variables."
        )
    return endpoint


def region() -> str:
    """AWS_REGION (what scripts/test.sh and the Rust SDK use), else
    AWS_DEFAULT_REGION (what boto3 reads), else us-east-1."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def aws_client(service: str):
    """A boto3 client for moto: endpoint from AWS_ENDPOINT_URL (required),
    region and credentials from the standard variables."""
    import boto3

    return boto3.client(service, endpoint_url=moto_endpoint(), region_name=region())
