"""Trust policies of the roles AWS services assume for stepworks, with confused-deputy conditions.

A trust-policy condition on a key the assuming service does not put in its request context
denies every assumption in AWS (and nothing in the sandbox notices unless it evaluates trust
policies, which ``infra/sandbox/trust.py`` does from this same table). So each service is listed
once with the keys it sets, and where it sets none, the reason the role goes without.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi


@dataclass(frozen=True)
class ServiceTrust:
    """What one service principal puts in the request context when it assumes a role."""

    principal: str
    sets_source_account: bool
    sets_source_arn: bool
    # Where AWS documents it, or why the role goes without a condition.
    basis: str


SERVICES: Mapping[str, ServiceTrust] = {
    s.principal: s
    for s in (
        ServiceTrust(
            "lambda.amazonaws.com",
            True,
            False,
            "Lambda execution roles: AWS's published trust policies for them condition on aws:SourceAccount; "
            "no AWS page says Lambda sets aws:SourceArn when it assumes the execution role, so none is required",
        ),
        ServiceTrust(
            "states.amazonaws.com",
            True,
            True,
            "Step Functions: 'Cross-service confused deputy prevention' (aws:SourceArn is the state machine)",
        ),
        ServiceTrust(
            "scheduler.amazonaws.com",
            True,
            True,
            "EventBridge Scheduler execution role: aws:SourceArn is the schedule group",
        ),
        ServiceTrust(
            "events.amazonaws.com",
            True,
            True,
            "EventBridge rule targets: aws:SourceArn is the rule",
        ),
        ServiceTrust(
            "apigateway.amazonaws.com",
            False,
            False,
            "API Gateway does not set aws:SourceAccount or aws:SourceArn when it assumes an integration's "
            "credentials role; with either condition every request answers 500",
        ),
        ServiceTrust(
            "monitoring.rds.amazonaws.com",
            True,
            True,
            "RDS Enhanced Monitoring role: aws:SourceArn is the DB instance",
        ),
        ServiceTrust(
            "quicksight.amazonaws.com",
            True,
            False,
            "QuickSight reading S3 through a data source's role (S3Parameters.RoleArn): the AWS provider's "
            "documented example for that role conditions on aws:SourceAccount; QuickSight's own pages show the "
            "trust policy without conditions and no AWS page says QuickSight sets aws:SourceArn, so none is required",
        ),
        ServiceTrust(
            "vpc-flow-logs.amazonaws.com",
            True,
            True,
            "VPC Flow Logs delivery role: aws:SourceArn is the flow log (arn:…:vpc-flow-log/*)",
        ),
    )
}


class UnknownServiceError(ValueError):
    """A role is trusted to a service this table does not describe yet."""


def service(principal: str) -> ServiceTrust:
    """The table entry of ``principal``; an error naming the table if it is missing."""
    try:
        return SERVICES[principal]
    except KeyError:
        raise UnknownServiceError(
            f"{principal} is not in infra/components/trust.py SERVICES; add it with the context keys AWS documents"
        ) from None


def trust_document(principal: str, account_id: str, source_arn: str | None = None) -> dict[str, Any]:
    """The trust policy letting ``principal`` assume a role, conditioned on what that service sets.

    ``source_arn`` may hold ``*`` wildcards (matched with ``ArnLike``); it is required for a
    service that sets ``aws:SourceArn`` and ignored for one that does not.
    """
    entry = service(principal)
    conditions: dict[str, dict[str, str]] = {}
    if entry.sets_source_account:
        conditions["StringEquals"] = {"aws:SourceAccount": account_id}
    if entry.sets_source_arn:
        if not source_arn:
            raise ValueError(f"{principal} sets aws:SourceArn: give the ARN (or ARN pattern) of the resource")
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": "sts:AssumeRole",
    }
    if conditions:
        statement["Condition"] = conditions
    return {"Version": "2012-10-17", "Statement": [statement]}


def trust_policy(
    principal: str, account_id: pulumi.Input[str], source_arn: pulumi.Input[str] | None = None
) -> pulumi.Output[str]:
    """``trust_document`` as JSON, from Output inputs."""
    return pulumi.Output.all(account_id, source_arn).apply(
        lambda values: json.dumps(trust_document(principal, values[0], values[1]), indent=2)
    )


def role_path(name_prefix: str, pipeline: str) -> str:
    """The IAM path of every role a pipeline owns (``/sw-dev/radar/``): key policies admit roles by it."""
    return f"/{name_prefix}/{pipeline}/"
