"""Operations: alarms on every state machine, function and HTTP API, their topic, and the stack's dashboard.

The generic components declare their own alarms, through ``StackContext.watch(pipeline)``:
``StepFunctionPipeline`` (executions failed, timed out, throttled), ``PipelineFunction`` (errors,
throttles) and every HTTP API stage (``triggers.api_stage``, for ``HttpApiStart`` and
``FunctionApi``: 5xx). A pipeline built from them is watched without a line of its own.

Every alarm notifies the stack's operations topic, ``<prefix>-operations-alarms``, on ALARM and
on OK. The topic is encrypted with the stack's operations key; CloudWatch publishes to it as the
service principal ``cloudwatch.amazonaws.com``, so (SNS developer guide, "Key management":
compatibility between AWS services and encrypted topics) the key policy allows that principal
``kms:Decrypt`` and ``kms:GenerateDataKey*``, and the topic policy ``sns:Publish``, both only for
this account's ``<prefix>-*`` alarms (``aws:SourceAccount``, ``aws:SourceArn``).

Each watch also lists what it watched; ``OperationsDashboard``, declared after every pipeline,
draws the stack's dashboard from it with the pure ``dashboard_body``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.components.key import ServiceKeyUse, pipeline_key
from infra.components.stack import PipelineOwner, StackContext
from infra.components.topic import NotificationTopic, NotificationTopicArgs, ServicePublisher
from infra.config import OPERATIONS, OperationsSettings

# Where each alarm's description sends the reader (a section per alarm kind).
RUNBOOK = "docs/operations.md"
CLOUDWATCH = "cloudwatch.amazonaws.com"
# What CloudWatch needs of an encrypted topic's key to publish to it (SNS developer guide).
CLOUDWATCH_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")


@dataclass(frozen=True)
class AlarmSpec:
    """One alarm kind: its name suffix, its metric, what it means and its runbook section."""

    suffix: str
    namespace: str
    metric: str
    meaning: str
    anchor: str

    def describe(self, subject: str, period_s: int) -> str:
        """The alarm's description: what fired, the condition, and where the runbook says what to do."""
        return (
            f"{subject}: {self.meaning} ({self.namespace} {self.metric} >= 1 in {period_text(period_s)}). "
            f"Runbook: {RUNBOOK}#{self.anchor}"
        )


STATE_MACHINE_ALARMS = (
    AlarmSpec(
        "executions-failed", "AWS/States", "ExecutionsFailed",
        "an execution FAILED (read its history, fix the cause, redrive it)", "executions-failed",
    ),
    AlarmSpec(
        "executions-timed-out", "AWS/States", "ExecutionsTimedOut",
        "an execution ran past its TimeoutSeconds and TIMED_OUT", "executions-timed-out",
    ),
    AlarmSpec(
        "executions-throttled", "AWS/States", "ExecutionThrottled",
        "Step Functions throttled state transitions of the machine", "executions-throttled",
    ),
)  # fmt: skip
FUNCTION_ALARMS = (
    AlarmSpec(
        "errors", "AWS/Lambda", "Errors",
        "an invocation ended in an error (retried, caught or failing its execution)", "function-errors",
    ),
    AlarmSpec(
        "throttles", "AWS/Lambda", "Throttles",
        "Lambda refused an invocation for want of concurrency", "function-throttles",
    ),
)  # fmt: skip
API_ALARMS = (
    AlarmSpec(
        "5xx", "AWS/ApiGateway", "5xx",
        "the API answered a server error (the integration failed or timed out)", "api-5xx",
    ),
)  # fmt: skip
ALARM_KINDS = (*STATE_MACHINE_ALARMS, *FUNCTION_ALARMS, *API_ALARMS)


def period_text(period_s: int) -> str:
    """``5 minutes``, ``1 minute``, ``1 hour``: how a description names the alarm period."""
    if period_s % 3600 == 0:
        hours = period_s // 3600
        return f"{hours} hour{'s' if hours != 1 else ''}"
    minutes = period_s // 60
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def alarm_name(resource_name: str, spec: AlarmSpec) -> str:
    """``sw-dev-radar-executions-failed``: the watched resource's physical name and the alarm kind."""
    return f"{resource_name}-{spec.suffix}"


@dataclass(frozen=True)
class WatchedMachine:
    name: str
    arn: pulumi.Output[str]


@dataclass(frozen=True)
class WatchedApi:
    name: str
    api_id: pulumi.Output[str]
    stage: pulumi.Output[str]


@dataclass(eq=False)
class PipelineWatch:
    """Declares the alarms of one pipeline's resources and lists them for the dashboard."""

    target: AlarmTarget
    pipeline: str
    machines: list[WatchedMachine] = field(default_factory=list)
    functions: list[pulumi.Output[str]] = field(default_factory=list)
    apis: list[WatchedApi] = field(default_factory=list)
    alarms: list[aws.cloudwatch.MetricAlarm] = field(default_factory=list)

    def state_machine(
        self, name: str, machine_name: str, arn: pulumi.Output[str], parent: pulumi.Resource
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """Executions failed, timed out and throttled of one state machine (logical names ``<name>-<kind>``)."""
        self.machines.append(WatchedMachine(machine_name, arn))
        subject = f"State machine {machine_name}"
        return [
            self._alarm(name, machine_name, spec, subject, {"StateMachineArn": arn}, parent)
            for spec in STATE_MACHINE_ALARMS
        ]

    def function(
        self, name: str, function_name: str, deployed_name: pulumi.Output[str], parent: pulumi.Resource
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """Errors and throttles of one function."""
        self.functions.append(deployed_name)
        subject = f"Function {function_name}"
        return [
            self._alarm(name, function_name, spec, subject, {"FunctionName": deployed_name}, parent)
            for spec in FUNCTION_ALARMS
        ]

    def http_api(
        self,
        name: str,
        api_name: str,
        api_id: pulumi.Output[str],
        stage: pulumi.Output[str],
        parent: pulumi.Resource,
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """5xx answers of one HTTP API's stage (HTTP APIs publish ``5xx`` by ApiId and Stage)."""
        self.apis.append(WatchedApi(api_name, api_id, stage))
        subject = f"HTTP API {api_name}"
        return [
            self._alarm(name, api_name, spec, subject, {"ApiId": api_id, "Stage": stage}, parent) for spec in API_ALARMS
        ]

    def _alarm(
        self,
        name: str,
        resource_name: str,
        spec: AlarmSpec,
        subject: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        parent: pulumi.Resource,
    ) -> aws.cloudwatch.MetricAlarm:
        target = self.target
        physical = target.claim(alarm_name(resource_name, spec))
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-{spec.suffix}-alarm",
            name=physical,
            alarm_description=spec.describe(subject, target.period_s),
            namespace=spec.namespace,
            metric_name=spec.metric,
            dimensions=dict(dimensions),
            statistic="Sum",
            period=target.period_s,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            # No datapoint means nothing ran, which is no failure.
            treat_missing_data="notBreaching",
            actions_enabled=True,
            alarm_actions=[target.topic_arn],
            ok_actions=[target.topic_arn],
            tags={**target.tags, "pipeline": self.pipeline},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        self.alarms.append(alarm)
        return alarm


@dataclass(eq=False)
class AlarmTarget:
    """The stack's operations topic, the alarm period, and every pipeline's watch."""

    name_prefix: str
    topic_arn: pulumi.Input[str]
    period_s: int = 300
    tags: Mapping[str, str] = field(default_factory=dict)
    pipelines: dict[str, PipelineWatch] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def watch(self, pipeline: str) -> PipelineWatch:
        """The watch of ``pipeline`` (one per pipeline, in the order pipelines first declared something)."""
        if pipeline not in self.pipelines:
            self.pipelines[pipeline] = PipelineWatch(self, pipeline)
        return self.pipelines[pipeline]

    def claim(self, name: str) -> str:
        """``name``, once: two alarms of one name would overwrite each other in CloudWatch."""
        if not name.startswith(f"{self.name_prefix}-"):
            raise ValueError(f"alarm {name}: every alarm is named <prefix>-…, here {self.name_prefix}-…")
        if name in self.names:
            raise ValueError(f"alarm {name} is declared twice: name the watched resources apart")
        self.names.add(name)
        return name


def alarm_source_pattern(stack: StackContext) -> pulumi.Output[str]:
    """``arn:aws:cloudwatch:<region>:<account>:alarm:<prefix>-*``: every alarm of the stack, and no other."""
    return stack.arn("cloudwatch", f"alarm:{stack.name_prefix}-*")


@dataclass
class OperationsArgs:
    """The stack (before it has an alarm target) and its ``stepworks:operations`` settings."""

    stack: StackContext
    settings: OperationsSettings = field(default_factory=OperationsSettings)


class Operations(pulumi.ComponentResource):
    """The operations key and topic (with its e-mail subscriptions); ``target`` for the stack's alarms."""

    def __init__(self, name: str, args: OperationsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:Operations", name, None, opts)
        stack = args.stack
        alarms = alarm_source_pattern(stack)
        self.key = pipeline_key(
            stack,
            OPERATIONS,
            "operations: the alarm topic",
            service_uses=[ServiceKeyUse("CloudWatchAlarmsPublish", CLOUDWATCH, CLOUDWATCH_KEY_ACTIONS, alarms)],
            parent=self,
        )
        self.topic = NotificationTopic(
            f"{name}-alarms",
            NotificationTopicArgs(
                owner=PipelineOwner(stack, OPERATIONS),
                suffix="alarms",
                display_name=f"stepworks {stack.name_prefix} alarms",
                key_arn=self.key.arn,
                emails=args.settings.alert_emails,
                service_publishers=[ServicePublisher("CloudWatchAlarmsPublish", CLOUDWATCH, alarms)],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.target = AlarmTarget(stack.name_prefix, self.topic.arn, args.settings.alarm_period_s, dict(stack.tags))
        self.outputs = {"alarmTopicArn": self.topic.arn}
        self.register_outputs(self.outputs)


# --- the dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineView:
    """One pipeline's watched resources, resolved: what ``dashboard_body`` draws."""

    pipeline: str
    machines: Sequence[tuple[str, str]] = ()  # (name, ARN)
    functions: Sequence[str] = ()
    apis: Sequence[tuple[str, str, str]] = ()  # (name, API id, stage)
    alarms: Sequence[str] = ()  # alarm ARNs

    def panels(self, region: str, period_s: int) -> list[dict[str, Any]]:
        """The pipeline's widgets' properties, in order: executions, duration, failures, Lambda errors, 5xx, alarms."""

        def states(metric: str, machine: tuple[str, str], label: str, stat: str = "Sum") -> list[Any]:
            name, arn = machine
            return ["AWS/States", metric, "StateMachineArn", arn, {"label": f"{name} {label}", "stat": stat}]

        def metrics(title: str, rows: list[list[Any]], **extra: Any) -> dict[str, Any]:
            return {
                "type": "metric",
                "properties": {
                    "title": f"{self.pipeline}: {title}",
                    "region": region,
                    "view": "timeSeries",
                    "stacked": False,
                    "stat": "Sum",
                    "period": period_s,
                    "metrics": rows,
                    **extra,
                },
            }

        machines = list(self.machines)
        panels = [
            metrics(
                "executions",
                [states(m, machine, label) for machine in machines
                 for m, label in (("ExecutionsStarted", "started"), ("ExecutionsSucceeded", "succeeded"),
                                  ("ExecutionsFailed", "failed"))],
            ),
            metrics(
                "execution duration (ms)",
                [states("ExecutionTime", machine, p, p) for machine in machines for p in ("p50", "p90")],
            ),
            metrics(
                "failures",
                [states(m, machine, label) for machine in machines
                 for m, label in (("ExecutionsFailed", "failed"), ("ExecutionsTimedOut", "timed out"),
                                  ("ExecutionsAborted", "aborted"), ("ExecutionThrottled", "throttled"))],
            ),
        ]  # fmt: skip
        if self.functions:
            rows = [["AWS/Lambda", "Errors", "FunctionName", f, {"label": f}] for f in self.functions]
            panels.append(metrics("Lambda errors", rows))
        if self.apis:
            rows = [["AWS/ApiGateway", "5xx", "ApiId", i, "Stage", s, {"label": n}] for n, i, s in self.apis]
            panels.append(metrics("API 5xx", rows))
        if self.alarms:
            # An alarm widget shows at most 100 alarms.
            properties = {"title": f"{self.pipeline}: alarms", "alarms": list(self.alarms)[:100]}
            panels.append({"type": "alarm", "properties": properties})
        return panels


# The dashboard's grid is 24 units wide; each panel takes a quarter of it.
GRID_WIDTH, PANEL_WIDTH, PANEL_HEIGHT = 24, 6, 6
PER_ROW = GRID_WIDTH // PANEL_WIDTH


def dashboard_body(region: str, title: str, pipelines: Sequence[PipelineView], period_s: int = 300) -> dict[str, Any]:
    """The dashboard: a heading, then per pipeline a heading row and its panels, four to a row (pure)."""
    widgets: list[dict[str, Any]] = [
        {"type": "text", "x": 0, "y": 0, "width": GRID_WIDTH, "height": 2, "properties": {"markdown": title}}
    ]
    y = 2
    for view in pipelines:
        heading = f"## {view.pipeline}\nAlarms and what to do: {RUNBOOK}"
        widgets.append({"type": "text", "x": 0, "y": y, "width": GRID_WIDTH, "height": 1,
                        "properties": {"markdown": heading}})  # fmt: skip
        y += 1
        panels = view.panels(region, period_s)
        for index, panel in enumerate(panels):
            column, row = index % PER_ROW, index // PER_ROW
            widgets.append(
                {**panel, "x": column * PANEL_WIDTH, "y": y + row * PANEL_HEIGHT, "width": PANEL_WIDTH,
                 "height": PANEL_HEIGHT}
            )  # fmt: skip
        y += -(-len(panels) // PER_ROW) * PANEL_HEIGHT
    return {"widgets": widgets}


def _view(watch: PipelineWatch) -> pulumi.Output[PipelineView]:
    return pulumi.Output.all(
        machines=[m.arn for m in watch.machines],
        functions=list(watch.functions),
        api_ids=[a.api_id for a in watch.apis],
        stages=[a.stage for a in watch.apis],
        alarms=[a.arn for a in watch.alarms],
    ).apply(
        lambda r: PipelineView(
            pipeline=watch.pipeline,
            machines=[(m.name, arn) for m, arn in zip(watch.machines, r["machines"], strict=True)],
            functions=r["functions"],
            apis=[(a.name, i, s) for a, i, s in zip(watch.apis, r["api_ids"], r["stages"], strict=True)],
            alarms=r["alarms"],
        )
    )


@dataclass
class OperationsDashboardArgs:
    """The stack's alarm target, once every pipeline has declared its resources."""

    stack: StackContext
    target: AlarmTarget


def dashboard_name(name_prefix: str) -> str:
    """``sw-dev-pipelines``: the stack's dashboard."""
    return f"{name_prefix}-pipelines"


class OperationsDashboard(pulumi.ComponentResource):
    """One CloudWatch dashboard of every watched pipeline: executions, duration, failures, errors, 5xx, alarms."""

    def __init__(self, name: str, args: OperationsDashboardArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("stepworks:components:OperationsDashboard", name, None, opts)
        stack, target = args.stack, args.target
        title = f"# stepworks {stack.name_prefix}\nEvery pipeline of the stack; alarms notify the operations topic."
        views = [_view(watch) for watch in target.pipelines.values()]
        body = pulumi.Output.all(*views).apply(
            lambda resolved: json.dumps(dashboard_body(stack.region, title, resolved, target.period_s), sort_keys=True)
        )
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=dashboard_name(stack.name_prefix),
            dashboard_body=body,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = self.dashboard.dashboard_name
        self.register_outputs({"dashboardName": self.name})
