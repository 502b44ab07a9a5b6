"""CloudWatch log groups: encrypted with the owning pipeline's key, retained, and named so that key admits them.

Every log group of a pipeline has ``<prefix>-<pipeline>`` in its name, so the pipeline key's policy
can let CloudWatch Logs use the key for exactly those groups (``log_group_arn_patterns``): the
``kms:EncryptionContext:aws:logs:arn`` condition AWS documents for encrypted log groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws


@dataclass
class LogGroupArgs:
    """A log group's name, how long it keeps events and the key it is encrypted with."""

    log_group_name: pulumi.Input[str]
    retention_days: int
    key_arn: pulumi.Input[str]
    tags: Mapping[str, str] = field(default_factory=dict)


def encrypted_log_group(name: str, args: LogGroupArgs, parent: pulumi.Resource) -> aws.cloudwatch.LogGroup:
    """A log group under a customer-managed key (its key policy must admit the name: see module doc)."""
    return aws.cloudwatch.LogGroup(
        name,
        name=args.log_group_name,
        retention_in_days=args.retention_days,
        kms_key_id=args.key_arn,
        tags=dict(args.tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def owner(name_prefix: str, pipeline: str) -> str:
    """``sw-dev-radar``: the part every log group name of a pipeline contains."""
    return f"{name_prefix}-{pipeline}"


def lambda_log_group_name(function_name: str) -> str:
    """Where Lambda writes a function's logs."""
    return f"/aws/lambda/{function_name}"


def state_machine_log_group_name(name_prefix: str, pipeline: str, machine: str = "") -> str:
    """Step Functions' vended logs of one pipeline's state machine (``machine``: a second one's suffix)."""
    return f"/aws/vendedlogs/states/{owner(name_prefix, pipeline)}{f'-{machine}' if machine else ''}"


def api_access_log_group_name(name_prefix: str, pipeline: str, api: str = "start") -> str:
    """Access logs of one of a pipeline's HTTP APIs."""
    return f"/aws/apigateway/{owner(name_prefix, pipeline)}/{api}/access"


def flow_log_group_name(name_prefix: str, pipeline: str) -> str:
    """VPC flow logs of a pipeline's network."""
    return f"/aws/vpc/{owner(name_prefix, pipeline)}/flow-logs"


def rds_log_group_name(identifier: str) -> str:
    """Where RDS exports an instance's PostgreSQL log (the name RDS itself chooses)."""
    return f"/aws/rds/instance/{identifier}/postgresql"


def log_group_arn_patterns(region: str, account_id: str, name_prefix: str, pipeline: str) -> list[str]:
    """ARN patterns matching every log group name above for one pipeline, and no other pipeline's."""
    base = f"arn:aws:logs:{region}:{account_id}:log-group:"
    who = owner(name_prefix, pipeline)
    return [
        f"{base}/aws/*/{who}",  # state machine
        f"{base}/aws/*/{who}-*",  # functions (<owner>-<function>)
        f"{base}/aws/*/{who}/*",  # API access logs, flow logs, RDS (<identifier> is the owner)
    ]
