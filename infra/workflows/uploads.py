"""The uploads pipeline: a sales file lands under ``uploads/`` → EventBridge → ETL into daily store summaries.

ValidateInput (the S3 event, checked and reduced to one object write) → LogInput (Pass,
``$.logging``) → ProcessUpload (stream, validate, aggregate, write the store-day summaries
idempotently; ``pipelines/uploads``). The bucket sends its events to EventBridge; the rule
starts a small EXPRESS router that names the run after the object write, so a redelivered event
never starts a second run (``object_trigger.S3ObjectCreated``); events the rule cannot deliver land in
an encrypted dead-letter queue.

Unlike the seed, ProcessUpload retries only what a second try can fix (a store-day written by a
concurrent run, S3 or DynamoDB unavailable): a bad file fails at once, quarantined.
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
from infra.components.bucket import Expiration, SecureBucket, SecureBucketArgs
from infra.components.key import pipeline_key
from infra.components.object_trigger import dead_letters_key_use, upload_trigger
from infra.components.pipeline import FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.stack import PipelineOwner, StackContext
from infra.components.table import secure_table
from infra.config import FUNCTION_KEYS, FunctionSettings, Section, StackConfig
from infra.workflows.dependencies import readers_of
from pipelines.common.errors import UpstreamUnavailableError
from pipelines.uploads.errors import ContributionConflictError
from pipelines.uploads.format import DEFAULT_MAX_FILE_MB
from pipelines.uploads.layout import (
    CONTRIBUTIONS_PREFIX,
    DATE_INDEX,
    DATE_INDEX_PARTITION,
    DATE_INDEX_SORT,
    QUARANTINE_PREFIX,
    REJECTS_PREFIX,
    UPLOAD_PREFIX,
)

PIPELINE = "uploads"
# Transient only: a concurrent run wrote the store-day first (re-read and re-apply), or S3 or
# DynamoDB failed for a while. A bad file (quarantined) is never retried.
RETRYABLE_ERRORS = asl.error_names(ContributionConflictError, UpstreamUnavailableError)
# The seed's schedule: 3 attempts, 2 s apart, doubling (with full jitter here).
PROCESS_RETRY = {"attempts": 3, "interval_s": 2, "backoff": 2.0}
# 1,769 MB is one full vCPU; a 200 MB upload peaks well under 1 GB (~170 MiB RSS with the handler's
# imports: benchmarks/upload_etl.py --with-200mb). 300 s covers an upload at the default maxFileMb
# (256 MB) comfortably: compact JSON, the densest form, is ~87 bytes per line item, so ~3.1M line
# items, ~10 s of ETL at the measured ~300k line items/s (~25 s on a vCPU half as fast). The rest is
# about two DynamoDB round trips per store-day written (a Query, a TransactWriteItems: ~20–30 ms),
# which leaves room for several thousand store-days in one file.
DEFAULT_FUNCTIONS = FunctionSettings(1769, 300)
# The intake's answer, handed to ProcessUpload as is (LogInput's record left out).
OBJECT_WRITE_FIELDS = ("bucket", "key", "versionId", "etag", "size", "sequencer")
INTAKE = FunctionSpec("pipelines.uploads.intake.validate_upload", memory_mb=256, timeout_s=30)


@dataclass(frozen=True)
class UploadsSettings:
    """``stepworks:uploads`` settings."""

    max_reject_ratio: float = 0.01
    max_file_mb: int = DEFAULT_MAX_FILE_MB
    rejects_retention_days: int = 90
    functions: FunctionSettings = DEFAULT_FUNCTIONS

    @classmethod
    def from_section(cls, section: Section) -> UploadsSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(["maxRejectRatio", "maxFileMb", "rejectsRetentionDays", *FUNCTION_KEYS])
        return cls(
            max_reject_ratio=section.fraction("maxRejectRatio", 0.01),
            max_file_mb=section.integer("maxFileMb", DEFAULT_MAX_FILE_MB, 1, 5120),
            rejects_retention_days=section.integer("rejectsRetentionDays", 90, 1, 3653),
            functions=FunctionSettings.from_section(section, DEFAULT_FUNCTIONS.memory_mb, DEFAULT_FUNCTIONS.timeout_s),
        )


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The uploads state machine, given its two function ARNs and ``taskTimeout``."""
    process = i.lambda_invoke(
        refs["process"],
        retries=asl.lambda_retries(RETRYABLE_ERRORS, **PROCESS_RETRY),
        payload={f"{name}.$": f"$.{name}" for name in OBJECT_WRITE_FIELDS},
        next_state=None,
        timeout_s=int(refs["taskTimeout"]),
        catch_to="Failed",
        comment="Loads the object version into the store-day summaries, or quarantines it and fails.",
    )
    return asl.Definition.of(
        {
            "Comment": "Uploads: a sales file under uploads/ → daily store summaries in DynamoDB.",
            "StartAt": "ValidateInput",
            "TimeoutSeconds": 3600,
            "States": {
                "ValidateInput": i.validate_input(
                    refs["validate"],
                    retries=asl.lambda_retries(RETRYABLE_ERRORS),  # the intake raises none of them
                    next_state="LogInput",
                    timeout_s=60,
                    catch_to=asl.INPUT_REJECTED,
                    comment="Checks the S3 Object Created event; answers {bucket, key (decoded), versionId, …}.",
                ),
                asl.INPUT_REJECTED: asl.input_rejected(),
                "LogInput": {
                    "Type": "Pass",
                    "Comment": "Records which object write this run processes, and when it was started.",
                    "Parameters": {
                        "object.$": "States.Format('s3://{}/{}', $.bucket, $.key)",
                        "etag.$": "$.etag",
                        "size.$": "$.size",
                        "execution.$": "$$.Execution.Name",
                        "startedAt.$": "$$.Execution.StartTime",
                    },
                    "ResultPath": "$.logging",
                    "Next": "ProcessUpload",
                },
                "ProcessUpload": process,
                "Failed": asl.fail_with_cause("The upload was not loaded"),
            },
        }
    )


@dataclass
class UploadsPipelineArgs:
    """The stack the pipeline belongs to and its settings."""

    stack: StackContext
    settings: UploadsSettings = field(default_factory=UploadsSettings)
    # Pipelines that read the summaries (daily-analysis): their roles may decrypt with the key.
    readers: tuple[str, ...] = ()


class UploadsPipeline(pulumi.ComponentResource):
    """Key, bucket, summaries table, two functions, the state machine and the S3 → EventBridge trigger."""

    def __init__(self, name: str, args: UploadsPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:UploadsPipeline", name, None, opts)
        stack, settings = args.stack, args.settings
        owner = PipelineOwner(stack, PIPELINE)
        tags = owner.tags
        child = pulumi.ResourceOptions(parent=self)
        self.key = pipeline_key(
            stack, PIPELINE, "uploads: bucket, summaries table, dead letters, logs",
            service_uses=[dead_letters_key_use(owner)], readers=args.readers, parent=self,
        )  # fmt: skip
        retention = settings.rejects_retention_days
        self.bucket = SecureBucket(
            f"{name}-data",
            SecureBucketArgs(
                key_arn=self.key.arn,
                access_logs=stack.access_logs,
                # Uploads, and the contributions the totals are made of, are kept: a correction
                # subtracts its predecessor's contribution, however old.
                expirations=[
                    Expiration("expire-rejects", REJECTS_PREFIX, retention),
                    Expiration("expire-quarantine", QUARANTINE_PREFIX, retention),
                ],
                tags=tags,
            ),
            opts=child,
        )
        self.table = summaries_table(f"{name}-summaries", self.key.arn, tags, child)
        bucket, table_arn = self.bucket, self.table.arn
        process_grants = [
            *bucket.read(UPLOAD_PREFIX, "ReadUploads", versions=True),
            *bucket.list(),
            *bucket.read(CONTRIBUTIONS_PREFIX, "ReadContributions"),
            *bucket.write(CONTRIBUTIONS_PREFIX, "WriteContributions"),
            *bucket.write(REJECTS_PREFIX, "WriteRejects"),
            *bucket.delete(REJECTS_PREFIX, "DeleteStaleRejects"),
            *bucket.write(QUARANTINE_PREFIX, "WriteQuarantine", multipart=True),
            *summary_table_grants(table_arn, self.key.arn),
        ]
        functions = {
            "validate": FunctionSpec(
                INTAKE.handler,
                INTAKE.memory_mb,
                INTAKE.timeout_s,
                environment={"UPLOAD_BUCKET": bucket.name, "UPLOAD_PREFIX": UPLOAD_PREFIX},
            ),
            "process": function_spec(
                settings.functions,
                "pipelines.uploads.handlers.process_upload",
                environment={
                    "SUMMARY_TABLE_NAME": self.table.name,
                    "MAX_FILE_MB": str(settings.max_file_mb),
                    "MAX_REJECT_RATIO": repr(settings.max_reject_ratio),
                },
                grants=process_grants,
            ),
        }
        self.pipeline = StepFunctionPipeline(
            name,
            StepFunctionPipelineArgs(
                pipeline=PIPELINE,
                stack=stack,
                key_arn=self.key.arn,
                functions=functions,
                render_definition=definition,
                references={"taskTimeout": str(asl.task_timeout_for(settings.functions.timeout_s))},
            ),
            opts=child,
        )
        self.dead_letters, self.trigger = upload_trigger(
            name, owner, key_arn=self.key.arn, state_machine_arn=self.pipeline.arn, bucket_name=bucket.name,
            prefix=UPLOAD_PREFIX, parent=self,
        )  # fmt: skip
        self.outputs = {
            "bucketName": bucket.name,
            "uploadPrefix": pulumi.Output.from_input(UPLOAD_PREFIX),
            "stateMachineArn": self.pipeline.arn,
            "routerArn": self.trigger.router.arn,
            "summaryTableName": self.table.name,
            "summaryDateIndex": pulumi.Output.from_input(DATE_INDEX),
            "deadLetterQueueUrl": self.dead_letters.url,
        }
        self.register_outputs(self.outputs)


def summaries_table(
    name: str, key_arn: pulumi.Input[str], tags: Mapping[str, str], opts: pulumi.ResourceOptions
) -> aws.dynamodb.Table:
    """The store-day summaries (``pipelines/uploads/layout``): pk/sk, GSI ``byDate``, CMK, point-in-time recovery."""
    index = (DATE_INDEX, DATE_INDEX_PARTITION, DATE_INDEX_SORT)
    return secure_table(name, hash_key="pk", range_key="sk", indexes=[index], key_arn=key_arn, tags=tags, opts=opts)


def summary_table_grants(table_arn: pulumi.Input[str], key_arn: pulumi.Input[str]) -> list[g.Grant]:
    """What the write plan (``pipelines/uploads/store``) does: consistent reads, transactional puts and deletes."""
    return [
        *g.table_read(table_arn, key_arn, ("dynamodb:GetItem", "dynamodb:Query")),
        *g.table_write(table_arn, key_arn, ("dynamodb:PutItem", "dynamodb:DeleteItem")),
    ]


def build(stack_config: StackConfig, stack: StackContext, built: Mapping[str, Any]) -> pulumi.ComponentResource:
    """Create the uploads pipeline from stack config; its ``outputs`` are the stack outputs."""
    settings = UploadsSettings.from_section(stack_config.pipeline(PIPELINE))
    readers = tuple(readers_of(PIPELINE, stack_config.enabled_pipelines))
    return UploadsPipeline(PIPELINE, UploadsPipelineArgs(stack, settings, readers))
