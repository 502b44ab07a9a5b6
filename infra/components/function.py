"""PipelineFunction: one Lambda function with its own least-privilege role and encrypted log group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components import logs, trust

if TYPE_CHECKING:
    from infra.components.operations import PipelineWatch


@dataclass
class VpcPlacement:
    """Private subnets and security groups a function runs in."""

    subnet_ids: pulumi.Input[Sequence[str]]
    security_group_ids: pulumi.Input[Sequence[str]]


@dataclass
class PipelineFunctionArgs:
    """What a function is: its code, handler, sizing, settings and the grants it needs."""

    function_name: str
    handler: str
    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    runtime: str
    architecture: str
    memory_mb: int
    timeout_s: int
    log_retention_days: int
    # The pipeline's key (log group encryption), its roles' IAM path and the account they live in.
    key_arn: pulumi.Input[str]
    role_path: str
    account_id: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    grants: Sequence[g.Grant] = ()
    vpc: VpcPlacement | None = None
    # Unset: the function draws on the account's unreserved pool (see README, reservedConcurrency).
    reserved_concurrency: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # The pipeline's watch (``StackContext.watch``): the function's error and throttle alarms.
    watch: PipelineWatch | None = None


class PipelineFunction(pulumi.ComponentResource):
    """A Lambda function, its log group ``/aws/lambda/<name>``, a role with only its grants, and its alarms."""

    def __init__(self, name: str, args: PipelineFunctionArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:PipelineFunction", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        # Created before the function so Lambda never auto-creates it without a retention or key.
        self.log_group = logs.encrypted_log_group(
            f"{name}-logs",
            logs.LogGroupArgs(
                logs.lambda_log_group_name(args.function_name), args.log_retention_days, args.key_arn, args.tags
            ),
            self,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            path=args.role_path,
            assume_role_policy=trust.trust_policy("lambda.amazonaws.com", args.account_id),
            description=f"Execution role of {args.function_name}",
            tags=dict(args.tags),
            opts=child,
        )
        self.grants: list[g.Grant] = [g.log_group_write(self.log_group.arn), g.xray_write(), *args.grants]
        if args.vpc is not None:
            self.grants.append(g.vpc_networking())
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=self.role.id,
            policy=g.policy_document(self.grants),
            opts=child,
        )
        environment = {
            "POWERTOOLS_SERVICE_NAME": args.function_name,
            **args.environment,
        }
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            role=self.role.arn,
            handler=args.handler,
            runtime=args.runtime,
            architectures=[args.architecture],
            code=args.code,
            layers=list(args.layers),
            memory_size=args.memory_mb,
            timeout=args.timeout_s,
            reserved_concurrent_executions=args.reserved_concurrency,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=self.log_group.name),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                subnet_ids=args.vpc.subnet_ids, security_group_ids=args.vpc.security_group_ids
            )
            if args.vpc
            else None,
            tags=dict(args.tags),
            # The role's policy must exist before the first invocation can succeed.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy, self.log_group]),
        )
        self.arn = self.function.arn
        self.name = self.function.name
        self.alarms = args.watch.function(name, args.function_name, self.name, self) if args.watch else []
        self.register_outputs({"arn": self.arn, "name": self.name, "roleArn": self.role.arn})
