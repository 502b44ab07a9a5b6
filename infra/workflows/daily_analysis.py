"""The daily-analysis pipeline: the store summaries uploads wrote for a date → metrics → statistics
and a Bedrock narrative → a report by e-mail (SNS) → a QuickSight export. Run daily by a schedule.

ValidateInput → GetStoreSummaries (a snapshot in S3; the state carries its count and key) →
CheckStoreSummaries (none: NoDataAvailable alert → FailNoData) → CalcCompanyMetrics →
CalcProductMetrics → BedrockAnalysis (Parallel: DetectAnomalies, AnalyzeTrends) →
GenerateRecommendations → CombineInsights → CheckForBedrockErrors (SendBedrockErrorAlert) →
GenerateReport → SendDailyReport → ExportToQuickSight. Statistics decide, the model explains: a
Bedrock step still failing after its retries leaves its section unavailable and the run goes on;
any other failure alerts (NotifyFailure) and fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from infra import asl
from infra import integrations as i
from infra.components import bedrock
from infra.components import grants as g
from infra.components.bucket import Expiration, SecureBucket, SecureBucketArgs
from infra.components.key import pipeline_key
from infra.components.pipeline import FunctionSpec, StepFunctionPipeline, StepFunctionPipelineArgs, function_spec
from infra.components.quicksight import QuickSightExport, QuickSightExportArgs
from infra.components.stack import PipelineOwner, StackContext
from infra.components.topic import NotificationTopic, NotificationTopicArgs
from infra.components.triggers import Schedule, ScheduleArgs
from infra.config import FUNCTION_KEYS, ConfigError, FunctionSettings, Section, StackConfig, aws_regions
from infra.workflows.dependencies import REQUIRES
from pipelines.analysis import layout
from pipelines.analysis.errors import BEDROCK_ERRORS, BedrockUnavailableError
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


# What the functions read and write, by the Sid part of their grants (``ReadSnapshot``, ``WriteHistory`` …).
PARTS = {
    "snapshot": layout.SNAPSHOT_PREFIX,
    "history": layout.HISTORY_PREFIX,
    "analysis": layout.ANALYSIS_PREFIX,
    "categories": layout.CATEGORIES_KEY,
    "report": layout.REPORT_PREFIX,
    "export": layout.EXPORT_PREFIX,
}


def model_target(settings: DailyAnalysisSettings, region: str) -> bedrock.ModelTarget:
    """The configured model (or the region's default) as IAM sees it; a ConfigError naming the key if wrong."""
    try:
        return bedrock.target(settings.model_id or bedrock.default_model(region), settings.model_regions)
    except bedrock.ModelSettingError as exc:
        raise ConfigError(f"stepworks:{PIPELINE}.{exc.setting}: {exc}") from None


def _categories(raw: Any) -> dict[str, list[str]]:
    from pipelines.analysis.categories import CategoryMap

    CategoryMap.from_setting(raw)
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
        principal = section.matching(
            "quicksightPrincipal",
            _QUICKSIGHT_PRINCIPAL,
            "a QuickSight user or group ARN (arn:aws:quicksight:<region>:<account>:user/default/<name>)",
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
            categories=section.parsed("categories", {}, _categories),
            alert_emails=section.email_list("alertEmails"),
            report_emails=section.email_list("reportEmails"),
            quicksight_principal=principal,
            snapshot_retention_days=section.integer("snapshotRetentionDays", 30, 1, 3653),
            functions=FunctionSettings.from_section(section, DEFAULT_FUNCTIONS.memory_mb, DEFAULT_FUNCTIONS.timeout_s),
        )


def definition(refs: Mapping[str, Any]) -> asl.Definition:
    """The daily-analysis state machine, given its function ARNs, its two topics and ``taskTimeout``."""
    retries = asl.lambda_retries(RETRYABLE_ERRORS, **RETRY)
    step = i.LambdaSteps(refs, retries, int(refs["taskTimeout"]), "NotifyFailure", payload={"date.$": "$.date"})

    def section(state: str, key: str, name: str, fallback: str, result_path="$", next_state=None, catch_to=None):
        """``state`` and its ``fallback``: the Bedrock failures (after the retries) leave section ``name``
        unavailable with the caught error, as CombineInsights reads it (under ``value`` where a task with a
        ``result_path`` puts its answer); other errors go to ``catch_to`` (None, in a Parallel branch: to the
        Parallel's Catch, as only the branch's own states are in reach)."""
        catches = [asl.catch(UNAVAILABLE_ERRORS, fallback, "$.error")]
        marker = {"section": name, "available": False, "error.$": "$.error.Error", "cause.$": "$.error.Cause"}
        marked = {"Type": "Pass", "Parameters": marker if result_path == "$" else {"value": marker}}
        return {
            state: step(key, next_state, result_path, catches=catches, catch_to=catch_to),
            fallback: asl.chain({**marked, "ResultPath": result_path}, next_state),
        }

    def branch(state: str, key: str, name: str) -> dict[str, Any]:
        return {"StartAt": state, "States": section(state, key, name, f"{state}Unavailable")}

    def publish(topic: str, at: str, next_state: str) -> asl.Task:
        """Publish the ``{subject, message}`` a step answered at ``at``."""
        return i.sns_publish(
            refs[topic],
            message_path=f"{at}.message",
            subject_path=f"{at}.subject",
            result_path=None,
            next_state=next_state,
            timeout_s=60,
            catch_to="NotifyFailure",
        )

    snapshot = {"count.$": "$.Payload.count", "snapshotKey.$": "$.Payload.snapshotKey"}
    from_snapshot = {**step.payload, "snapshotKey.$": "$.summaries.snapshotKey"}
    combine = {"analysis.$": "$.analysis", "recommendations.$": "$.recommendations.value"}
    no_data = {"Type": "Fail", "Error": "NoDataAvailable"}
    no_data["Cause"] = "No store summaries for the date: nothing to analyse (an alert was sent)."
    states = {
        "ValidateInput": i.validate_input(
            refs["validate"],
            retries=retries,
            next_state="GetStoreSummaries",
            timeout_s=60,
            catch_to=asl.INPUT_REJECTED,
            comment="{} / {scheduledTime} / {date} → {date}.",
        ),
        asl.INPUT_REJECTED: asl.input_rejected(),
        # The state keeps the count and the snapshot's pointer, which the metrics steps read it by.
        "GetStoreSummaries": step("summaries", "CheckStoreSummaries", "$.summaries", result_selector=snapshot),
        "CheckStoreSummaries": asl.choice(
            "$.summaries.count", "NumericEquals", 0, "NoDataAvailable", "CalcCompanyMetrics"
        ),
        **i.alert_and_fail(
            refs["alerts"],
            "NoDataAvailable",
            "FailNoData",
            no_data,
            catch_to="NotifyFailure",
            message_path="States.Format('daily-analysis found no store summaries for {} (execution {}). "
            "Check that the sales files of that day were uploaded and loaded.', $.date, $$.Execution.Name)",
            subject_path="States.Format('stepworks daily-analysis: no store summaries for {}', $.date)",
        ),
        "CalcCompanyMetrics": step("company", "CalcProductMetrics", "$.company", payload=from_snapshot),
        "CalcProductMetrics": step("products", "BedrockAnalysis", "$.products", payload=from_snapshot),
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
        **section(
            "GenerateRecommendations",
            "recommend",
            "recommendations",
            "RecommendationsUnavailable",
            "$.recommendations",
            "CombineInsights",
            "NotifyFailure",
        ),
        "CombineInsights": step(
            "combine",
            "CheckForBedrockErrors",
            "$.insights",
            payload={**step.payload, **combine, "execution.$": "$$.Execution.Name"},
        ),
        "CheckForBedrockErrors": asl.choice(
            "$.insights.value.bedrockFailed", "BooleanEquals", True, "SendBedrockErrorAlert", "GenerateReport"
        ),
        "SendBedrockErrorAlert": publish("alerts", "$.insights.value.alert", "GenerateReport"),
        "GenerateReport": step("report", "SendDailyReport", "$.report"),
        "SendDailyReport": publish("reports", "$.report.value", "ExportToQuickSight"),
        "ExportToQuickSight": step("export", None, "$.export"),
        **i.alert_and_fail(
            refs["alerts"],
            "NotifyFailure",
            "Failed",
            asl.fail_with_cause("The daily analysis failed (an alert was sent)"),
            catch_to="Failed",
            message_path="States.Format('daily-analysis failed (execution {}): {}: {}', "
            "$$.Execution.Name, $.error.Error, $.error.Cause)",
            subject="stepworks daily-analysis failed",
        ),
    }
    comment = "Daily analysis: summaries → metrics → anomalies, trends (Bedrock explains) → report → export."
    return asl.Definition.of({"Comment": comment, "StartAt": "ValidateInput", "TimeoutSeconds": 3600, "States": states})


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
    """Key, bucket, two topics, ten functions, the state machine, its daily schedule and the QuickSight
    export (manifests; with a QuickSight principal, one data source per dataset)."""

    def __init__(self, name: str, args: DailyAnalysisPipelineArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:workflows:DailyAnalysisPipeline", name, None, opts)
        stack, settings = args.stack, args.settings
        owner, child = PipelineOwner(stack, PIPELINE), pulumi.ResourceOptions(parent=self)
        self.key = pipeline_key(stack, PIPELINE, "daily-analysis: bucket, topics, logs", parent=self)
        self.bucket = bucket = SecureBucket(
            f"{name}-data",
            SecureBucketArgs(
                key_arn=self.key.arn,
                access_logs=stack.access_logs,
                # A snapshot is only the input of its run; history, analysis and exports are kept.
                expirations=[Expiration("expire-snapshots", layout.SNAPSHOT_PREFIX, settings.snapshot_retention_days)],
                tags=owner.tags,
            ),
            opts=child,
        )
        self.alerts, self.reports = (
            NotificationTopic(
                f"{name}-{suffix}", NotificationTopicArgs(owner, suffix, display, self.key.arn, emails), child
            )
            for suffix, display, emails in (
                ("alerts", "stepworks daily-analysis alerts", settings.alert_emails),
                ("report", "stepworks daily sales report", settings.report_emails),
            )
        )
        self.categories = bucket.put_object(
            f"{name}-categories", layout.CATEGORIES_KEY, json.dumps(settings.categories, indent=2), "application/json"
        )
        self.quicksight = QuickSightExport(
            name,
            QuickSightExportArgs(
                owner,
                bucket,
                layout.DATASETS,
                layout.EXPORT_PREFIX,
                layout.MANIFEST_PREFIX,
                settings.quicksight_principal,
                moved_from=self,
            ),
            opts=child,
        )
        model = model_target(settings, stack.region)
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
        invoke, listing = bedrock.invoke_grant(model, stack.region, stack.account_id), bucket.list()
        read = {part: bucket.read(prefix, f"Read{part.title()}") for part, prefix in PARTS.items()}
        write = {part: bucket.write(prefix, f"Write{part.title()}") for part, prefix in PARTS.items()}

        def heavy(handler: str, grants: list[g.Grant], **env: pulumi.Input[str]) -> FunctionSpec:
            handler = f"pipelines.analysis.handlers.{handler}"
            return function_spec(settings.functions, handler, environment={**environment, **env}, grants=grants)

        def light(handler: str, grants: list[g.Grant]) -> FunctionSpec:
            handler = f"pipelines.analysis.handlers.{handler}"
            return FunctionSpec(handler, environment=environment, grants=grants, **LIGHT)

        query = g.table_query(args.summaries_table_arn, args.summaries_key_arn, args.summaries_index)
        functions = {
            "validate": FunctionSpec(
                INTAKE.handler, INTAKE.memory_mb, INTAKE.timeout_s, environment={"TIMEZONE": settings.timezone}
            ),
            "summaries": heavy(
                "get_store_summaries",
                [*query, *write["snapshot"], *write["history"], *listing],
                SUMMARY_TABLE_NAME=args.summaries_table_name,
            ),
            "company": heavy(
                "calc_company_metrics",
                [*read["snapshot"], *read["history"], *listing, *write["history"], *write["analysis"]],
            ),
            "products": heavy(
                "calc_product_metrics",
                [*read["snapshot"], *read["categories"], *listing, *write["history"], *write["analysis"]],
            ),
            "anomalies": heavy("detect_anomalies", [*read["history"], *listing, *write["analysis"], invoke]),
            "trends": light("analyze_trends", [*read["history"], *listing, *write["analysis"], invoke]),
            "recommend": light(
                "generate_recommendations",
                [*read["analysis"], *listing, *bucket.write(layout.NARRATIVES, "WriteNarrative"), invoke],
            ),
            "combine": light("combine_insights", [*read["analysis"], *listing, *write["analysis"]]),
            "report": light("generate_report", [*read["analysis"], *listing, *write["report"]]),
            "export": heavy(
                "export_to_quicksight",
                [*read["history"], *read["analysis"], *read["categories"], *listing, *write["export"]],
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
            ScheduleArgs(owner, self.pipeline.arn, settings.schedule, timezone=settings.timezone),
            opts=child,
        )
        self.outputs = {
            "bucketName": bucket.name,
            "stateMachineArn": self.pipeline.arn,
            "scheduleName": self.schedule.name,
            "alertsTopicArn": self.alerts.arn,
            "reportTopicArn": self.reports.arn,
            "manifestKeys": pulumi.Output.from_input(self.quicksight.manifest_keys),
        }
        self.register_outputs(self.outputs)


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
