"""IAM policy statements scoped to one resource, and policy documents built from them.

A function or state machine declares what it touches (``table_put_item(table.arn)``,
``secret_read(secret.arn)``); components turn the declarations into inline role policies.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi

# Actions AWS only authorizes on "*" (no resource-level permissions exist for them). They are
# the one allowed exception to "no wildcard resource on a write action", and tests check that
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
WILDCARD_ONLY_ACTIONS = frozenset((*XRAY_ACTIONS, *LOG_DELIVERY_ACTIONS, *VPC_ENI_ACTIONS))


@dataclass(frozen=True)
class Grant:
    """One Allow statement: ``actions`` on ``resources`` (each an ARN or an Output of one)."""

    sid: str
    actions: tuple[str, ...]
    resources: Sequence[pulumi.Input[str]]
    conditions: Mapping[str, Any] = field(default_factory=dict)


def _arn_suffix(arn: pulumi.Input[str], suffix: str) -> pulumi.Output[str]:
    return pulumi.Output.from_input(arn).apply(lambda a: f"{a}{suffix}")


def table_put_item(table_arn: pulumi.Input[str]) -> Grant:
    """Insert items into one DynamoDB table."""
    return Grant("TablePutItem", ("dynamodb:PutItem",), [table_arn])


def table_read_write(table_arn: pulumi.Input[str]) -> Grant:
    """Read and write items of one DynamoDB table."""
    return Grant(
        "TableReadWrite",
        ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:BatchWriteItem"),
        [table_arn],
    )


def s3_read(bucket_arn: pulumi.Input[str], prefix: str, sid: str = "S3Read") -> Grant:
    """Read objects under ``prefix`` of one bucket (``prefix`` may be a single key)."""
    return Grant(
        sid, ("s3:GetObject",), [_arn_suffix(bucket_arn, f"/{prefix}*" if prefix.endswith("/") else f"/{prefix}")]
    )


def s3_write(bucket_arn: pulumi.Input[str], prefix: str, sid: str = "S3Write") -> Grant:
    """Write (put) objects under ``prefix`` of one bucket; ``prefix`` may contain ``*``."""
    return Grant(
        sid, ("s3:PutObject",), [_arn_suffix(bucket_arn, f"/{prefix}*" if prefix.endswith("/") else f"/{prefix}")]
    )


def secret_read(secret_arn: pulumi.Input[str]) -> Grant:
    """Read the value of one Secrets Manager secret."""
    return Grant("SecretRead", ("secretsmanager:GetSecretValue",), [secret_arn])


def kms_use(
    key_arn: pulumi.Input[str],
    actions: Sequence[str],
    sid: str = "KmsUse",
    encryption_context: Mapping[str, str] | None = None,
) -> Grant:
    """Use one KMS key for the given cryptographic ``actions``, only under ``encryption_context`` if given."""
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
    return Grant("InvokeOwnFunctions", ("lambda:InvokeFunction",), resources)


def start_execution(state_machine_arn: pulumi.Input[str]) -> Grant:
    """Start executions of one state machine."""
    return Grant("StartExecution", ("states:StartExecution",), [state_machine_arn])


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


def _statement(grant: Grant, resources: Sequence[str]) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": grant.sid,
        "Effect": "Allow",
        "Action": sorted(grant.actions),
        "Resource": sorted(set(resources)),
    }
    if grant.conditions:
        statement["Condition"] = dict(grant.conditions)
    return statement


def render_policy(grants: Sequence[Grant], resolved_resources: Sequence[Sequence[str]]) -> dict[str, Any]:
    """A policy document from grants and their resolved resource ARNs (pure; tests call it)."""
    sids: dict[str, int] = {}
    statements = []
    for grant, resources in zip(grants, resolved_resources, strict=True):
        statement = _statement(grant, resources)
        # Two grants of the same kind (two buckets, say) need distinct Sids.
        sids[grant.sid] = sids.get(grant.sid, 0) + 1
        if sids[grant.sid] > 1:
            statement["Sid"] = f"{grant.sid}{sids[grant.sid]}"
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def policy_document(grants: Sequence[Grant]) -> pulumi.Output[str]:
    """The JSON policy document of ``grants``, resolved from their Output ARNs."""
    resolved = pulumi.Output.all(*[pulumi.Output.all(*g.resources) for g in grants])
    return resolved.apply(lambda resources: json.dumps(render_policy(grants, resources), indent=2))


def assume_role_policy(service: str, source_account: str | None = None) -> str:
    """A trust policy letting one AWS service principal assume the role."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": source_account}}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})
