"""Triggers that start a state machine: a schedule and an HTTP API route (an S3 upload: ``object_trigger``).

Each trigger owns a role that may only ``states:StartExecution`` on its own state machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components import grants as g
from infra.components import logs, trust
from infra.components.stack import PipelineOwner
from infra.config import ConfigError, Section

# The execution input a schedule sends: EventBridge Scheduler substitutes the context
# attribute with the invocation's scheduled time, so a retried delivery carries the same time.
SCHEDULED_TIME_PLACEHOLDER = "<aws.scheduler.scheduled-time>"
SCHEDULE_GROUP = "default"


def start_execution_role(
    name: str,
    service: str,
    state_machine_arn: pulumi.Input[str],
    owner: PipelineOwner,
    parent: pulumi.Resource,
    source_arn: pulumi.Input[str] | None = None,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        path=owner.role_path,
        assume_role_policy=trust.trust_policy(service, owner.stack.account_id, source_arn),
        tags=owner.tags,
        opts=child,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-policy", role=role.id, policy=g.policy_document([g.start_execution(state_machine_arn)]), opts=child
    )
    return role, policy


@dataclass
class ScheduleArgs:
    """When and with what input to start the state machine."""

    owner: PipelineOwner
    state_machine_arn: pulumi.Input[str]
    expression: str
    timezone: str = "UTC"
    input: Mapping[str, Any] = field(default_factory=lambda: {"scheduledTime": SCHEDULED_TIME_PLACEHOLDER})
    retry_attempts: int = 3
    max_event_age_s: int = 3600
    enabled: bool = True


class Schedule(pulumi.ComponentResource):
    """An EventBridge Scheduler schedule starting one state machine."""

    def __init__(self, name: str, args: ScheduleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:Schedule", name, None, opts)
        self.role, policy = start_execution_role(
            name,
            "scheduler.amazonaws.com",
            args.state_machine_arn,
            args.owner,
            self,
            # Scheduler names the schedule's group as the source.
            source_arn=args.owner.stack.arn("scheduler", f"schedule-group/{SCHEDULE_GROUP}"),
        )
        self.schedule = aws.scheduler.Schedule(
            f"{name}-schedule",
            schedule_expression=args.expression,
            schedule_expression_timezone=args.timezone,
            group_name=SCHEDULE_GROUP,
            flexible_time_window=aws.scheduler.ScheduleFlexibleTimeWindowArgs(mode="OFF"),
            state="ENABLED" if args.enabled else "DISABLED",
            target=aws.scheduler.ScheduleTargetArgs(
                arn=args.state_machine_arn,
                role_arn=self.role.arn,
                input=json.dumps(dict(args.input)),
                retry_policy=aws.scheduler.ScheduleTargetRetryPolicyArgs(
                    maximum_retry_attempts=args.retry_attempts,
                    maximum_event_age_in_seconds=args.max_event_age_s,
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.name = self.schedule.name
        self.register_outputs({"scheduleName": self.name})


@dataclass
class JwtAuthorization:
    """A JWT authorizer instead of AWS_IAM: the token issuer and accepted audiences."""

    issuer: str
    audience: list[str]


API_ACCESS_KEYS = ("jwtIssuer", "jwtAudience", "throttleBurst", "throttleRate")


@dataclass(frozen=True)
class ApiAccess:
    """Who may call a pipeline's HTTP API (AWS_IAM unless a JWT issuer is configured) and how often."""

    jwt: JwtAuthorization | None = None
    throttling_burst_limit: int = 20
    throttling_rate_limit: int = 10

    @classmethod
    def from_section(cls, section: Section) -> ApiAccess:
        """Read ``jwtIssuer``/``jwtAudience`` (both or neither) and ``throttleBurst``/``throttleRate``."""
        issuer = section.string("jwtIssuer")
        audience = section.string_list("jwtAudience")
        if bool(issuer) != bool(audience):
            missing = "jwtAudience" if issuer else "jwtIssuer"
            raise ConfigError(f"{section.key(missing)}: required with {'jwtIssuer' if issuer else 'jwtAudience'}")
        # Parsed like every URL setting; API Gateway fetches the issuer's keys, so never loopback.
        section.service_url("jwtIssuer", sandbox_loopback=False)
        return cls(
            jwt=JwtAuthorization(issuer, list(audience)) if issuer else None,
            throttling_burst_limit=section.integer("throttleBurst", 20, 1, 5000),
            throttling_rate_limit=section.integer("throttleRate", 10, 1, 10000),
        )


@dataclass
class HttpApiStartArgs:
    """An HTTP API route whose request body becomes the execution input."""

    owner: PipelineOwner
    state_machine_arn: pulumi.Input[str]
    route_key: str
    key_arn: pulumi.Input[str]
    access: ApiAccess = field(default_factory=ApiAccess)
    # Names the API among the pipeline's APIs (its access log group is named by it).
    label: str = "start"


ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "integrationError": "$context.integrationErrorMessage",
        "responseLatency": "$context.responseLatency",
    }
)


def api_stage(
    name: str,
    api: aws.apigatewayv2.Api,
    owner: PipelineOwner,
    key_arn: pulumi.Input[str],
    label: str,
    access: ApiAccess,
    *,
    depends_on: list[pulumi.Resource],
    parent: pulumi.Resource,
) -> tuple[aws.cloudwatch.LogGroup, aws.apigatewayv2.Stage]:
    """An API's ``$default`` stage: auto-deployed, access logs into an encrypted group, throttled, and
    (when the stack has an alarm target) an alarm on its 5xx answers."""
    stack = owner.stack
    access_logs = logs.encrypted_log_group(
        f"{name}-access-logs",
        logs.LogGroupArgs(
            logs.api_access_log_group_name(stack.name_prefix, owner.pipeline, label),
            stack.log_retention_days,
            key_arn,
            owner.tags,
        ),
        parent,
    )
    stage = aws.apigatewayv2.Stage(
        f"{name}-stage",
        api_id=api.id,
        name="$default",
        auto_deploy=True,
        access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
            destination_arn=access_logs.arn, format=ACCESS_LOG_FORMAT
        ),
        default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
            throttling_burst_limit=access.throttling_burst_limit,
            throttling_rate_limit=access.throttling_rate_limit,
        ),
        tags=owner.tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=depends_on),
    )
    watch = stack.watch(owner.pipeline)
    if watch is not None:
        watch.http_api(name, f"{stack.owner(owner.pipeline)}-{label}", api.id, stage.name, parent)
    return access_logs, stage


class HttpApiStart(pulumi.ComponentResource):
    """API Gateway HTTP API with the direct ``StepFunctions-StartExecution`` integration.

    AWS_IAM authorization by default (callers sign requests with SigV4); a JWT authorizer when
    ``jwt`` is given. Access logs and throttling on the ``$default`` stage.
    """

    def __init__(self, name: str, args: HttpApiStartArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:HttpApiStart", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = args.owner.tags
        self.api = aws.apigatewayv2.Api(
            f"{name}-api", protocol_type="HTTP", description=f"Starts {name}", tags=tags, opts=child
        )
        self.role, policy = start_execution_role(
            f"{name}-start", "apigateway.amazonaws.com", args.state_machine_arn, args.owner, self
        )
        self.integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_subtype="StepFunctions-StartExecution",
            credentials_arn=self.role.arn,
            payload_format_version="1.0",
            request_parameters={
                "StateMachineArn": args.state_machine_arn,
                "Input": "$request.body",
                # The request id names the execution, so one request never starts two.
                "Name": "$context.requestId",
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        authorizer_id = None
        if args.access.jwt is not None:
            self.authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=self.api.id,
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=args.access.jwt.issuer, audiences=args.access.jwt.audience
                ),
                opts=child,
            )
            authorizer_id = self.authorizer.id
        self.route = aws.apigatewayv2.Route(
            f"{name}-route",
            api_id=self.api.id,
            route_key=args.route_key,
            target=self.integration.id.apply(lambda i: f"integrations/{i}"),
            authorization_type="JWT" if args.access.jwt else "AWS_IAM",
            authorizer_id=authorizer_id,
            opts=child,
        )
        self.access_logs, self.stage = api_stage(
            name, self.api, args.owner, args.key_arn, args.label, args.access, depends_on=[self.route], parent=self
        )
        method, path = args.route_key.split(" ", 1)
        self.method = method
        self.path = path
        self.url = self.api.api_endpoint.apply(lambda endpoint: f"{endpoint}{path}")
        self.register_outputs({"url": self.url})
