"""What a rendered definition needs of IAM, read from the ASL alone, and how a role policy compares.

This is the independent half of "integrations carry their grants": the builders in
``integrations.py`` declare each state's grant; this module reads only the rendered document
(Resource and Parameters of every Task, at any depth) and says which (action, resource) pairs the
state machine must be allowed, then checks a role policy against that in both directions — a
state whose resource is not granted, a grant no state uses. Resources encrypted with a
customer-managed key add the key's actions (``encrypted`` maps a resource ARN to its key ARN).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.components import grants as g

STATES = "arn:aws:states:::"
_FORMAT_PREFIX = re.compile(r"^States\.Format\('([^'{}\\]*)\{\}', *\$[^')]*\)$")

# What each data action needs of the key of an encrypted resource (grants.py decides the same
# thing from the other side; the two must agree).
_KMS_FOR_ACTION = {
    "dynamodb:GetItem": g.KMS_TABLE_READ,
    "dynamodb:Query": g.KMS_TABLE_READ,
    "dynamodb:PutItem": g.KMS_TABLE_WRITE,
    "dynamodb:UpdateItem": g.KMS_TABLE_WRITE,
    "dynamodb:DeleteItem": g.KMS_TABLE_WRITE,
    "s3:GetObject": g.KMS_READ,
    "s3:PutObject": g.KMS_WRITE,
    "sns:Publish": g.KMS_WRITE,
    "sqs:SendMessage": g.KMS_WRITE,
}


@dataclass(frozen=True)
class Need:
    """One (action, resource) a state uses, and where."""

    action: str
    resource: str
    state: str


@dataclass
class AccessReport:
    """Needs, grants and the mismatches between them."""

    needs: list[Need] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _tasks(machine: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    for name, state in machine.get("States", {}).items():
        where = f"{prefix}{name}"
        if state.get("Type") == "Task":
            yield where, state
        for i, branch in enumerate(state.get("Branches", [])):
            yield from _tasks(branch, f"{where}.Branches[{i}].")
        inner = state.get("ItemProcessor") or state.get("Iterator")
        if inner:
            yield from _tasks(inner, f"{where}.ItemProcessor.")


def _static(parameters: Mapping[str, Any], name: str, where: str, problems: list[str]) -> str | None:
    if name in parameters:
        return str(parameters[name])
    if f"{name}.$" in parameters:
        problems.append(f"{where}: {name} is taken from the state; a role cannot be scoped to it")
    else:
        problems.append(f"{where}: no {name}")
    return None


def _object_pattern(parameters: Mapping[str, Any], name: str, where: str, problems: list[str]) -> str | None:
    if name in parameters:
        return str(parameters[name])
    dynamic = parameters.get(f"{name}.$")
    match = _FORMAT_PREFIX.match(dynamic or "")
    if match is None:
        problems.append(f"{where}: {name} must be fixed or States.Format('<prefix>{{}}', $.path); got {dynamic!r}")
        return None
    return f"{match.group(1)}*"


def _table_arn(name: str, region: str, account: str) -> str:
    return name if name.startswith("arn:") else f"arn:aws:dynamodb:{region}:{account}:table/{name}"


def _state_needs(where: str, state: Mapping[str, Any], region: str, account: str, problems: list[str]) -> list[Need]:
    resource = state.get("Resource", "")
    params = state.get("Parameters", {}) or {}
    if not resource.startswith(STATES):
        problems.append(f"{where}: Resource {resource!r} is not a service integration this check knows")
        return []
    service = resource.removeprefix(STATES).removesuffix(".waitForTaskToken").removesuffix(".sync")

    def need(action: str, arn: str | None) -> list[Need]:
        return [Need(action, arn, where)] if arn else []

    if service == "lambda:invoke":
        return need("lambda:InvokeFunction", _static(params, "FunctionName", where, problems))
    if service.startswith("dynamodb:") or service == "aws-sdk:dynamodb:query":
        table = _static(params, "TableName", where, problems)
        if table is None:
            return []
        action = "dynamodb:" + service.rsplit(":", 1)[-1][0].upper() + service.rsplit(":", 1)[-1][1:]
        arn = _table_arn(table, region, account)
        if params.get("IndexName"):
            arn = f"{arn}/index/{params['IndexName']}"
        return need(action, arn)
    if service == "sns:publish":
        return need("sns:Publish", _static(params, "TopicArn", where, problems))
    if service == "states:startExecution":
        return need("states:StartExecution", _static(params, "StateMachineArn", where, problems))
    if service in ("aws-sdk:s3:getObject", "aws-sdk:s3:putObject", "aws-sdk:s3:copyObject"):
        bucket = _static(params, "Bucket", where, problems)
        key = _object_pattern(params, "Key", where, problems)
        if bucket is None or key is None:
            return []
        action = "s3:GetObject" if service.endswith("getObject") else "s3:PutObject"
        needs = need(action, f"arn:aws:s3:::{bucket}/{key}")
        if service.endswith("copyObject"):
            source = _object_pattern(params, "CopySource", where, problems)
            needs += need("s3:GetObject", f"arn:aws:s3:::{source}" if source else None)
        return needs
    problems.append(f"{where}: integration {service!r} is not one this check knows")
    return []


def definition_needs(document: Mapping[str, Any], region: str, account: str) -> AccessReport:
    """Every (action, resource) the document's Tasks use, and what could not be read."""
    report = AccessReport()
    for where, state in _tasks(document):
        report.needs += _state_needs(where, state, region, account, report.problems)
    return report


def _key_of(resource: str, encrypted: Mapping[str, str]) -> str | None:
    for arn, key in encrypted.items():
        if resource == arn or resource.startswith(f"{arn}/"):
            return key
    return None


def _with_keys(needs: Iterable[Need], encrypted: Mapping[str, str]) -> list[Need]:
    out = list(needs)
    for n in list(out):
        key = _key_of(n.resource, encrypted)
        if key is not None:
            out += [Need(action, key, n.state) for action in _KMS_FOR_ACTION.get(n.action, ())]
    return out


def _covers(pattern: str, resource: str) -> bool:
    # IAM resource matching: * any run of characters, ? one character.
    return fnmatch.fnmatchcase(resource, pattern)


def compare(document: Mapping[str, Any], policy: Mapping[str, Any], region: str, account: str, encrypted=None):
    """Mismatches between a definition and its role's policy (empty when they agree exactly).

    Statements of actions AWS only allows on ``*`` (log delivery, X-Ray) are the role's own and
    not compared. A Lambda grant's ``<arn>:*`` (versions, aliases) accompanies its ``<arn>``.
    """
    report = definition_needs(document, region, account)
    needs = _with_keys(report.needs, encrypted or {})
    problems = list(report.problems)
    granted = [
        (action, resource)
        for statement in policy.get("Statement", [])
        if statement.get("Effect") == "Allow"
        for action in _as_list(statement["Action"])
        if action not in g.WILDCARD_ONLY_ACTIONS
        for resource in _as_list(statement["Resource"])
    ]
    for n in needs:
        if not any(action == n.action and _covers(resource, n.resource) for action, resource in granted):
            problems.append(f"{n.state}: needs {n.action} on {n.resource}, which the role does not grant")
    for action, resource in granted:
        # Exactly what a state names: a broader grant (``bucket/*`` for ``bucket/staging/*``) is unused breadth.
        if not any(action == n.action and resource in (n.resource, f"{n.resource}:*") for n in needs):
            problems.append(f"the role grants {action} on {resource}, which no state uses")
    return problems


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def encrypted_resources(resources: Iterable[Any]) -> dict[str, str]:
    """Resource ARN → the customer-managed key encrypting it (tables, buckets, topics, queues the program declares)."""
    encrypted: dict[str, str] = {}
    buckets = {}
    for r in resources:
        inputs, outputs = r.inputs, r.outputs
        if r.typ == "aws:dynamodb/table:Table" and (inputs.get("serverSideEncryption") or {}).get("kmsKeyArn"):
            encrypted[outputs["arn"]] = inputs["serverSideEncryption"]["kmsKeyArn"]
        elif r.typ in ("aws:sns/topic:Topic", "aws:sqs/queue:Queue") and inputs.get("kmsMasterKeyId"):
            encrypted[outputs["arn"]] = inputs["kmsMasterKeyId"]
        elif r.typ == "aws:s3/bucket:Bucket":
            buckets[r.id] = outputs["arn"]
    for r in resources:
        if r.typ == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            for rule in r.inputs.get("rules") or []:
                key = (rule.get("applyServerSideEncryptionByDefault") or {}).get("kmsMasterKeyId")
                if key and r.inputs.get("bucket") in buckets:
                    encrypted[buckets[r.inputs["bucket"]]] = key
    return encrypted
