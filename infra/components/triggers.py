"""Triggers that start a state machine: a schedule, an HTTP API route, an S3 upload.

Each trigger owns a role that may only ``states:StartExecution`` on its own state machine.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra import integrations as i
from infra.components import grants as g
from infra.components import logs, trust
from infra.components.pipeline import StepFunctionPipeline, StepFunctionPipelineArgs
from infra.components.stack import PipelineOwner
from infra.config import ConfigError, Section

# The execution input a schedule sends: EventBridge Scheduler substitutes the context
# attribute with the invocation's scheduled time, so a retried delivery carries the same time.
SCHEDULED_TIME_PLACEHOLDER = "<aws.scheduler.scheduled-time>"
SCHEDULE_GROUP = "default"


def _start_execution_role(
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
        self.role, policy = _start_execution_role(
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
        self.role, policy = _start_execution_role(
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
        stack = args.owner.stack
        self.access_logs = logs.encrypted_log_group(
            f"{name}-access-logs",
            logs.LogGroupArgs(
                logs.api_access_log_group_name(stack.name_prefix, args.owner.pipeline, args.label),
                stack.log_retention_days,
                args.key_arn,
                tags,
            ),
            self,
        )
        self.stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=self.access_logs.arn, format=ACCESS_LOG_FORMAT
            ),
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_burst_limit=args.access.throttling_burst_limit,
                throttling_rate_limit=args.access.throttling_rate_limit,
            ),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.route]),
        )
        method, path = args.route_key.split(" ", 1)
        self.method = method
        self.path = path
        self.url = self.api.api_endpoint.apply(lambda endpoint: f"{endpoint}{path}")
        self.register_outputs({"url": self.url})


@dataclass
class S3ObjectCreatedArgs:
    """Start the state machine for every object created under ``prefix`` of ``bucket_name``.

    ``once_per_object``: EventBridge delivers at least once and cannot name the execution it
    starts, so the rule starts a small EXPRESS router instead, which starts the state machine under
    a name hashed from bucket, key, ETag and sequencer: a duplicate event is refused by Step
    Functions (ExecutionAlreadyExists) and ends the router quietly. The router logs, like every
    machine, to a log group under ``key_arn``. ``dead_letter_arn``: an SQS queue for events the
    rule could not deliver (its policy must admit ``events.amazonaws.com`` from the rule, and its key
    EventBridge).
    """

    owner: PipelineOwner
    state_machine_arn: pulumi.Input[str]
    bucket_name: pulumi.Input[str]
    prefix: str
    once_per_object: bool = False
    key_arn: pulumi.Input[str] | None = None
    dead_letter_arn: pulumi.Input[str] | None = None
    # Names the rule ``<owner>-<label>`` (see ``object_rule_arn``: a key or queue policy can name it first).
    label: str = "objects"


def object_rule_name(owner: PipelineOwner, label: str = "objects") -> str:
    """The physical name of an ``S3ObjectCreated`` rule: ``sw-dev-uploads-objects`` (at most 64 characters)."""
    return f"{owner.stack.owner(owner.pipeline)}-{label}"[:64]


def object_rule_arn(owner: PipelineOwner, label: str = "objects") -> pulumi.Output[str]:
    """The rule's ARN before it exists: what a dead-letter queue's key policy admits EventBridge for."""
    return owner.stack.arn("events", f"rule/{object_rule_name(owner, label)}")


# The S3 event fields that identify one write of one object: a redelivered event repeats them all.
OBJECT_WRITE = "$.detail.bucket.name, $.detail.object.key, $.detail.object.etag, $.detail.object.sequencer"
EXECUTION_NAME = f"States.Hash(States.Format('{{}}/{{}}/{{}}/{{}}', {OBJECT_WRITE}), 'SHA-256')"


def object_router_definition(refs: Mapping[str, Any]) -> asl.Definition:
    """Start ``refs["target"]`` with the event, named by the object write it reports (64 hex characters)."""
    start = i.start_execution(
        refs["target"],
        name_path=EXECUTION_NAME,
        already_started_to="AlreadyStarted",
        next_state=None,
        timeout_s=60,
        catch_to="Failed",
        comment="A second event for the same object write finds its name taken.",
    )
    return asl.Definition.of(
        {
            "Comment": "Starts the pipeline once per object write, whatever EventBridge redelivers.",
            "StartAt": "StartOncePerObject",
            "States": {
                "StartOncePerObject": start,
                "AlreadyStarted": {"Type": "Succeed", "Comment": "A redelivered event: its run exists."},
                "Failed": asl.fail_with_cause("Could not start the pipeline"),
            },
        }
    )


def object_created_pattern(bucket_name: str, prefix: str) -> dict[str, Any]:
    """The EventBridge pattern matching Object Created events under ``prefix`` of one bucket."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": prefix}]}},
    }


class S3ObjectCreated(pulumi.ComponentResource):
    """Bucket EventBridge notifications, a rule on a key prefix and a target role."""

    def __init__(self, name: str, args: S3ObjectCreatedArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:S3ObjectCreated", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.notification = aws.s3.BucketNotification(
            f"{name}-notifications", bucket=args.bucket_name, eventbridge=True, opts=child
        )
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=object_rule_name(args.owner, args.label),
            description=f"Object Created under {args.prefix}",
            event_pattern=pulumi.Output.from_input(args.bucket_name).apply(
                lambda bucket: json.dumps(object_created_pattern(bucket, args.prefix))
            ),
            tags=args.owner.tags,
            opts=child,
        )
        target_arn = args.state_machine_arn
        if args.once_per_object:
            if args.key_arn is None:
                raise ValueError("once_per_object needs key_arn: the router's log group is encrypted with it")
            self.router = StepFunctionPipeline(
                f"{name}-router",
                StepFunctionPipelineArgs(
                    pipeline=args.owner.pipeline,
                    stack=args.owner.stack,
                    key_arn=args.key_arn,
                    functions={},
                    render_definition=object_router_definition,
                    references={"target": args.state_machine_arn},
                    machine="start",
                    express=True,
                ),
                opts=child,
            )
            target_arn = self.router.arn
        self.role, policy = _start_execution_role(
            f"{name}-target", "events.amazonaws.com", target_arn, args.owner, self, self.rule.arn
        )
        dead_letter = args.dead_letter_arn
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=self.rule.name,
            arn=target_arn,
            role_arn=self.role.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=3, maximum_event_age_in_seconds=3600
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=dead_letter) if dead_letter else None,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"ruleName": self.rule.name})
