"""IAM policy statements scoped to one resource, and policy documents built from them.

A function, a state machine or a trigger declares what it touches (``table_write(table_arn,
key_arn)``, ``secret_read(secret_arn, key_arn)``); components turn the declarations into inline
role policies. A grant on a resource encrypted with a customer-managed key always comes with the
KMS actions using that resource needs, scoped to that key and to the service that uses it
(``kms:ViaService``), so no caller can forget the key and no caller can use the key directly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

# Actions AWS only authorizes on "*" (no resource-level permissions exist for them). They are
# the one allowed exception to "no wildcard resource", listed once; the rule pack checks that
# no other action ever gets "*".
XRAY_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets")
# Step Functions' vended log delivery to CloudWatch Logs.
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
)  # fmt: skip
# A Lambda function in a VPC manages its own network interfaces.
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses",
)  # fmt: skip
# Callback tokens are not resources: IAM cannot scope these to a state machine.
TASK_CALLBACK_ACTIONS = ("states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat")
WILDCARD_ONLY_ACTIONS = frozenset((*XRAY_ACTIONS, *LOG_DELIVERY_ACTIONS, *VPC_ENI_ACTIONS, *TASK_CALLBACK_ACTIONS))

# What using a CMK-encrypted resource needs of its key (the AWS guides of each service; CDK's
# grant tables agree). Decrypt on writes: a conditional put reads the item, a multipart upload
# reads its parts back, SNS and SQS decrypt the data key they generated.
KMS_READ = ("kms:Decrypt",)
KMS_TABLE_READ = ("kms:Decrypt", "kms:DescribeKey")
KMS_TABLE_WRITE = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
KMS_WRITE = ("kms:Decrypt", "kms:GenerateDataKey")

TABLE_READ_ACTIONS = ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:ConditionCheckItem")
TABLE_WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")


def deny_insecure_transport(action: str, resources: str | list[str]) -> dict[str, Any]:
    """A resource policy statement refusing ``action`` to everyone on a request not made over TLS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": action,
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


@dataclass(frozen=True)
class Grant:
    """One Allow statement: ``actions`` on ``resources``; ARNs and condition values may be Outputs."""

    sid: str
    actions: tuple[str, ...]
    resources: Sequence[pulumi.Input[str]]
    conditions: Mapping[str, Any] = field(default_factory=dict)


def _arn_suffix(arn: pulumi.Input[str], suffix: str) -> pulumi.Input[str]:
    if isinstance(arn, str):
        return f"{arn}{suffix}"
    return pulumi.Output.from_input(arn).apply(lambda a: f"{a}{suffix}")


def region_of(arn: str) -> str:
    """The region field of an ARN (``arn:aws:kms:us-west-2:…`` → ``us-west-2``)."""
    return arn.split(":")[3]


def _via(service: str, key_arn: pulumi.Input[str]) -> pulumi.Input[str]:
    if isinstance(key_arn, str):
        return f"{service}.{region_of(key_arn)}.amazonaws.com"
    return pulumi.Output.from_input(key_arn).apply(lambda arn: f"{service}.{region_of(arn)}.amazonaws.com")


def key_through(
    key_arn: pulumi.Input[str], actions: Sequence[str], service: str, sid: str, context: Mapping[str, Any] | None = None
) -> Grant:
    """Use ``key_arn`` for ``actions`` only through ``service`` (``kms:ViaService``), as that service does."""
    equals: dict[str, Any] = {"kms:ViaService": _via(service, key_arn)}
    equals.update({f"kms:EncryptionContext:{k}": v for k, v in (context or {}).items()})
    return Grant(sid, tuple(actions), [key_arn], {"StringEquals": equals})


def _with_key(
    grant: Grant, key_arn: pulumi.Input[str] | None, actions: Sequence[str], service: str, **context
) -> list[Grant]:
    if key_arn is None:
        return [grant]
    return [grant, key_through(key_arn, actions, service, f"{grant.sid}Key", context or None)]


def table_read(
    table_arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None, actions: Sequence[str] = TABLE_READ_ACTIONS
) -> list[Grant]:
    """Read items of one DynamoDB table or index (``actions``, default every item read), with its key."""
    return _with_key(Grant("TableRead", tuple(actions), [table_arn]), key_arn, KMS_TABLE_READ, "dynamodb")


def table_query(
    table_arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None, index: str | None = None
) -> list[Grant]:
    """Query one DynamoDB table and, with ``index``, that index of it (a query of an index is authorized on
    ``<table>/index/<name>``, not on the table), with the table's key."""
    grants = table_read(table_arn, key_arn, ("dynamodb:Query",))
    if index is not None:
        grants += table_read(_arn_suffix(table_arn, f"/index/{index}"), key_arn, ("dynamodb:Query",))
    return grants


def table_write(
    table_arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None, actions: Sequence[str] = TABLE_WRITE_ACTIONS
) -> list[Grant]:
    """Write items of one DynamoDB table (``actions``, default every item write) with its key."""
    return _with_key(Grant("TableWrite", tuple(actions), [table_arn]), key_arn, KMS_TABLE_WRITE, "dynamodb")


def object_arn(bucket_arn: pulumi.Input[str], pattern: str) -> pulumi.Input[str]:
    """The ARN of the objects ``pattern`` names: a key, a prefix ending in ``/`` (all under it) or a glob."""
    return _arn_suffix(bucket_arn, f"/{pattern}*" if pattern.endswith("/") else f"/{pattern}")


def s3_read(
    bucket_arn: pulumi.Input[str],
    pattern: str,
    key_arn: pulumi.Input[str] | None = None,
    sid: str = "S3Read",
    versions: bool = False,
) -> list[Grant]:
    """Read objects ``pattern`` names in one bucket (decrypting SSE-KMS objects with the bucket's key).

    ``versions``: also a given version of them (``GetObject`` with a ``VersionId`` is ``s3:GetObjectVersion``).
    """
    actions = ("s3:GetObject", "s3:GetObjectVersion") if versions else ("s3:GetObject",)
    return _with_key(Grant(sid, actions, [object_arn(bucket_arn, pattern)]), key_arn, KMS_READ, "s3")


def s3_write(
    bucket_arn: pulumi.Input[str],
    pattern: str,
    key_arn: pulumi.Input[str] | None = None,
    sid: str = "S3Write",
    multipart: bool = False,
) -> list[Grant]:
    """Write objects ``pattern`` names in one bucket (encrypting them with the bucket's key).

    ``multipart``: also abort a multipart upload (a managed copy of a large object aborts on failure).
    """
    actions = ("s3:PutObject", "s3:AbortMultipartUpload") if multipart else ("s3:PutObject",)
    return _with_key(Grant(sid, actions, [object_arn(bucket_arn, pattern)]), key_arn, KMS_WRITE, "s3")


def s3_delete(bucket_arn: pulumi.Input[str], pattern: str, sid: str = "S3Delete") -> list[Grant]:
    """Delete objects ``pattern`` names (a delete marker in a versioned bucket: no key needed)."""
    return [Grant(sid, ("s3:DeleteObject",), [object_arn(bucket_arn, pattern)])]


def s3_list(bucket_arn: pulumi.Input[str], sid: str = "S3List") -> list[Grant]:
    """List the bucket's keys: without it S3 answers a missing key with 403, not 404 (NoSuchKey)."""
    return [Grant(sid, ("s3:ListBucket",), [bucket_arn])]


def secret_read(secret_arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None) -> list[Grant]:
    """Read the value of one Secrets Manager secret (decrypted with its key)."""
    return _with_key(
        Grant("SecretRead", ("secretsmanager:GetSecretValue",), [secret_arn]), key_arn, KMS_READ, "secretsmanager"
    )


def topic_publish(topic_arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None) -> list[Grant]:
    """Publish to one SNS topic (encrypting with its key)."""
    return _with_key(Grant("TopicPublish", ("sns:Publish",), [topic_arn]), key_arn, KMS_WRITE, "sns")


def queue_send(queue_arn: pulumi.Input[str], key_arn: pulumi.Input[str] | None = None) -> list[Grant]:
    """Send messages to one SQS queue (encrypting with its key)."""
    return _with_key(Grant("QueueSend", ("sqs:SendMessage",), [queue_arn]), key_arn, KMS_WRITE, "sqs")


def kms_use(
    key_arn: pulumi.Input[str],
    actions: Sequence[str],
    sid: str = "KmsUse",
    encryption_context: Mapping[str, str] | None = None,
) -> Grant:
    """Use one KMS key directly for ``actions``, only under ``encryption_context`` if given."""
    conditions = (
        {"StringEquals": {f"kms:EncryptionContext:{k}": v for k, v in encryption_context.items()}}
        if encryption_context
        else {}
    )
    return Grant(sid, tuple(actions), [key_arn], conditions)


def lambda_invoke(function_arns: Sequence[pulumi.Input[str]]) -> Grant:
    """Invoke exactly these functions (and their versions/aliases)."""
    resources: list[pulumi.Input[str]] = []
    for arn in function_arns:
        resources += [arn, _arn_suffix(arn, ":*")]
    return Grant("InvokeFunctions", ("lambda:InvokeFunction",), resources)


def start_execution(state_machine_arn: pulumi.Input[str]) -> Grant:
    """Start executions of one state machine."""
    return Grant("StartExecution", ("states:StartExecution",), [state_machine_arn])


def execution_history(executions_arn: pulumi.Input[str]) -> Grant:
    """Read the history of executions (``arn:…:execution:<machine>:*``: one machine's)."""
    return Grant("ReadExecutionHistory", ("states:GetExecutionHistory",), [executions_arn])


def task_callbacks() -> Grant:
    """Report the outcome of a task token (``SendTaskSuccess`` …; AWS requires "*")."""
    return Grant("TaskCallbacks", TASK_CALLBACK_ACTIONS, ["*"])


def log_group_write(log_group_arn: pulumi.Input[str]) -> Grant:
    """Write log streams and events into one log group."""
    return Grant("WriteOwnLogGroup", ("logs:CreateLogStream", "logs:PutLogEvents"), [_arn_suffix(log_group_arn, ":*")])


def xray_write() -> Grant:
    """Send X-Ray trace segments (AWS offers no resource-level scoping)."""
    return Grant("XRayWrite", XRAY_ACTIONS, ["*"])


def state_machine_log_delivery() -> Grant:
    """Let Step Functions deliver execution logs to CloudWatch Logs (AWS requires "*")."""
    return Grant("LogDelivery", LOG_DELIVERY_ACTIONS, ["*"])


def vpc_networking() -> Grant:
    """Let a VPC-attached Lambda manage its network interfaces (AWS requires "*")."""
    return Grant("VpcNetworking", VPC_ENI_ACTIONS, ["*"])


@dataclass(frozen=True)
class ResolvedGrant:
    """A grant whose resources and condition values are plain strings."""

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    conditions: Mapping[str, Any] = field(default_factory=dict)


def resolved(grant: Grant) -> ResolvedGrant:
    """A grant already made of strings (integration builders render with resolved references)."""
    if not all(isinstance(r, str) for r in grant.resources):
        raise TypeError(f"grant {grant.sid} has unresolved resources; use policy_document()")
    return ResolvedGrant(grant.sid, tuple(grant.actions), tuple(grant.resources), dict(grant.conditions))


def _merge(grants: Sequence[ResolvedGrant]) -> list[ResolvedGrant]:
    """Grants of the same kind, actions and conditions become one statement over all their resources."""
    merged: dict[tuple, ResolvedGrant] = {}
    for grant in grants:
        key = (grant.sid, tuple(sorted(grant.actions)), json.dumps(grant.conditions, sort_keys=True))
        if key in merged:
            previous = merged[key]
            merged[key] = ResolvedGrant(
                grant.sid, previous.actions, (*previous.resources, *grant.resources), previous.conditions
            )
        else:
            merged[key] = grant
    return list(merged.values())


def render_policy(grants: Sequence[ResolvedGrant]) -> dict[str, Any]:
    """A policy document from resolved grants (pure; tests call it)."""
    sids: dict[str, int] = {}
    statements = []
    for grant in _merge(grants):
        statement: dict[str, Any] = {
            "Sid": grant.sid,
            "Effect": "Allow",
            "Action": sorted(set(grant.actions)),
            "Resource": sorted(set(grant.resources)),
        }
        if grant.conditions:
            statement["Condition"] = json.loads(json.dumps(grant.conditions, sort_keys=True))
        # Two grants of the same kind (two buckets, say) need distinct Sids.
        sids[grant.sid] = sids.get(grant.sid, 0) + 1
        if sids[grant.sid] > 1:
            statement["Sid"] = f"{grant.sid}{sids[grant.sid]}"
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def resolve(grants: Sequence[Grant]) -> pulumi.Output[list[ResolvedGrant]]:
    """The grants with every Output inside them resolved."""
    parts = [
        pulumi.Output.all(pulumi.Output.all(*g.resources), pulumi.Output.from_input(dict(g.conditions))) for g in grants
    ]
    return pulumi.Output.all(*parts).apply(
        lambda values: [
            ResolvedGrant(g.sid, tuple(g.actions), tuple(resources), conditions or {})
            for g, (resources, conditions) in zip(grants, values, strict=True)
        ]
    )


def policy_json(grants: Sequence[ResolvedGrant]) -> str:
    """The policy document of resolved grants as stable JSON text."""
    return json.dumps(render_policy(grants), indent=2)


def policy_document(grants: Sequence[Grant]) -> pulumi.Output[str]:
    """The JSON policy document of ``grants``, resolved from their Outputs."""
    return resolve(grants).apply(policy_json)
