"""OperatorRole: the role people (or their CI) assume to run a pipeline and read what it did.

Assumable only by the IAM principals the stack names (``operatorPrincipals``), with MFA where the
principal is a person is theirs to require (a condition on their own policy): the role starts and
redrives executions of the pipeline's state machine, reads their history, reads the pipeline's log
groups, and whatever ``grants`` adds (its bucket's outputs, say). It lives under the pipeline's
role path, so the pipeline key lets it decrypt what those grants read, and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components.logs import log_group_arn_patterns
from infra.components.stack import PipelineOwner

# The tag by which the rule pack knows a role is trusted to people, not to an AWS service (SW-IAM1).
OPERATOR_TAG = "stepworks:assumed-by"
SESSION_S = 3600


def operator_trust(principals: Sequence[str]) -> str:
    """Only the named principals may assume the role (pure)."""
    statement = {"Effect": "Allow", "Principal": {"AWS": sorted(principals)}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]}, indent=2)


def operator_grants(owner: PipelineOwner, state_machine_arn: pulumi.Input[str]) -> list[g.Grant]:
    """Start, redrive and follow the machine's executions; read the pipeline's logs."""
    stack = owner.stack
    executions = stack.arn("states", f"execution:{stack.owner(owner.pipeline)}:*")
    patterns = pulumi.Output.from_input(stack.account_id).apply(
        lambda account: [
            f"{p}:*" for p in log_group_arn_patterns(stack.region, account, stack.name_prefix, owner.pipeline)
        ]
    )
    log_groups = [patterns.apply(lambda names, n=n: names[n]) for n in range(3)]
    return [
        g.Grant(
            "RunExecutions", ("states:StartExecution", "states:ListExecutions", "states:DescribeStateMachine"),
            [state_machine_arn],
        ),
        g.Grant(
            "FollowExecutions", ("states:DescribeExecution", "states:GetExecutionHistory", "states:RedriveExecution"),
            [executions],
        ),
        g.Grant(
            "ReadLogs", ("logs:DescribeLogStreams", "logs:GetLogEvents", "logs:FilterLogEvents"),
            log_groups,
        ),
    ]  # fmt: skip


@dataclass
class OperatorRoleArgs:
    """Who may assume the role and what it may do beyond running the pipeline."""

    owner: PipelineOwner
    principals: Sequence[str]
    state_machine_arn: pulumi.Input[str]
    grants: Sequence[g.Grant] = field(default_factory=list)


class OperatorRole(pulumi.ComponentResource):
    """The pipeline's operator role and its inline policy."""

    def __init__(self, name: str, args: OperatorRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:OperatorRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        owner = args.owner
        self.role = aws.iam.Role(
            f"{name}-role",
            path=owner.role_path,
            assume_role_policy=operator_trust(args.principals),
            max_session_duration=SESSION_S,
            description=f"Operators of {owner.pipeline}: run it, follow its executions, read what it wrote",
            tags={**owner.tags, OPERATOR_TAG: "operators"},
            opts=child,
        )
        grants = [*operator_grants(owner, args.state_machine_arn), *args.grants]
        self.policy = aws.iam.RolePolicy(
            f"{name}-policy", role=self.role.id, policy=g.policy_document(grants), opts=child
        )
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})
