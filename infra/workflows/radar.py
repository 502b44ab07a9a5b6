"""The radar pipeline: org registry → envelope-encrypted → decrypt → active orgs → Map per org
(Cloudflare Radar fetch → data.json + data.csv in S3) → summary. Run daily by a schedule."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra.components import grants as g
from infra.components.pipeline import FunctionRuntime, FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs
from infra.components.triggers import Schedule, ScheduleArgs
from infra.config import ConfigError, Section, StackConfig

PIPELINE = "radar"
REGISTRY_KEY = "config/orgs.json"
STAGING_PREFIX = "staging/"
DEFAULT_API_BASE_URL = "https://api.cloudflare.com/client/v4"
KNOWN_QUERIES = ("ranking", "device_type", "asn")


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
    memory_mb: int = 512
    timeout_s: int = 120
    staging_expiration_days: int = 7

    @classmethod
    def from_section(cls, section: Section) -> RadarSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(
            [
                "schedule",
                "timezone",
                "maxConcurrency",
                "queries",
                "providerUrl",
                "organizations",
                "apiBaseUrl",
                "memory",
                "timeout",
                "stagingExpirationDays",
            ]
        )
        queries = section.string_list("queries", KNOWN_QUERIES)
        for query in queries:
            if query not in KNOWN_QUERIES:
                raise ConfigError(
                    f'{section.key("queries")}: unknown query "{query}"; allowed: {", ".join(KNOWN_QUERIES)}'
                )
        organizations = section.raw("organizations", [])
        if not isinstance(organizations, list) or not all(isinstance(o, dict) for o in organizations):
            raise ConfigError(f"{section.key('organizations')}: must be a list of objects (the org registry)")
        provider_url = section.string("providerUrl")
        if provider_url is not None and not provider_url.startswith(("https://", "http://127.0.0.1")):
            raise ConfigError(f'{section.key("providerUrl")}: "{provider_url}" is not allowed; allowed: an https URL')
        return cls(
            schedule=section.schedule(default="cron(0 6 * * ? *)"),
            timezone=section.timezone(),
            max_concurrency=section.integer("maxConcurrency", 4, 1, 40),
            queries=queries,
            provider_url=provider_url,
            organizations=organizations,
            api_base_url=section.string("apiBaseUrl", DEFAULT_API_BASE_URL),
            memory_mb=section.memory_mb(default=512),
            timeout_s=section.timeout_s(default=120),
            staging_expiration_days=section.integer("stagingExpirationDays", 7, 1, 365),
        )


def _task(
    refs: Mapping[str, str],
    key: str,
    next_state: str | None,
    payload: dict,
    result_path: str | None,
    catch_to: str,
    timeout_s: int,
) -> dict[str, Any]:
    return asl.lambda_task(
        refs[key],
        next_state=next_state,
        payload=payload,
        timeout_s=timeout_s,
        catch_to=catch_to,
        result_path=result_path,
        result_selector={"value.$": "$.Payload"} if result_path not in (None, "$") else None,
    )


def definition(refs: Mapping[str, str]) -> dict[str, Any]:
    """The radar state machine, given its function ARNs and ``maxConcurrency``/``taskTimeout``."""
    timeout = int(refs["taskTimeout"])
    execution = {"execution.$": "$$.Execution.Id", "timestamp.$": "$.timestamp"}
    org_processor = {
        "ProcessorConfig": {"Mode": "INLINE"},
        "StartAt": "CloudflareFetchHandler",
        "States": {
            "CloudflareFetchHandler": _task(
                refs,
                "fetch",
                "FoundInRadar",
                {"org.$": "$.org", "timestamp.$": "$.timestamp"},
                "$.fetched",
                "RecordOrgFailure",
                timeout,
            ),
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
            "PrepareDataToFiles": _task(
                refs,
                "prepare",
                None,
                {"org.$": "$.org", "timestamp.$": "$.timestamp", "fetched.$": "$.fetched.value"},
                "$",
                "RecordOrgFailure",
                timeout,
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
    return {
        "Comment": "Radar: Cloudflare Radar data per organization → data.json and data.csv in S3.",
        "StartAt": "ResolveTimestamp",
        "TimeoutSeconds": 3600,
        "States": {
            # The run's timestamp names its S3 keys: the scheduled time if given, so a retried
            # or redriven run rewrites the same keys.
            "ResolveTimestamp": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.scheduledTime", "IsPresent": True, "Next": "UseScheduledTime"}],
                "Default": "UseStartTime",
            },
            "UseScheduledTime": {
                "Type": "Pass",
                "Parameters": {"timestamp.$": "$.scheduledTime"},
                "Next": "ProviderEndpoint",
            },
            "UseStartTime": {
                "Type": "Pass",
                "Parameters": {"timestamp.$": "$$.Execution.StartTime"},
                "Next": "ProviderEndpoint",
            },
            "ProviderEndpoint": _task(
                refs, "provider", "DecryptionHandler", execution, "$.provider", "Failed", timeout
            ),
            "DecryptionHandler": _task(
                refs,
                "decrypt",
                "ExtractOrgs",
                {**execution, "envelope.$": "$.provider.value.envelope"},
                "$.registry",
                "Failed",
                timeout,
            ),
            "ExtractOrgs": _task(
                refs,
                "extract",
                "FetchEachOrg",
                {"registry.$": "$.registry.value.registry", "timestamp.$": "$.timestamp"},
                "$.orgs",
                "Failed",
                timeout,
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
            "Summary": _task(
                refs,
                "summarize",
                None,
                {"results.$": "$.results", "rejected.$": "$.orgs.value.rejected", "timestamp.$": "$.timestamp"},
                "$",
                "Failed",
                timeout,
            ),
            "Failed": asl.fail_with_cause("Radar run failed"),
        },
    }


class RadarPipeline(pulumi.ComponentResource):
    """Bucket, KMS key, token secret, six functions, the state machine and its daily schedule."""

    def __init__(
        self, name: str, runtime: FunctionRuntime, settings: RadarSettings, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("stepworks:workflows:RadarPipeline", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = {**runtime.tags, "pipeline": PIPELINE}

        self.key = aws.kms.Key(
            f"{name}-key",
            description="radar: registry envelopes and bucket encryption",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            tags=tags,
            opts=child,
        )
        self.bucket = aws.s3.Bucket(f"{name}-data", tags=tags, opts=child)
        self._secure_bucket(name, settings, child)
        self.token = aws.secretsmanager.Secret(
            f"{name}-cloudflare-token",
            description="Cloudflare API token (Radar Read) for the radar pipeline; set its value after deploy",
            kms_key_id=self.key.arn,
            tags=tags,
            opts=child,
        )
        # Envelope keys are only usable under this pipeline's encryption context (envelope.py).
        envelope = {"pipeline": PIPELINE}
        provider_grants: list[g.Grant] = [
            g.kms_use(self.key.arn, ["kms:GenerateDataKey"], "EnvelopeKey", encryption_context=envelope)
        ]
        provider_env: dict[str, pulumi.Input[str]] = {}
        if settings.provider_url:
            self.provider_token = aws.secretsmanager.Secret(
                f"{name}-provider-token",
                description="Bearer token of the radar org-registry provider",
                kms_key_id=self.key.arn,
                tags=tags,
                opts=child,
            )
            provider_grants += [g.secret_read(self.provider_token.arn), g.kms_use(self.key.arn, ["kms:Decrypt"])]
            provider_env = {"PROVIDER_URL": settings.provider_url, "PROVIDER_TOKEN_SECRET_ARN": self.provider_token.arn}
        else:
            self.registry = aws.s3.BucketObjectv2(
                f"{name}-registry",
                bucket=self.bucket.id,
                key=REGISTRY_KEY,
                content=json.dumps({"organizations": settings.organizations}, indent=2),
                content_type="application/json",
                server_side_encryption="aws:kms",
                kms_key_id=self.key.arn,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.encryption]),
            )
            provider_grants += [g.s3_read(self.bucket.arn, REGISTRY_KEY), g.kms_use(self.key.arn, ["kms:Decrypt"])]

        common_env = {
            "PIPELINE_NAME": PIPELINE,
            "BUCKET_NAME": self.bucket.id,
            "KMS_KEY_ID": self.key.arn,
            "REGISTRY_KEY": REGISTRY_KEY,
            "STAGING_PREFIX": STAGING_PREFIX,
            "RADAR_QUERIES": json.dumps(list(settings.queries)),
        }
        # Writing to or reading from an SSE-KMS bucket needs the key as well as the object grant.
        bucket_key = g.kms_use(self.key.arn, ["kms:Decrypt", "kms:GenerateDataKey"], "BucketKey")

        def spec(handler: str, grants: list[g.Grant], env: Mapping[str, pulumi.Input[str]] | None = None):
            return FunctionSpec(
                handler=f"pipelines.radar.handlers.{handler}",
                memory_mb=settings.memory_mb,
                timeout_s=settings.timeout_s,
                environment={**common_env, **(env or {})},
                grants=grants,
            )

        functions = {
            "provider": spec("provider_endpoint", provider_grants, provider_env),
            "decrypt": spec(
                "decrypt_registry",
                [g.kms_use(self.key.arn, ["kms:Decrypt"], "EnvelopeKey", encryption_context=envelope)],
            ),
            "extract": spec("extract_orgs", []),
            "fetch": spec(
                "fetch_radar",
                [g.secret_read(self.token.arn), g.s3_write(self.bucket.arn, STAGING_PREFIX), bucket_key],
                {
                    "RADAR_TOKEN_SECRET_ARN": self.token.arn,
                    "RADAR_API_BASE_URL": settings.api_base_url,
                },
            ),
            "prepare": spec(
                "prepare_files",
                [
                    g.s3_read(self.bucket.arn, STAGING_PREFIX),
                    g.s3_write(self.bucket.arn, "*/data.json", "WriteDataJson"),
                    g.s3_write(self.bucket.arn, "*/data.csv", "WriteDataCsv"),
                    bucket_key,
                ],
            ),
            "summarize": spec("summarize", []),
        }
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                runtime=runtime,
                functions=functions,
                render_definition=definition,
                references={
                    "maxConcurrency": str(settings.max_concurrency),
                    "taskTimeout": str(asl.task_timeout_for(settings.timeout_s)),
                },
            ),
            opts=child,
        )
        self.schedule = Schedule(
            f"{name}-daily",
            ScheduleArgs(
                state_machine_arn=self.pipeline.arn, expression=settings.schedule, timezone=settings.timezone, tags=tags
            ),
            opts=child,
        )
        self.outputs = {
            "bucketName": self.bucket.id,
            "stateMachineArn": self.pipeline.arn,
            "scheduleName": self.schedule.name,
            "tokenSecretArn": self.token.arn,
        }
        self.register_outputs(self.outputs)

    def _secure_bucket(self, name: str, settings: RadarSettings, child: pulumi.ResourceOptions) -> None:
        aws.s3.BucketPublicAccessBlock(
            f"{name}-data-public-access",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        self.encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-data-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="aws:kms", kms_master_key_id=self.key.arn
                    ),
                    bucket_key_enabled=True,
                )
            ],
            opts=child,
        )
        aws.s3.BucketVersioning(
            f"{name}-data-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        aws.s3.BucketPolicy(
            f"{name}-data-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn), indent=2)),
            opts=child,
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-data-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-staging",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=STAGING_PREFIX),
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(
                        days=settings.staging_expiration_days
                    ),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=settings.staging_expiration_days
                    ),
                )
            ],
            opts=child,
        )


def tls_only_policy(bucket_arn: str) -> dict[str, Any]:
    """A bucket policy denying every request not made over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def build(stack: StackConfig, runtime: FunctionRuntime) -> dict[str, pulumi.Output]:
    """Create the radar pipeline from stack config; returns its stack outputs."""
    settings = RadarSettings.from_section(stack.pipeline(PIPELINE))
    return RadarPipeline(PIPELINE, runtime, settings).outputs
