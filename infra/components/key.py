"""PipelineKey: a pipeline's customer-managed KMS key, rotated, with an explicit key policy.

The policy never delegates usage wholesale to IAM (no ``kms:*`` for the account):
- the account administers the key (no cryptographic use: a deployer can manage, not decrypt);
- the pipeline's own roles, recognised by their IAM path (``trust.role_path``), may use it;
- principals of the account may use it only through the AWS services that encrypt the pipeline's
  resources (``kms:ViaService``): an operator storing a token in the pipeline's secret, RDS and
  DynamoDB creating the grants they run on;
- CloudWatch Logs may use it for this pipeline's log groups only (``logs.log_group_arn_patterns``);
- named service principals (EventBridge delivering to an encrypted queue, say) for one source.
IAM policies still have to grant each use (``grants.py``): both sides must say yes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import logs, trust
from infra.components.stack import StackContext, moved_from

ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey",
    "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies", "kms:ListResourceTags", "kms:PutKeyPolicy",
    "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource",
    "kms:UpdateAlias", "kms:UpdateKeyDescription",
)  # fmt: skip
USE_ACTIONS = ("kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey")
# What another pipeline reading this one's data needs of the key (never to encrypt with it).
READ_ACTIONS = ("kms:Decrypt", "kms:DescribeKey")
# The services that encrypt pipeline resources with the key on a caller's behalf.
VIA_SERVICES = ("dynamodb", "rds", "s3", "secretsmanager", "sns", "sqs")
# What CloudWatch Logs needs of a log group's key (the CloudWatch Logs user guide's key policy).
LOGS_ACTIONS = ("kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*")


@dataclass(frozen=True)
class ServiceKeyUse:
    """A service principal allowed to use the key for one source (e.g. an EventBridge rule)."""

    sid: str
    principal: str
    actions: tuple[str, ...]
    source_arn: pulumi.Input[str]


def key_policy(
    account_id: str,
    region: str,
    name_prefix: str,
    pipeline: str,
    service_uses: Sequence[tuple[ServiceKeyUse, str]] = (),
    readers: Sequence[str] = (),
) -> dict[str, Any]:
    """The key policy (pure; ``service_uses`` pairs each use with its resolved source ARN; ``readers``:
    pipelines whose roles may decrypt what this pipeline encrypted, e.g. daily-analysis reading the
    uploads table)."""
    root = {"AWS": f"arn:aws:iam::{account_id}:root"}
    statements: list[dict[str, Any]] = [
        {
            "Sid": "AccountAdministration",
            "Effect": "Allow",
            "Principal": root,
            "Action": list(ADMIN_ACTIONS),
            "Resource": "*",
        },
        {
            "Sid": "PipelineRolesUseKey",
            "Effect": "Allow",
            "Principal": root,
            "Action": list(USE_ACTIONS),
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "aws:PrincipalArn": f"arn:aws:iam::{account_id}:role{trust.role_path(name_prefix, pipeline)}*"
                }
            },
        },
        {
            "Sid": "AccountUseThroughServices",
            "Effect": "Allow",
            "Principal": root,
            "Action": [*USE_ACTIONS, "kms:CreateGrant"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:CallerAccount": account_id,
                    "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in VIA_SERVICES],
                }
            },
        },
        {
            "Sid": "CloudWatchLogsUseKey",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": list(LOGS_ACTIONS),
            "Resource": "*",
            "Condition": {
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": logs.log_group_arn_patterns(
                        region, account_id, name_prefix, pipeline
                    )
                }
            },
        },
    ]
    if readers:
        statements.append(
            {
                "Sid": "ReaderPipelinesDecrypt",
                "Effect": "Allow",
                "Principal": root,
                "Action": list(READ_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "ArnLike": {
                        "aws:PrincipalArn": [
                            f"arn:aws:iam::{account_id}:role{trust.role_path(name_prefix, reader)}*"
                            for reader in readers
                        ]
                    }
                },
            }
        )
    for use, source_arn in service_uses:
        statements.append(
            {
                "Sid": use.sid,
                "Effect": "Allow",
                "Principal": {"Service": use.principal},
                "Action": list(use.actions),
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnLike": {"aws:SourceArn": source_arn},
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass
class PipelineKeyArgs:
    """Whose key it is and which service principals may use it."""

    pipeline: str
    name_prefix: str
    region: str
    account_id: pulumi.Input[str]
    description: str
    service_uses: Sequence[ServiceKeyUse] = ()
    readers: Sequence[str] = ()
    deletion_window_days: int = 30
    # The component that declared the key before it moved here, so `pulumi up` keeps it.
    moved_from: pulumi.Resource | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class PipelineKey(pulumi.ComponentResource):
    """A symmetric KMS key with yearly rotation, the policy above and ``alias/<prefix>-<pipeline>``."""

    def __init__(self, name: str, args: PipelineKeyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:PipelineKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        uses = list(args.service_uses)
        policy = pulumi.Output.all(args.account_id, *[u.source_arn for u in uses]).apply(
            lambda values: json.dumps(
                key_policy(
                    values[0],
                    args.region,
                    args.name_prefix,
                    args.pipeline,
                    list(zip(uses, values[1:], strict=True)),
                    args.readers,
                ),
                indent=2,
            )
        )
        self.key = aws.kms.Key(
            f"{name}-key",
            description=args.description,
            enable_key_rotation=True,
            deletion_window_in_days=args.deletion_window_days,
            policy=policy,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, aliases=moved_from(args.moved_from)),
        )
        self.alias = aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{logs.owner(args.name_prefix, args.pipeline)}",
            target_key_id=self.key.key_id,
            opts=child,
        )
        self.arn = self.key.arn
        self.register_outputs({"arn": self.arn, "alias": self.alias.name})


def pipeline_key(
    stack: StackContext,
    pipeline: str,
    description: str,
    *,
    service_uses: Sequence[ServiceKeyUse] = (),
    readers: Sequence[str] = (),
    moved_from: pulumi.Resource | None = None,
    parent: pulumi.Resource,
) -> PipelineKey:
    """The key of ``pipeline`` (logical name ``<pipeline>-key``), as every workflow declares it."""
    return PipelineKey(
        pipeline,
        PipelineKeyArgs(
            pipeline=pipeline,
            name_prefix=stack.name_prefix,
            region=stack.region,
            account_id=stack.account_id,
            description=description,
            service_uses=service_uses,
            readers=readers,
            moved_from=moved_from,
            tags=stack.tags_for(pipeline),
        ),
        opts=pulumi.ResourceOptions(parent=parent),
    )
