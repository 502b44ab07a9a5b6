"""The daily-analysis pipeline: the store summaries uploads wrote for a date → metrics → statistics
and a Bedrock narrative → a report by e-mail (SNS) → a QuickSight export. Run daily by a schedule.

ValidateInput ({} / {scheduledTime} / {date} → the date) → GetStoreSummaries (a snapshot in S3; the
state carries its count and key) → CheckStoreSummaries (none: NoDataAvailable alert → FailNoData)
→ CalcCompanyMetrics → CalcProductMetrics → BedrockAnalysis (Parallel: DetectAnomalies,
AnalyzeTrends) → GenerateRecommendations → CombineInsights → CheckForBedrockErrors (any section
unavailable: SendBedrockErrorAlert) → GenerateReport → SendDailyReport → ExportToQuickSight.

Statistics decide, the model explains: each Bedrock step computes and stores its findings first,
then asks for the prose. A Bedrock step that still fails after its retries leaves its section
unavailable with the cause, and the run goes on; any other failure sends an alert and fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import asl
from infra import integrations as i
from infra.components import bedrock, trust
from infra.components import grants as g
from infra.components.bucket import Expiration, SecureBucket, SecureBucketArgs
from infra.components.key import pipeline_key
from infra.components.pipeline import FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.stack import PipelineOwner, StackContext
from infra.components.topic import NotificationTopic, NotificationTopicArgs
from infra.components.triggers import Schedule, ScheduleArgs
from infra.config import FUNCTION_KEYS, ConfigError, FunctionSettings, Section, StackConfig, aws_regions
from infra.workflows.dependencies import REQUIRES
from pipelines.analysis.errors import BEDROCK_ERRORS, BedrockUnavailableError
from pipelines.analysis.layout import (
    ANALYSIS_PREFIX,
    CATEGORIES_KEY,
    DATASETS,
    EXPORT_PREFIX,
    HISTORY_PREFIX,
    MANIFEST_PREFIX,
    REPORT_PREFIX,
    SNAPSHOT_PREFIX,
    manifest,
    manifest_key,
)
from pipelines.common.errors import UpstreamUnavailableError
from pipelines.uploads.layout import DATE_INDEX

PIPELINE = "daily-analysis"
(UPSTREAM,) = REQUIRES["daily-analysis"]
# S3 or DynamoDB failing for a while, and Bedrock throttling or not ready: a later try may succeed.
RETRYABLE_ERRORS = asl.error_names(BedrockUnavailableError, UpstreamUnavailableError)
# Bedrock's throttles can last: 4 attempts, 2 s doubling, full jitter, at most 20 s apart.
RETRY = {"attempts": 4, "interval_s": 2, "backoff": 2.0, "max_delay_s": 20}
# What leaves a Bedrock section unavailable (after the retries) instead of failing the run.
UNAVAILABLE_ERRORS = (*(error.__name__ for error in BEDROCK_ERRORS), "States.Timeout")
_QUICKSIGHT_PRINCIPAL = re.compile(r"arn:aws[a-z-]*:quicksight:[a-z0-9-]+:\d{12}:(user|group)/[\w+=,.@/-]{1,256}")
# The snapshot and the metrics readers hold a day of 1,000 stores x 2,000 products well under 1.5 GB
# (benchmarks/daily_metrics.py); 2 GB leaves room.
DEFAULT_FUNCTIONS = FunctionSettings(2048, 300)
# The Bedrock steps and the small ones wait on the network more than they compute.
LIGHT = {"memory_mb": 512, "timeout_s": 180}
INTAKE = FunctionSpec("pipelines.analysis.intake.validate_request", memory_mb=256, timeout_s=30)


def model_target(settings: DailyAnalysisSettings, region: str) -> bedrock.ModelTarget:
    """The configured model (or the region's default) as IAM sees it; a ConfigError naming the key if wrong."""
    try:
        return bedrock.target(settings.model_id or bedrock.default_model(region), settings.model_regions)
    except bedrock.ModelSettingError as exc:
        raise ConfigError(f"stepworks:{PIPELINE}.{exc.setting}: {exc}") from None


def _categories(section: Section) -> dict[str, list[str]]:
    from pipelines.analysis.categories import CategoryMap

    raw = section.raw("categories", {})
    try:
        CategoryMap.from_setting(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{section.key('categories')}: {exc}") from None
    return {name: list(prefixes) for name, prefixes in raw.items()}


@dataclass(frozen=True)
class DailyAnalysisSettings:
    """``stepworks:daily-analysis`` settings."""

    schedule: str = "cron(0 5 * * ? *)"
    timezone: str = "UTC"
    model_id: str | None = None  # None: bedrock.default_model(the stack's region)
    model_regions: tuple[str, ...] = ()
    max_tokens: int = 1024
    bedrock_endpoint_url: str | None = None
    anomaly_weeks: int = 4
    anomaly_z: float = 3.5
    anomaly_min_change: float = 0.3
    product_min_units: int = 20
    top_n: int = 10
    categories: dict[str, list[str]] = field(default_factory=dict)
    alert_emails: tuple[str, ...] = ()
    report_emails: tuple[str, ...] = ()
    quicksight_principal: str | None = None
    snapshot_retention_days: int = 30
    functions: FunctionSettings = DEFAULT_FUNCTIONS

    @classmethod
    def from_section(cls, section: Section) -> DailyAnalysisSettings:
        """Validate the section (unknown keys are errors)."""
        section.reject_unknown(
            [
                *("schedule", "timezone", "modelId", "modelRegions", "maxTokens", "bedrockEndpointUrl"),
                *("anomalyWeeks", "anomalyZ", "anomalyMinChange", "productMinUnits", "topN", "categories"),
                *("alertEmails", "reportEmails", "quicksightPrincipal", "snapshotRetentionDays", *FUNCTION_KEYS),
            ]
        )
        model_id, model_regions = section.string("modelId"), section.string_list("modelRegions", allowed=aws_regions())
        if model_id is not None:  # the default model depends on the region: checked when the stack is built
            model_target(cls(model_id=model_id, model_regions=model_regions), "")
        principal = section.string("quicksightPrincipal")
        if principal is not None and not _QUICKSIGHT_PRINCIPAL.fullmatch(principal):
            raise ConfigError(
                f"{section.key('quicksightPrincipal')}: {principal!r} is not a QuickSight user or group ARN "
                "(arn:aws:quicksight:<region>:<account>:user/default/<name>)"
            )
        return cls(
            schedule=section.schedule(default="cron(0 5 * * ? *)"),
            timezone=section.timezone(),
            model_id=model_id,
            model_regions=model_regions,
            max_tokens=section.integer("maxTokens", 1024, 64, 8192),
            bedrock_endpoint_url=section.service_url("bedrockEndpointUrl"),
            anomaly_weeks=section.integer("anomalyWeeks", 4, 3, 12),
            anomaly_z=section.number("anomalyZ", 3.5, 1, 20),
            anomaly_min_change=section.number("anomalyMinChange", 0.3, 0, 10),
            product_min_units=section.integer("productMinUnits", 20, 0, 1_000_000),
            top_n=section.integer("topN", 10, 1, 50),
            categories=_categories(section),
            alert_emails=section.email_list("alertEmails"),
            report_emails=section.email_list("reportEmails"),
            quicksight_principal=principal,
            snapshot_retention_days=section.integer("snapshotRetentionDays", 30, 1, 3653),
            functions=FunctionSettings.from_section(section, DEFAULT_FUNCTIONS.memory_mb, DEFAULT_FUNCTIONS.timeout_s),
        )


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The daily-analysis state machine, given its function ARNs, its two topics and ``taskTimeout``."""
    timeout = int(refs["taskTimeout"])
    retries = asl.lambda_retries(RETRYABLE_ERRORS, **RETRY)
    alerts, reports = refs["alerts"], refs["reports"]
    day = {"date.$": "$.date"}

    def task(key: str, next_state: str | None, result_path: str | None, payload=None, **extra) -> asl.Task:
        return i.lambda_invoke(
            refs[key],
            retries=retries,
            payload=payload or day,
            result_path=result_path,
            next_state=next_state,
            timeout_s=timeout,
            **{"catch_to": "NotifyFailure", **extra},
        )

    def bedrock_step(key: str, next_state: str | None, result_path: str, unavailable: str, catch_to="NotifyFailure"):
        """A Bedrock step: its named failures, once the retries are spent, make the section unavailable;
        any other error goes to ``catch_to`` (None, in a branch: to the Parallel's Catch)."""
        catches = [asl.catch(UNAVAILABLE_ERRORS, unavailable, "$.error")]
        return task(key, next_state, result_path, catches=catches, catch_to=catch_to)

    def unavailable(section: str, result_path: str, next_state: str | None, wrap: bool = False) -> dict[str, Any]:
        """The section as CombineInsights reads it, unavailable with the caught error (``wrap``: under
        ``value``, where a task with a ``result_path`` puts its function's answer)."""
        params = {"section": section, "available": False, "error.$": "$.error.Error", "cause.$": "$.error.Cause"}
        state = {"Type": "Pass", "Parameters": {"value": params} if wrap else params, "ResultPath": result_path}
        return asl.chain(state, next_state)

    def branch(state: str, key: str, section: str) -> dict[str, Any]:
        fallback = f"{state}Unavailable"
        return {
            "StartAt": state,
            "States": {
                # Only a branch's own states are in reach: other errors fail the branch, and so the
                # Parallel, whose Catch alerts and fails the run.
                state: bedrock_step(key, None, "$", fallback, catch_to=None),
                fallback: unavailable(section, "$", None),
            },
        }

    return asl.Definition.of(
        {
            "Comment": "Daily analysis: summaries → metrics → anomalies, trends (Bedrock explains) → report → export.",
            "StartAt": "ValidateInput",
            "TimeoutSeconds": 3600,
            "States": {
                "ValidateInput": i.validate_input(
                    refs["validate"],
                    retries=retries,
                    next_state="GetStoreSummaries",
                    timeout_s=60,
                    catch_to=asl.INPUT_REJECTED,
                    comment="{} / {scheduledTime} / {date} → {date}.",
                ),
                asl.INPUT_REJECTED: asl.input_rejected(),
                "GetStoreSummaries": task(
                    "summaries", "CheckStoreSummaries", "$.summaries", result_selector={"count.$": "$.Payload.count"}
                ),
                "CheckStoreSummaries": {
                    "Type": "Choice",
                    "Choices": [{"Variable": "$.summaries.count", "NumericEquals": 0, "Next": "NoDataAvailable"}],
                    "Default": "CalcCompanyMetrics",
                },
                "NoDataAvailable": i.sns_publish(
                    alerts,
                    message_path="States.Format('daily-analysis found no store summaries for {} (execution {}). "
                    "Check that the sales files of that day were uploaded and loaded.', $.date, $$.Execution.Name)",
                    subject_path="States.Format('stepworks daily-analysis: no store summaries for {}', $.date)",
                    result_path=None,
                    next_state="FailNoData",
                    timeout_s=60,
                    catch_to="NotifyFailure",
                ),
                "FailNoData": {
                    "Type": "Fail",
                    "Error": "NoDataAvailable",
                    "Cause": "No store summaries for the date: nothing to analyse (an alert was sent).",
                },
                "CalcCompanyMetrics": task("company", "CalcProductMetrics", "$.company"),
                "CalcProductMetrics": task("products", "BedrockAnalysis", "$.products"),
                "BedrockAnalysis": {
                    "Type": "Parallel",
                    "Comment": "Statistics decide (stored first), Bedrock explains; a section can be unavailable.",
                    "Branches": [
                        branch("DetectAnomalies", "anomalies", "anomalies"),
                        branch("AnalyzeTrends", "trends", "trends"),
                    ],
                    "ResultPath": "$.analysis",
                    "Catch": asl.catch_all("NotifyFailure"),
                    "Next": "GenerateRecommendations",
                },
                "GenerateRecommendations": bedrock_step(
                    "recommend", "CombineInsights", "$.recommendations", "RecommendationsUnavailable"
                ),
                "RecommendationsUnavailable": unavailable(
                    "recommendations", "$.recommendations", "CombineInsights", wrap=True
                ),
                "CombineInsights": task(
                    "combine",
                    "CheckForBedrockErrors",
                    "$.insights",
                    payload={
                        **day,
                        "analysis.$": "$.analysis",
                        "recommendations.$": "$.recommendations.value",
                        "execution.$": "$$.Execution.Name",
                    },
                ),
                "CheckForBedrockErrors": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": "$.insights.value.bedrockFailed",
                            "BooleanEquals": True,
                            "Next": "SendBedrockErrorAlert",
                        }
                    ],
                    "Default": "GenerateReport",
                },
                "SendBedrockErrorAlert": i.sns_publish(
                    alerts,
                    message_path="$.insights.value.alert.message",
                    subject_path="$.insights.value.alert.subject",
                    result_path=None,
                    next_state="GenerateReport",
                    timeout_s=60,
                    catch_to="NotifyFailure",
                ),
                "GenerateReport": task("report", "SendDailyReport", "$.report"),
                "SendDailyReport": i.sns_publish(
                    reports,
                    message_path="$.report.value.message",
                    subject_path="$.report.value.subject",
                    result_path=None,
                    next_state="ExportToQuickSight",
                    timeout_s=60,
                    catch_to="NotifyFailure",
                ),
                "ExportToQuickSight": task("export", None, "$.export"),
                "NotifyFailure": i.sns_publish(
                    alerts,
                    message_path="States.Format('daily-analysis failed (execution {}): {}: {}', "
                    "$$.Execution.Name, $.error.Error, $.error.Cause)",
                    subject="stepworks daily-analysis failed",
                    result_path=None,
                    next_state="Failed",
                    timeout_s=60,
                    catch_to="Failed",
                ),
                "Failed": asl.fail_with_cause("The daily analysis failed (an alert was sent)"),
            },
        }
    )


@dataclass
class DailyAnalysisPipelineArgs:
    """The stack, the uploads pipeline whose summaries it reads, and its settings."""

    stack: StackContext
    summaries_table_name: pulumi.Input[str]
    summaries_table_arn: pulumi.Input[str]
    summaries_key_arn: pulumi.Input[str]
    summaries_index: str
    settings: DailyAnalysisSettings = field(default_factory=DailyAnalysisSettings)


class DailyAnalysisPipeline(pulumi.ComponentResource):
    """Key, bucket, two topics, nine functions, the state machine, its daily schedule and, with a
    QuickSight principal, one QuickSight data source per exported dataset."""

    def __init__(self, name: str, args: DailyAnalysisPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:DailyAnalysisPipeline", name, None, opts)
        stack, settings = args.stack, args.settings
        owner = PipelineOwner(stack, PIPELINE)
        tags, child = owner.tags, pulumi.ResourceOptions(parent=self)
        self.key = pipeline_key(stack, PIPELINE, "daily-analysis: bucket, topics, logs", parent=self)
        self.bucket = SecureBucket(
            f"{name}-data",
            SecureBucketArgs(
                key_arn=self.key.arn,
                access_logs=stack.access_logs,
                # A snapshot is only the input of its run; history, analysis and exports are kept.
                expirations=[Expiration("expire-snapshots", SNAPSHOT_PREFIX, settings.snapshot_retention_days)],
                tags=tags,
            ),
            opts=child,
        )

        def topic(suffix: str, display: str, emails: Sequence[str]) -> NotificationTopic:
            return NotificationTopic(
                f"{name}-{suffix}",
                NotificationTopicArgs(
                    topic_name=f"{stack.owner(PIPELINE)}-{suffix}",
                    display_name=display,
                    key_arn=self.key.arn,
                    account_id=stack.account_id,
                    emails=emails,
                    tags=tags,
                ),
                opts=child,
            )

        self.alerts = topic("alerts", "stepworks daily-analysis alerts", settings.alert_emails)
        self.reports = topic("report", "stepworks daily sales report", settings.report_emails)
        self.categories = self.bucket.put_object(
            f"{name}-categories", CATEGORIES_KEY, json.dumps(settings.categories, indent=2), "application/json"
        )
        self.manifests = [
            self.bucket.put_object(
                f"{name}-manifest-{dataset}",
                manifest_key(dataset),
                self.bucket.name.apply(lambda bucket, d=dataset: json.dumps(manifest(bucket, d), indent=2)),
                "application/json",
            )
            for dataset in DATASETS
        ]
        bucket = self.bucket
        model = model_target(settings, stack.region)
        invoke = bedrock.invoke_grant(model, stack.region, stack.account_id)
        environment = {
            "BUCKET_NAME": bucket.name,
            "MODEL_ID": model.model_id,
            "MAX_TOKENS": str(settings.max_tokens),
            "ANOMALY_WEEKS": str(settings.anomaly_weeks),
            "ANOMALY_Z": repr(settings.anomaly_z),
            "ANOMALY_MIN_CHANGE": repr(settings.anomaly_min_change),
            "PRODUCT_MIN_UNITS": str(settings.product_min_units),
            "TOP_N": str(settings.top_n),
            **({"BEDROCK_ENDPOINT_URL": settings.bedrock_endpoint_url} if settings.bedrock_endpoint_url else {}),
        }
        history_read = bucket.read(HISTORY_PREFIX, "ReadHistory")
        analysis_read = bucket.read(ANALYSIS_PREFIX, "ReadAnalysis")

        def heavy(handler: str, grants: list[g.Grant], **env: pulumi.Input[str]) -> FunctionSpec:
            return function_spec(
                settings.functions,
                f"pipelines.analysis.handlers.{handler}",
                environment={**environment, **env},
                grants=grants,
            )

        def light(handler: str, grants: list[g.Grant]) -> FunctionSpec:
            return FunctionSpec(
                f"pipelines.analysis.handlers.{handler}", environment=environment, grants=grants, **LIGHT
            )

        functions = {
            "validate": FunctionSpec(
                INTAKE.handler, INTAKE.memory_mb, INTAKE.timeout_s, environment={"TIMEZONE": settings.timezone}
            ),
            "summaries": heavy(
                "get_store_summaries",
                [
                    *g.table_read(args.summaries_table_arn, args.summaries_key_arn, ("dynamodb:Query",)),
                    *g.table_read(
                        pulumi.Output.concat(args.summaries_table_arn, "/index/", args.summaries_index),
                        args.summaries_key_arn,
                        ("dynamodb:Query",),
                    ),
                    *bucket.write(SNAPSHOT_PREFIX, "WriteSnapshot"),
                    *bucket.write(HISTORY_PREFIX, "WriteHistory"),
                    *bucket.list(),
                ],
                SUMMARY_TABLE_NAME=args.summaries_table_name,
            ),
            "company": heavy(
                "calc_company_metrics",
                [
                    *bucket.read(SNAPSHOT_PREFIX, "ReadSnapshot"),
                    *history_read,
                    *bucket.list(),
                    *bucket.write(HISTORY_PREFIX, "WriteHistory"),
                    *bucket.write(ANALYSIS_PREFIX, "WriteAnalysis"),
                ],
            ),
            "products": heavy(
                "calc_product_metrics",
                [
                    *bucket.read(SNAPSHOT_PREFIX, "ReadSnapshot"),
                    *bucket.read(CATEGORIES_KEY, "ReadCategories"),
                    *bucket.list(),
                    *bucket.write(HISTORY_PREFIX, "WriteHistory"),
                    *bucket.write(ANALYSIS_PREFIX, "WriteAnalysis"),
                ],
            ),
            "anomalies": heavy(
                "detect_anomalies",
                [*history_read, *bucket.list(), *bucket.write(ANALYSIS_PREFIX, "WriteAnalysis"), invoke],
            ),
            "trends": light(
                "analyze_trends",
                [*history_read, *bucket.list(), *bucket.write(ANALYSIS_PREFIX, "WriteAnalysis"), invoke],
            ),
            "recommend": light("generate_recommendations", [*analysis_read, *bucket.list(), invoke]),
            "combine": light(
                "combine_insights", [*analysis_read, *bucket.list(), *bucket.write(ANALYSIS_PREFIX, "WriteAnalysis")]
            ),
            "report": light(
                "generate_report", [*analysis_read, *bucket.list(), *bucket.write(REPORT_PREFIX, "WriteReport")]
            ),
            "export": heavy(
                "export_to_quicksight",
                [
                    *history_read,
                    *analysis_read,
                    *bucket.read(CATEGORIES_KEY, "ReadCategories"),
                    *bucket.list(),
                    *bucket.write(EXPORT_PREFIX, "WriteExport"),
                ],
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
                references={
                    "taskTimeout": str(asl.task_timeout_for(settings.functions.timeout_s)),
                    "alerts": i.topic_ref(self.alerts.arn, self.key.arn),
                    "reports": i.topic_ref(self.reports.arn, self.key.arn),
                },
            ),
            opts=child,
        )
        self.schedule = Schedule(
            f"{name}-daily",
            ScheduleArgs(
                owner=owner,
                state_machine_arn=self.pipeline.arn,
                expression=settings.schedule,
                timezone=settings.timezone,
            ),
            opts=child,
        )
        self.data_sources = (
            self._quicksight(name, owner, settings.quicksight_principal) if settings.quicksight_principal else []
        )
        self.outputs = {
            "bucketName": bucket.name,
            "stateMachineArn": self.pipeline.arn,
            "scheduleName": self.schedule.name,
            "alertsTopicArn": self.alerts.arn,
            "reportTopicArn": self.reports.arn,
            "manifestKeys": pulumi.Output.from_input([manifest_key(d) for d in DATASETS]),
        }
        self.register_outputs(self.outputs)

    def _quicksight(self, name: str, owner: PipelineOwner, principal: str) -> list[aws.quicksight.DataSource]:
        """A role QuickSight assumes to read the export (nothing else), and one S3 data source per manifest."""
        stack, child = owner.stack, pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-quicksight-role",
            path=owner.role_path,
            assume_role_policy=trust.trust_policy("quicksight.amazonaws.com", stack.account_id),
            tags=owner.tags,
            opts=child,
        )
        grants = [
            *self.bucket.read(EXPORT_PREFIX, "ReadExport"),
            *self.bucket.read(MANIFEST_PREFIX, "ReadManifests"),
            *self.bucket.list(),
        ]
        policy = aws.iam.RolePolicy(
            f"{name}-quicksight-policy", role=role.id, policy=g.policy_document(grants), opts=child
        )
        actions = [
            "quicksight:DescribeDataSource",
            "quicksight:DescribeDataSourcePermissions",
            "quicksight:PassDataSource",
            "quicksight:UpdateDataSource",
            "quicksight:DeleteDataSource",
            "quicksight:UpdateDataSourcePermissions",
        ]
        return [
            aws.quicksight.DataSource(
                f"{name}-quicksight-{dataset}",
                data_source_id=f"{stack.owner(PIPELINE)}-{dataset}",
                name=f"stepworks {dataset} ({stack.name_prefix})",
                type="S3",
                parameters=aws.quicksight.DataSourceParametersArgs(
                    s3=aws.quicksight.DataSourceParametersS3Args(
                        manifest_file_location=aws.quicksight.DataSourceParametersS3ManifestFileLocationArgs(
                            bucket=self.bucket.name, key=manifest_key(dataset)
                        ),
                        role_arn=role.arn,
                    )
                ),
                permissions=[aws.quicksight.DataSourcePermissionArgs(actions=actions, principal=principal)],
                tags=owner.tags,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, *self.manifests]),
            )
            for dataset in DATASETS
        ]


def build(stack_config: StackConfig, stack: StackContext, built: Mapping[str, Any]) -> pulumi.ComponentResource:
    """Create the daily-analysis pipeline from stack config, over the summaries of the stack's uploads pipeline."""
    settings = DailyAnalysisSettings.from_section(stack_config.pipeline(PIPELINE))
    upstream = built.get(UPSTREAM)
    if upstream is None:
        raise ConfigError(
            f"stepworks:pipelines: {PIPELINE} analyses the store summaries of {UPSTREAM}: enable {UPSTREAM} too"
        )
    args = DailyAnalysisPipelineArgs(
        stack=stack,
        summaries_table_name=upstream.table.name,
        summaries_table_arn=upstream.table.arn,
        summaries_key_arn=upstream.key.arn,
        summaries_index=DATE_INDEX,
        settings=settings,
    )
    return DailyAnalysisPipeline(PIPELINE, args)
