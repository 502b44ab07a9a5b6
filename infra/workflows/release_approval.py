"""The release-approval pipeline: a release request in S3 → three services in parallel → a Jira decision.

ValidateInput (an S3 ``Object Created`` event under ``inputs/``, or ``{"inputKey"}``) → LoadRequest
(the document, schema-checked) → CallServices (Parallel: validation, deployment with an
idempotency key per execution and package, notification) → WaitForJiraCallback (a token task:
the token is stored in DynamoDB under the Jira story, conditionally, and the execution pauses
until ``POST /callbacks/jira`` answers or the wait times out) → RecordOutcome (``outputs/<run>/
result.json`` and ``logs/<run>/execution.log``, written on every ending after the intake, and the
token item closed) → Decide: approved ends SUCCEEDED, anything else FAILED with the reason.

The callback API is a Lambda behind an HTTP API: Jira Automation cannot sign requests, so the
function checks a long shared secret (Secrets Manager) in constant time. With
``referenceServices`` the three services are deployed too (``pipelines/approvals/reference.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra import integrations as i
from infra.components import grants as g
from infra.components.bucket import SecureBucket, SecureBucketArgs
from infra.components.function_api import FunctionApi, FunctionApiArgs
from infra.components.key import pipeline_key
from infra.components.object_trigger import dead_letters_key_use, upload_trigger
from infra.components.operator import OperatorRole, OperatorRoleArgs
from infra.components.pipeline import FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.secret import ApiTokenSecret, ApiTokenSecretArgs
from infra.components.stack import PipelineOwner, StackContext
from infra.components.table import secure_table
from infra.components.triggers import API_ACCESS_KEYS, ApiAccess
from infra.config import FUNCTION_KEYS, ConfigError, FunctionSettings, Section, StackConfig
from infra.workflows.release_reference import ReferenceServices, ReferenceServicesArgs
from pipelines.approvals.errors import (
    HistoryUnavailableError,
    ServiceRateLimitedError,
    ServiceUnavailableError,
    StorageUnavailableError,
    TokenStoreUnavailableError,
)

PIPELINE = "release-approval"
SERVICES = ("validation", "deployment", "notification")
INPUT_PREFIX = "inputs/"
OUTPUT_PREFIX = "outputs/"
LOG_PREFIX = "logs/"
CALLBACK_ROUTE = "POST /callbacks/jira"
RETRYABLE_ERRORS = asl.error_names(
    HistoryUnavailableError, ServiceRateLimitedError, ServiceUnavailableError, StorageUnavailableError,
    TokenStoreUnavailableError,
)  # fmt: skip
# The services' clients retry in-process first (Retry-After honoured); then the task is retried.
SERVICE_RETRY = {"attempts": 2, "interval_s": 5, "backoff": 2.0, "max_delay_s": 60}
# A service call retries within its function (3 tries, Retry-After up to 20 s: about 80 s at worst);
# deployments go one package after another, so a long list needs minutes (a retried task redeploys
# nothing: the keys are derived).
DEFAULT_FUNCTIONS = FunctionSettings(256, 300)
# API Gateway gives an integration 30 s: the callback answers well within it.
CALLBACK_TIMEOUT_S = 25
WAIT_FUNCTION_TIMEOUT_S = 60
DAY_S = 86_400
# What the execution may take beyond the approval wait (the services, the records).
EXECUTION_MARGIN_S = 3600
INTAKE = FunctionSpec("pipelines.approvals.intake.validate_release_input", memory_mb=256, timeout_s=30)


@dataclass(frozen=True)
class ReleaseApprovalSettings:
    """``stepworks:release-approval`` settings."""

    approval_timeout_s: int = DAY_S
    environments: tuple[str, ...] = ("dev", "staging", "prod")
    service_urls: Mapping[str, str] = field(default_factory=dict)  # by service; empty with reference services
    reference_services: bool = False
    jira_base_url: str | None = None
    operator_principals: tuple[str, ...] = ()
    access: ApiAccess = field(default_factory=ApiAccess)
    functions: FunctionSettings = DEFAULT_FUNCTIONS

    @classmethod
    def from_section(cls, section: Section) -> ReleaseApprovalSettings:
        """Validate the section (unknown keys are errors)."""
        url_keys = [f"{service}Url" for service in SERVICES]
        section.reject_unknown(
            [
                "approvalTimeoutSeconds", "environments", *url_keys, "referenceServices", "jiraBaseUrl",
                "operatorPrincipals", *API_ACCESS_KEYS, *FUNCTION_KEYS,
            ]
        )  # fmt: skip
        reference = section.boolean("referenceServices", False)
        urls = {service: section.service_url(f"{service}Url") for service in SERVICES}
        given = [f"{service}Url" for service, url in urls.items() if url]
        if reference and given:
            raise ConfigError(
                f"{section.key(given[0])}: the reference services are deployed (referenceServices: true) and "
                "stand in for the service URLs; unset one or the other"
            )
        missing = [f"{service}Url" for service, url in urls.items() if not url]
        if not reference and missing:
            raise ConfigError(
                f"{section.key(missing[0])}: required (the https base URL of the {missing[0][:-3]} service), "
                "or set referenceServices: true to deploy the reference services"
            )
        environments = section.string_list("environments", ("dev", "staging", "prod"))
        if not environments:
            raise ConfigError(f"{section.key('environments')}: list at least one target environment")
        return cls(
            # Step Functions waits at most a year; a minute is the least a person can answer in.
            approval_timeout_s=section.integer("approvalTimeoutSeconds", DAY_S, 60, 365 * DAY_S),
            environments=environments,
            service_urls={} if reference else {s: u for s, u in urls.items() if u},
            reference_services=reference,
            jira_base_url=section.service_url("jiraBaseUrl"),
            operator_principals=section.iam_principals("operatorPrincipals"),
            access=ApiAccess.from_section(section),
            functions=FunctionSettings.from_section(section, DEFAULT_FUNCTIONS.memory_mb, DEFAULT_FUNCTIONS.timeout_s),
        )


def _service_call(service: str, function_arn: str, task_timeout_s: int) -> dict[str, Any]:
    """One Parallel branch: call ``service`` with the request (retried only on transient errors)."""
    task = i.lambda_invoke(
        function_arn,
        retries=asl.lambda_retries(RETRYABLE_ERRORS, **SERVICE_RETRY),
        # The execution's ARN makes the idempotency keys unique across stacks (the name may repeat).
        payload={"request.$": "$.request", "executionName.$": "$$.Execution.Name", "executionArn.$": "$$.Execution.Id"},
        next_state=None,
        timeout_s=task_timeout_s,
        # A failure fails the branch: the Parallel's Catch records the service's own error and cause.
        catch_to=asl.ENCLOSING_CATCH,
        comment=f"POST to the {service} service with its bearer token (read by ARN).",
    )
    return {"StartAt": f"Call{service.title()}", "States": {f"Call{service.title()}": task}}


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The release-approval state machine, given its function ARNs, timeouts and the token table."""
    task_timeout = int(refs["taskTimeout"])
    wait_timeout = int(refs["approvalTimeout"])
    to_record = {"catch_to": "RecordOutcome"}
    load = i.lambda_invoke(
        refs["load"],
        retries=asl.lambda_retries(RETRYABLE_ERRORS),
        payload={"inputKey.$": "$.inputKey", "versionId.$": "$.versionId", "executionName.$": "$$.Execution.Name"},
        # The state becomes {"request": <the checked request, with its inputKey and versionId>}.
        result_selector={"request.$": "$.Payload"},
        next_state="CallServices",
        timeout_s=task_timeout,
        comment="Reads inputs/<name>.json and checks it against the release request schema.",
        **to_record,
    )
    services = {
        "Type": "Parallel",
        "Comment": "Validation, deployment and notification at once; any failure stops before the wait.",
        "Branches": [_service_call(service, refs[service], task_timeout) for service in SERVICES],
        "ResultPath": "$.services",
        "Next": "WaitForJiraCallback",
        "Catch": asl.catch_all("RecordOutcome"),
    }
    wait = i.lambda_invoke_for_token(
        refs["wait"],
        payload={
            "taskToken.$": "$$.Task.Token",
            "storyId.$": "$.request.storyId",
            "executionArn.$": "$$.Execution.Id",
            "environment.$": "$.request.environment",
            "packages.$": "$.request.packages",
            "requester.$": "$.request.requester",
        },
        retries=asl.lambda_retries(RETRYABLE_ERRORS),
        timeout_s=wait_timeout,
        result_path="$.decision",
        next_state="RecordOutcome",
        # The wait running out is "no decision", told apart from every other failure.
        catches=[asl.catch(["States.Timeout", "States.HeartbeatTimeout"], "RecordOutcome", "$.waitEnded")],
        comment="Stores the token under the Jira story and pauses until POST /callbacks/jira or the timeout.",
        **to_record,
    )
    record = i.lambda_invoke(
        refs["record"],
        retries=asl.lambda_retries(RETRYABLE_ERRORS),
        payload={
            "executionArn.$": "$$.Execution.Id",
            "executionName.$": "$$.Execution.Name",
            "startedAt.$": "$$.Execution.StartTime",
            "input.$": "$$.Execution.Input",
            "state.$": "$",
        },
        result_path="$.outcome",
        next_state="Decide",
        timeout_s=task_timeout,
        catch_to="RecordFailed",
        comment="Writes outputs/<run>/result.json and logs/<run>/execution.log; closes the token item.",
    )
    document = {
        "Comment": "Release approval: request → services → Jira decision → results and log in S3.",
        "StartAt": "ValidateInput",
        "TimeoutSeconds": wait_timeout + EXECUTION_MARGIN_S,
        "States": {
            "ValidateInput": i.validate_input(
                refs["validate"],
                retries=asl.lambda_retries(RETRYABLE_ERRORS),  # the intake raises none of them
                next_state="LoadRequest",
                timeout_s=60,
                catch_to=asl.INPUT_REJECTED,
                comment="An S3 Object Created event under inputs/, or {inputKey}: answers {inputKey, versionId}.",
            ),
            asl.INPUT_REJECTED: asl.input_rejected(),
            "LoadRequest": load,
            "CallServices": services,
            "WaitForJiraCallback": wait,
            "RecordOutcome": record,
            "Decide": {
                "Type": "Choice",
                "Comment": "Approved ends SUCCEEDED; rejected, no decision or a failure ends FAILED with why.",
                "Choices": [{"Variable": "$.outcome.value.outcome", "StringEquals": "approved", "Next": "Approved"}],
                "Default": "NotApproved",
            },
            "Approved": {"Type": "Succeed"},
            "NotApproved": asl.fail_with_cause(
                "The release was not approved", "$.outcome.value.error", "$.outcome.value.cause"
            ),
            "RecordFailed": asl.fail_with_cause("The outcome could not be recorded"),
        },
    }
    return asl.Definition.of(document)


@dataclass
class ReleaseApprovalPipelineArgs:
    """The stack the pipeline belongs to and its settings."""

    stack: StackContext
    settings: ReleaseApprovalSettings


class ReleaseApprovalPipeline(pulumi.ComponentResource):
    """Key, bucket, token table, secrets, functions, state machine, S3 trigger, callback API, operator role."""

    def __init__(self, name: str, args: ReleaseApprovalPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:ReleaseApprovalPipeline", name, None, opts)
        stack, settings = args.stack, args.settings
        owner = PipelineOwner(stack, PIPELINE)
        tags, child = owner.tags, pulumi.ResourceOptions(parent=self)
        self.key = pipeline_key(
            stack, PIPELINE, "release-approval: bucket, token table, secrets, dead letters, logs",
            service_uses=[dead_letters_key_use(owner)], parent=self,
        )  # fmt: skip
        key_arn = self.key.arn
        self.bucket = bucket = SecureBucket(
            f"{name}-data", SecureBucketArgs(key_arn=key_arn, access_logs=stack.access_logs, tags=tags), opts=child
        )
        self.tokens = token_table(f"{name}-tokens", key_arn, tags, child)
        self.secrets = {
            label: ApiTokenSecret(f"{name}-{label}-token", ApiTokenSecretArgs(what, key_arn, tags=tags), opts=child)
            for label, what in secret_purposes(settings).items()
        }
        service_urls: Mapping[str, pulumi.Input[str]] = settings.service_urls
        self.reference = None
        if settings.reference_services:
            self.reference = ReferenceServices(
                f"{name}-reference", ReferenceServicesArgs(owner, key_arn, self.secrets, settings.access), opts=child
            )
            service_urls = self.reference.urls
        environments, wait_s = ",".join(settings.environments), str(settings.approval_timeout_s)
        tokens = TokenTableGrants(self.tokens.arn, key_arn, {"TOKEN_TABLE_NAME": self.tokens.name})
        jira = self.secrets.get("jira")

        def spec(handler: str, environment, grants: list[g.Grant], timeout_s: int | None = None) -> FunctionSpec:
            module = "callback" if handler == "callback" else "handlers"
            made = function_spec(
                settings.functions, f"pipelines.approvals.{module}.{handler}", environment=environment, grants=grants
            )
            if timeout_s is not None:
                made.timeout_s = min(made.timeout_s, timeout_s)
            return made

        functions = {
            "validate": FunctionSpec(
                INTAKE.handler, INTAKE.memory_mb, INTAKE.timeout_s,
                environment={"BUCKET_NAME": bucket.name, "INPUT_PREFIX": INPUT_PREFIX},
            ),
            "load": spec(
                "load_request",
                {"BUCKET_NAME": bucket.name, "INPUT_PREFIX": INPUT_PREFIX, "ENVIRONMENTS": environments},
                bucket.read(INPUT_PREFIX, "ReadInputs", versions=True),
            ),
            **{
                service: spec(
                    f"call_{service}",
                    {"SERVICE_URL": service_urls[service], "TOKEN_SECRET_ARN": self.secrets[service].arn},
                    self.secrets[service].read(),
                )
                for service in SERVICES
            },
            "wait": spec(
                "wait_for_callback",
                {
                    **tokens.environment, "WAIT_TIMEOUT_SECONDS": wait_s,
                    **({"JIRA_BASE_URL": settings.jira_base_url, "JIRA_TOKEN_SECRET_ARN": jira.arn} if jira else {}),
                },
                [*tokens.read(), *tokens.write("dynamodb:PutItem"), *(jira.read() if jira else [])],
                WAIT_FUNCTION_TIMEOUT_S,
            ),
            "record": spec(
                "record_outcome",
                {**tokens.environment, "BUCKET_NAME": bucket.name, "WAIT_TIMEOUT_SECONDS": wait_s},
                [
                    *bucket.write(OUTPUT_PREFIX, "WriteResults"),
                    *bucket.write(LOG_PREFIX, "WriteExecutionLogs"),
                    *tokens.read(), *tokens.write("dynamodb:UpdateItem"),
                    g.execution_history(stack.arn("states", f"execution:{stack.owner(PIPELINE)}:*")),
                ],
            ),
            "callback": spec(
                "callback",
                {**tokens.environment, "CALLBACK_SECRET_ARN": self.secrets["callback"].arn},
                [
                    *tokens.read(), *tokens.write("dynamodb:UpdateItem"),
                    *self.secrets["callback"].read(),  # every version: a rotation needs no downtime
                    g.task_callbacks(),
                ],
                CALLBACK_TIMEOUT_S,
            ),
        }  # fmt: skip
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                stack=stack,
                key_arn=key_arn,
                functions=functions,
                render_definition=definition,
                references={
                    "taskTimeout": str(asl.task_timeout_for(settings.functions.timeout_s)),
                    "approvalTimeout": str(settings.approval_timeout_s),
                },
            ),
            opts=child,
        )
        callback = self.pipeline.functions["callback"]
        self.callbacks = FunctionApi(
            f"{name}-callbacks",
            FunctionApiArgs(
                owner=owner,
                routes={CALLBACK_ROUTE: (callback.name, callback.arn)},
                key_arn=key_arn,
                authentication="a shared secret in the Authorization header, compared in constant time",
                access=settings.access,
            ),
            opts=child,
        )
        self.dead_letters, self.trigger = upload_trigger(
            name, owner, key_arn=self.key.arn, state_machine_arn=self.pipeline.arn, bucket_name=bucket.name,
            prefix=INPUT_PREFIX, parent=self,
        )  # fmt: skip
        self.operator = None
        if settings.operator_principals:
            self.operator = OperatorRole(
                f"{name}-operator",
                OperatorRoleArgs(
                    owner=owner,
                    principals=settings.operator_principals,
                    state_machine_arn=self.pipeline.arn,
                    grants=[
                        *bucket.write(INPUT_PREFIX, "WriteInputs"),
                        *bucket.read(OUTPUT_PREFIX, "ReadResults"),
                        *bucket.read(LOG_PREFIX, "ReadExecutionLogs"),
                        *bucket.list(),
                    ],
                ),
                opts=child,
            )
        self.outputs = {
            "bucketName": bucket.name,
            "uploadPrefix": pulumi.Output.from_input(INPUT_PREFIX),
            "stateMachineArn": self.pipeline.arn,
            "routerArn": self.trigger.router.arn,
            "callbackUrl": self.callbacks.url("/callbacks/jira"),
            "tokenTableName": self.tokens.name,
            **{f"{label}SecretArn": secret.arn for label, secret in self.secrets.items()},
            "deadLetterQueueUrl": self.dead_letters.url,
            **({"operatorRoleArn": self.operator.role.arn} if self.operator else {}),
            **({"referenceServicesUrl": self.reference.api.endpoint} if self.reference else {}),
        }
        self.register_outputs(self.outputs)


def secret_purposes(settings: ReleaseApprovalSettings) -> dict[str, str]:
    """The pipeline's secrets, by label, with what each holds (all set by an operator after deploy)."""
    purposes = {s: f"stepworks release-approval: bearer token of the {s} service" for s in SERVICES}
    purposes["callback"] = "stepworks release-approval: the shared secret Jira Automation sends (48+ random bytes)"
    if settings.jira_base_url:
        purposes["jira"] = "stepworks release-approval: Jira API token (email:api_token, or a personal access token)"
    return purposes


@dataclass(frozen=True)
class TokenTableGrants:
    """What the token table's users get: its name, and reads and writes with its key."""

    arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    environment: Mapping[str, pulumi.Input[str]]

    def read(self) -> list[g.Grant]:
        return g.table_read(self.arn, self.key_arn, ("dynamodb:GetItem",))

    def write(self, *actions: str) -> list[g.Grant]:
        return g.table_write(self.arn, self.key_arn, actions)


def token_table(
    name: str, key_arn: pulumi.Input[str], tags: Mapping[str, str], opts: pulumi.ResourceOptions
) -> aws.dynamodb.Table:
    """The task tokens by Jira story (``pipelines/approvals/tokens``): CMK, TTL ``expiresAt``, PITR."""
    return secure_table(name, hash_key="storyId", ttl_attribute="expiresAt", key_arn=key_arn, tags=tags, opts=opts)


def build(stack_config: StackConfig, stack: StackContext, built: Mapping[str, Any]) -> pulumi.ComponentResource:
    """Create the release-approval pipeline from stack config; its ``outputs`` are the stack outputs."""
    settings = ReleaseApprovalSettings.from_section(stack_config.pipeline(PIPELINE))
    return ReleaseApprovalPipeline(PIPELINE, ReleaseApprovalPipelineArgs(stack, settings))
