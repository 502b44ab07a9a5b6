"""The radar pipeline: org registry → envelope-encrypted → decrypt → active orgs → Map per org
(Cloudflare Radar fetch → data.json + data.csv in S3) → summary. Run daily by a schedule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import asl
from infra import integrations as i
from infra.components import grants as g
from infra.components.bucket import Expiration, SecureBucket, SecureBucketArgs
from infra.components.key import pipeline_key
from infra.components.pipeline import StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.secret import ApiTokenSecret, ApiTokenSecretArgs
from infra.components.stack import PipelineOwner, StackContext
from infra.components.triggers import Schedule, ScheduleArgs
from infra.config import FUNCTION_KEYS, ConfigError, FunctionSettings, Section, StackConfig
from pipelines.common.errors import RateLimitedError, UpstreamUnavailableError

PIPELINE = "radar"
REGISTRY_KEY = "config/orgs.json"
STAGING_PREFIX = "staging/"
DEFAULT_API_BASE_URL = "https://api.cloudflare.com/client/v4"
KNOWN_QUERIES = ("ranking", "device_type", "asn")
# The registry provider and Cloudflare (outages, 429) and KMS (envelope keys) can fail for a while.
RETRYABLE_ERRORS = asl.error_names(UpstreamUnavailableError, RateLimitedError)
# Envelope keys are only usable under this pipeline's encryption context (pipelines/radar/envelope.py).
ENVELOPE_CONTEXT = {"pipeline": PIPELINE}


@dataclass(frozen=True)
class RadarSettings:
    """``stepworks:radar`` settings."""

    schedule: str = "cron(0 6 * * ? *)"
    timezone: str = "UTC"
    max_concurrency: int = 4
    queries: tuple[str, ...] = KNOWN_QUERIES
    provider_url: str | None = None
    organizations: list[dict[str, Any]] = field(default_factory=list)
    api_base_url: str = DEFAULT_API_BASE_URL
    functions: FunctionSettings = field(default_factory=lambda: FunctionSettings(512, 120))
    staging_expiration_days: int = 7

    @classmethod
    def from_section(cls, section: Section) -> RadarSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(
            [
                *("schedule", "timezone", "maxConcurrency", "queries", "providerUrl", "organizations"),
                *("apiBaseUrl", "stagingExpirationDays", *FUNCTION_KEYS),
            ]
        )
        organizations = section.raw("organizations", [])
        if not isinstance(organizations, list) or not all(isinstance(o, dict) for o in organizations):
            raise ConfigError(f"{section.key('organizations')}: must be a list of objects (the org registry)")
        return cls(
            schedule=section.schedule(default="cron(0 6 * * ? *)"),
            timezone=section.timezone(),
            max_concurrency=section.integer("maxConcurrency", 4, 1, 40),
            queries=section.string_list("queries", KNOWN_QUERIES, allowed=KNOWN_QUERIES),
            provider_url=section.service_url("providerUrl"),
            organizations=organizations,
            api_base_url=section.service_url("apiBaseUrl", DEFAULT_API_BASE_URL),
            functions=FunctionSettings.from_section(section, 512, 120),
            staging_expiration_days=section.integer("stagingExpirationDays", 7, 1, 365),
        )


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The radar state machine, given its function ARNs and ``maxConcurrency``/``taskTimeout``."""
    timeout = int(refs["taskTimeout"])
    retries = asl.lambda_retries(RETRYABLE_ERRORS)

    def task(key: str, next_state: str | None, payload: dict, result_path: str, catch_to: str) -> asl.Task:
        return i.lambda_invoke(
            refs[key], retries=retries, payload=payload, result_path=result_path, next_state=next_state,
            timeout_s=timeout, catch_to=catch_to,
        )  # fmt: skip

    intake = i.validate_input(
        refs["validate"], retries=retries, next_state="ResolveTimestamp", timeout_s=timeout,
        catch_to=asl.INPUT_REJECTED, comment="Checks the input: {} or {scheduledTime}.",
    )  # fmt: skip
    execution = {"execution.$": "$$.Execution.Id", "timestamp.$": "$.timestamp"}
    org = {"org.$": "$.org", "timestamp.$": "$.timestamp"}
    org_processor = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "CloudflareFetchHandler",
        "States": {
            "CloudflareFetchHandler": task("fetch", "FoundInRadar", org, "$.fetched", "RecordOrgFailure"),
            "FoundInRadar": {
                "Type": "Choice",
                "Choices": [
                    {"Variable": "$.fetched.value.status", "StringEquals": "not_found", "Next": "RecordNotFound"}
                ],
                "Default": "PrepareDataToFiles",
            },
            "RecordNotFound": {
                "Type": "Pass",
                "Parameters": {"orgId.$": "$.org.orgId", "status": "not_found"},
                "End": True,
            },
            "PrepareDataToFiles": task(
                "prepare", None, {**org, "fetched.$": "$.fetched.value"}, "$", "RecordOrgFailure"
            ),
            # One org's failure is recorded, never raised, so every other org's files are written.
            "RecordOrgFailure": {
                "Type": "Pass",
                "Parameters": {
                    "orgId.$": "$.org.orgId",
                    "status": "failed",
                    "error.$": "$.error.Error",
                    "cause.$": "$.error.Cause",
                },
                "End": True,
            },
        },
    }
    return asl.Definition.of(
        {
            "Comment": "Radar: Cloudflare Radar data per organization → data.json and data.csv in S3.",
            "StartAt": "ValidateInput",
            "TimeoutSeconds": 3600,
            "States": {
                "ValidateInput": intake,
                asl.INPUT_REJECTED: asl.input_rejected(),
                # The run's timestamp names its S3 keys: the scheduled time if given, so a retried
                # or redriven run rewrites the same keys.
                "ResolveTimestamp": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.scheduledTime", "IsPresent": True, "Next": "UseScheduledTime"}],
                    "Default": "UseStartTime",
                },
                "UseScheduledTime": asl.pass_state({"timestamp.$": "$.scheduledTime"}, "ProviderEndpoint"),
                "UseStartTime": asl.pass_state({"timestamp.$": "$$.Execution.StartTime"}, "ProviderEndpoint"),
                "ProviderEndpoint": task("provider", "DecryptionHandler", execution, "$.provider", "Failed"),
                "DecryptionHandler": task(
                    "decrypt",
                    "ExtractOrgs",
                    {**execution, "envelope.$": "$.provider.value.envelope"},
                    "$.registry",
                    "Failed",
                ),
                "ExtractOrgs": task(
                    "extract",
                    "FetchEachOrg",
                    {"registry.$": "$.registry.value.registry", "timestamp.$": "$.timestamp"},
                    "$.orgs",
                    "Failed",
                ),
                "FetchEachOrg": {
                    "Type": "Map",
                    "ItemsPath": "$.orgs.value.orgs",
                    "ItemSelector": {"org.$": "$$.Map.Item.Value", "timestamp.$": "$.timestamp"},
                    "MaxConcurrency": int(refs["maxConcurrency"]),
                    "ItemProcessor": org_processor,
                    "ResultPath": "$.results",
                    "Catch": asl.catch_all("Failed"),
                    "Next": "Summary",
                },
                "Summary": task(
                    "summarize",
                    None,
                    {"results.$": "$.results", "rejected.$": "$.orgs.value.rejected", "timestamp.$": "$.timestamp"},
                    "$",
                    "Failed",
                ),
                "Failed": asl.fail_with_cause("Radar run failed"),
            },
        }
    )


@dataclass
class RadarPipelineArgs:
    """The stack the pipeline belongs to and its settings."""

    stack: StackContext
    settings: RadarSettings = field(default_factory=RadarSettings)


class RadarPipeline(pulumi.ComponentResource):
    """Key, bucket, token secrets, six functions, the state machine and its daily schedule."""

    def __init__(self, name: str, args: RadarPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:RadarPipeline", name, None, opts)
        stack, settings = args.stack, args.settings
        tags = stack.tags_for(PIPELINE)
        child = pulumi.ResourceOptions(parent=self)
        # moved_from: the key, bucket and secrets were declared directly under this component before.
        self.key = pipeline_key(
            stack, PIPELINE, "radar: registry envelopes, bucket, secrets, logs", moved_from=self, parent=self
        )
        self.bucket = SecureBucket(
            f"{name}-data",
            SecureBucketArgs(
                key_arn=self.key.arn,
                access_logs=stack.access_logs,
                expirations=[Expiration("expire-staging", STAGING_PREFIX, settings.staging_expiration_days)],
                moved_from=self,
                tags=tags,
            ),
            opts=child,
        )

        def token(suffix: str, description: str) -> ApiTokenSecret:
            args = ApiTokenSecretArgs(description, self.key.arn, self, tags)
            return ApiTokenSecret(f"{name}-{suffix}", args, child)

        self.token = token("cloudflare-token", "Cloudflare API token (Radar Read) for the radar pipeline")
        provider_grants = [g.kms_use(self.key.arn, ["kms:GenerateDataKey"], "EnvelopeKey", ENVELOPE_CONTEXT)]
        provider_env: dict[str, pulumi.Input[str]] = {}
        if settings.provider_url:
            self.provider_token = token("provider-token", "Bearer token of the radar org-registry provider")
            provider_grants += self.provider_token.read()
            provider_env = {"PROVIDER_URL": settings.provider_url, "PROVIDER_TOKEN_SECRET_ARN": self.provider_token.arn}
        else:
            registry = json.dumps({"organizations": settings.organizations}, indent=2)
            self.registry = self.bucket.put_object(f"{name}-registry", REGISTRY_KEY, registry, "application/json")
            provider_grants += self.bucket.read(REGISTRY_KEY)

        common_env = {
            "PIPELINE_NAME": PIPELINE,
            "BUCKET_NAME": self.bucket.name,
            "KMS_KEY_ID": self.key.arn,
            "REGISTRY_KEY": REGISTRY_KEY,
            "STAGING_PREFIX": STAGING_PREFIX,
            "RADAR_QUERIES": json.dumps(list(settings.queries)),
        }

        def spec(handler: str, grants: list[g.Grant], env: Mapping[str, pulumi.Input[str]] | None = None):
            environment = {**common_env, **(env or {})}
            return function_spec(
                settings.functions, f"pipelines.radar.handlers.{handler}", environment=environment, grants=grants
            )

        fetch_env = {"RADAR_TOKEN_SECRET_ARN": self.token.arn, "RADAR_API_BASE_URL": settings.api_base_url}
        functions = {
            "validate": function_spec(settings.functions, "pipelines.radar.intake.validate_input"),
            "provider": spec("provider_endpoint", provider_grants, provider_env),
            "decrypt": spec(
                "decrypt_registry", [g.kms_use(self.key.arn, ["kms:Decrypt"], "EnvelopeKey", ENVELOPE_CONTEXT)]
            ),
            "extract": spec("extract_orgs", []),
            "fetch": spec("fetch_radar", [*self.token.read(), *self.bucket.write(STAGING_PREFIX)], fetch_env),
            "prepare": spec(
                "prepare_files",
                [
                    *self.bucket.read(STAGING_PREFIX),
                    *self.bucket.write("*/data.json", "WriteDataJson"),
                    *self.bucket.write("*/data.csv", "WriteDataCsv"),
                ],
            ),
            "summarize": spec("summarize", []),
        }
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                stack=stack,
                key_arn=self.key.arn,
                functions=functions,
                render_definition=definition,
                references={
                    "maxConcurrency": str(settings.max_concurrency),
                    "taskTimeout": str(asl.task_timeout_for(settings.functions.timeout_s)),
                },
            ),
            opts=child,
        )
        self.schedule = Schedule(
            f"{name}-daily",
            ScheduleArgs(
                owner=PipelineOwner(stack, PIPELINE),
                state_machine_arn=self.pipeline.arn,
                expression=settings.schedule,
                timezone=settings.timezone,
            ),
            opts=child,
        )
        self.outputs = {
            "bucketName": self.bucket.name,
            "stateMachineArn": self.pipeline.arn,
            "scheduleName": self.schedule.name,
            "tokenSecretArn": self.token.arn,
        }
        self.register_outputs(self.outputs)


def build(stack_config: StackConfig, stack: StackContext, built: Mapping[str, Any]) -> pulumi.ComponentResource:
    """Create the radar pipeline from stack config; its ``outputs`` are the stack outputs."""
    settings = RadarSettings.from_section(stack_config.pipeline(PIPELINE))
    return RadarPipeline(PIPELINE, RadarPipelineArgs(stack, settings))
