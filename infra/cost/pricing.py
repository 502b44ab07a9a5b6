"""Usage times prices: a run's itemized cost as Standard and as Express, the Express verdict, fixed costs.

Pure: a ``PipelineUsage`` (``usage.py``), a price table (``prices.py``) and the declared resources in,
``Line`` items out. Every line is quantity × one list price; a line whose quantity is an estimate
says so in its note.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from infra.cost.prices import HOURS_PER_MONTH, Price, bedrock_model
from infra.cost.usage import ExecutionUse, PipelineUsage, owner_of

EXPRESS_LIMIT_S = 300  # an Express execution runs for five minutes at most
EXPRESS_MEMORY_CHUNK = 64 * 1024 * 1024  # Express bills memory in 64 MB chunks
EXPRESS_ROUNDING_S = 0.1  # and duration rounded up to 100 ms
GB = 1024**3


@dataclass(frozen=True)
class Line:
    """One priced item: ``quantity`` of ``price.unit`` at ``price``."""

    item: str
    quantity: float
    price: Price
    note: str = ""

    @property
    def usd(self) -> float:
        return self.quantity * self.price.usd


def total(lines: Iterable[Line]) -> float:
    """The sum of the lines' costs."""
    return sum(line.usd for line in lines)


@dataclass(frozen=True)
class Verdict:
    """Whether a pipeline's Standard state machine could run as Express, and why (or why not)."""

    qualifies: bool
    reason: str
    caveats: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        if not self.qualifies:
            return "no"
        return "yes*" if self.caveats else "yes"


# --- Express ----------------------------------------------------------------------------------------


def _states(definition: dict) -> Iterator[tuple[str, dict]]:
    for name, state in (definition.get("States") or {}).items():
        yield name, state
        for branch in state.get("Branches") or []:
            yield from _states(branch)
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from _states(processor)


def express_blockers(definition: dict) -> list[str]:
    """What in a definition Express workflows cannot run: callbacks, .sync jobs, activities, Distributed
    Map, and waits of five minutes or more (or of a length only known at run time)."""
    found = []
    for name, state in _states(definition):
        resource = str(state.get("Resource", ""))
        if resource.endswith(".waitForTaskToken"):
            found.append(f"{name} waits for a task token (.waitForTaskToken): Express has no callback pattern")
        elif resource.endswith((".sync", ".sync:2")):
            found.append(f"{name} runs a job to completion (.sync): Express does not support it")
        elif ":activity:" in resource:
            found.append(f"{name} is an activity task: Express does not support activities")
        mode = ((state.get("ItemProcessor") or {}).get("ProcessorConfig") or {}).get("Mode")
        if state.get("Type") == "Map" and mode == "DISTRIBUTED":
            found.append(f"{name} is a Distributed Map: Express does not support it")
        if state.get("Type") == "Wait":
            seconds = state.get("Seconds")
            if seconds is None:
                found.append(f"{name} waits until a time read at run time: it may pass five minutes")
            elif seconds >= EXPRESS_LIMIT_S:
                found.append(f"{name} waits {seconds} s: an Express run stops at five minutes")
    return found


def express_verdict(
    executions: list[ExecutionUse], function_timeouts: Iterable[int], started_by_name: bool = False
) -> Verdict:
    """Whether the pipeline's Standard executions could be Express: nothing Express cannot run, every
    measured run under five minutes; with caveats where a run could still outgrow the limit or where
    the pipeline relies on Standard's unique execution names."""
    standard = [e for e in executions if e.machine_type == "STANDARD"]
    if not standard:
        return Verdict(True, "already Express")
    blockers = [b for e in standard for b in express_blockers(e.definition)]
    if blockers:
        return Verdict(False, "; ".join(dict.fromkeys(blockers)))
    longest = max(e.duration_s for e in standard)
    if longest >= EXPRESS_LIMIT_S:
        return Verdict(False, f"a run took {longest:.0f} s; an Express run stops at five minutes")
    caveats = []
    limits = [e.definition.get("TimeoutSeconds") for e in standard]
    if any(limit is None or limit > EXPRESS_LIMIT_S for limit in limits):
        slowest = max(function_timeouts, default=0)
        if slowest >= EXPRESS_LIMIT_S:
            caveats.append(
                f"functions may run up to {slowest} s (their timeout), so a slow run could pass Express's five minutes"
            )
    if started_by_name:
        caveats.append(
            "its router starts each run once per object by name; StartExecution is idempotent for Standard only"
        )
    return Verdict(True, f"no callbacks or long waits; the measured run took {longest:.2f} s", tuple(caveats))


def express_memory_chunks(execution: ExecutionUse) -> int:
    """64 MB chunks an Express run is billed for: estimated from its definition and its largest payload
    (AWS bases the memory on both, and on Map and Parallel states); one chunk for any of these pipelines."""
    estimate = len(str(execution.definition)) + 4 * execution.max_payload_bytes
    return max(1, math.ceil(estimate / EXPRESS_MEMORY_CHUNK))


def _express_lines(executions: list[ExecutionUse], prices: dict[str, Price], label: str) -> list[Line]:
    if not executions:
        return []
    gb_seconds = sum(
        express_memory_chunks(e)
        * EXPRESS_MEMORY_CHUNK
        / GB
        * math.ceil(round(e.duration_s / EXPRESS_ROUNDING_S, 6))
        * EXPRESS_ROUNDING_S
        for e in executions
    )
    seconds = sum(e.duration_s for e in executions)
    return [
        Line(f"Step Functions Express requests ({label})", len(executions), prices["states.express.request"]),
        Line(
            f"Step Functions Express duration ({label})",
            gb_seconds,
            prices["states.express.gb_second"],
            f"{seconds:.2f} s in 100 ms steps x 64 MB (memory estimated)",
        ),
    ]


# --- a run -----------------------------------------------------------------------------------------


def run_lines(use: PipelineUsage, prices: dict[str, Price], as_express: bool = False) -> list[Line]:
    """The itemized cost of the scenario's run; ``as_express``: the Standard state machines as Express."""
    lines: list[Line] = []
    standard = use.standard_executions
    routers = [e for e in use.executions if e.machine_type == "EXPRESS"]
    if as_express:
        lines += _express_lines(standard, prices, "the pipeline")
    elif standard:
        retries = sum(e.retries for e in standard)
        note = f"{len(standard)} execution(s), {retries} retr{'y' if retries == 1 else 'ies'} included"
        lines.append(Line("Step Functions Standard transitions", use.transitions, prices["states.transition"], note))
    lines += _express_lines(routers, prices, "router")
    fns = list(use.functions.values())
    if fns:
        invocations = sum(f.invocations for f in fns)
        lines.append(Line("Lambda requests", invocations, prices["lambda.request"], f"{len(fns)} function(s)"))
        for architecture in sorted({f.architecture for f in fns}):
            chosen = [f for f in fns if f.architecture == architecture]
            detail = ", ".join(f"{f.name} {f.memory_mb} MB x {f.billed_ms} ms" for f in chosen)
            gb_s = sum(f.gb_seconds for f in chosen)
            lines.append(
                Line(
                    f"Lambda duration ({architecture})",
                    gb_s,
                    prices[f"lambda.gb_second.{architecture}"],
                    f"in-process time, a lower bound: {detail}",
                )
            )
    if use.api_requests:
        note = f"{use.api_requests} request(s)"
        if use.reference_api_requests:
            note += f", {use.reference_api_requests} to the dev stack's reference services"
        lines.append(Line("API Gateway HTTP API requests", use.api_units, prices["apigateway.http.request"], note))
    if use.s3["tier1"]:
        lines.append(Line("S3 PUT, COPY, POST, LIST requests", use.s3["tier1"], prices["s3.tier1"]))
    if use.s3["tier2"]:
        lines.append(Line("S3 GET and other requests", use.s3["tier2"], prices["s3.tier2"]))
    if use.dynamodb_wru:
        lines.append(
            Line("DynamoDB write request units", use.dynamodb_wru, prices["dynamodb.wru"], "per item size (1 KB)")
        )
    if use.dynamodb_rru:
        lines.append(
            Line("DynamoDB read request units", use.dynamodb_rru, prices["dynamodb.rru"], "per item size (4 KB)")
        )
    if use.sns_publishes:
        lines.append(Line("SNS publishes", use.sns_publishes, prices["sns.publish"], "64 KB chunks"))
        lines.append(
            Line("SNS e-mail deliveries", use.sns_emails, prices["sns.email"], "to the stack's e-mail subscriptions")
        )
    if use.secrets_calls:
        lines.append(Line("Secrets Manager API calls", use.secrets_calls, prices["secretsmanager.api"]))
    if use.kms_calls:
        lines.append(Line("KMS requests (by the functions)", use.kms_calls, prices["kms.request"]))
    if use.kms_on_behalf:
        lines.append(
            Line(
                "KMS requests (by Secrets Manager and SNS)",
                use.kms_on_behalf,
                prices["kms.request"],
                "estimated: a Decrypt per secret read, a data key per publish, under customer keys",
            )
        )
    if use.events_aws:
        lines.append(Line("EventBridge events (S3, default bus)", use.events_aws, prices["events.aws_service"]))
    if use.events_custom:
        lines.append(Line("EventBridge custom events", use.events_custom, prices["events.custom"]))
    if use.scheduler_invocations:
        lines.append(
            Line("EventBridge Scheduler invocations", use.scheduler_invocations, prices["scheduler.invocation"])
        )
    for model, (calls, tokens_in, tokens_out) in sorted(use.bedrock.items()):
        base = bedrock_model(model)
        note = f"{model}, {calls} call(s)"
        lines.append(Line("Bedrock input tokens", tokens_in, prices[f"bedrock.{base}.input"], note))
        lines.append(Line("Bedrock output tokens", tokens_out, prices[f"bedrock.{base}.output"], note))
    if use.log_bytes:
        lines.append(
            Line(
                "CloudWatch Logs ingestion",
                use.log_bytes / GB,
                prices["logs.ingest_gb"],
                f"{use.log_bytes:,} bytes: function output measured, platform and state machine events estimated",
            )
        )
    traces = sum(1 for e in use.executions if e.root)
    if traces:
        lines.append(Line("X-Ray traces recorded", traces, prices["xray.trace"], "at most one a run (sampling)"))
    return lines


# --- a month ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fixed:
    """A monthly cost that does not depend on runs, of one pipeline (None: the stack's own)."""

    pipeline: str | None
    item: str
    quantity: float
    price: Price
    note: str = ""

    @property
    def usd(self) -> float:
        return self.quantity * self.price.usd


@dataclass
class FixedCosts:
    """The stack's fixed monthly costs, and what the table leaves out."""

    items: list[Fixed] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)

    def of(self, pipeline: str | None) -> list[Fixed]:
        return [f for f in self.items if f.pipeline == pipeline]


def fixed_costs(resources: Iterable[Any], pipelines: list[str], prices: dict[str, Price]) -> FixedCosts:
    """Secrets, keys, database instances, NAT gateways, public addresses, alarms and dashboards declared."""
    costs = FixedCosts()
    for r in resources:
        if not getattr(r, "custom", True):
            continue
        pipeline = owner_of(r.name, r.inputs.get("tags"), pipelines)
        if r.typ == "aws:secretsmanager/secret:Secret":
            costs.items.append(Fixed(pipeline, f"secret {r.name}", 1, prices["secretsmanager.secret_month"]))
        elif r.typ == "aws:kms/key:Key":
            costs.items.append(Fixed(pipeline, f"KMS key {r.name}", 1, prices["kms.key_month"], "before rotations"))
        elif r.typ == "aws:rds/instance:Instance":
            costs.items += _database(r, pipeline, prices, costs.unpriced)
        elif r.typ == "aws:ec2/natGateway:NatGateway":
            costs.items.append(
                Fixed(pipeline, f"NAT gateway {r.name}", HOURS_PER_MONTH, prices["vpc.nat_hour"], "plus $0.045/GB")
            )
        elif r.typ == "aws:ec2/eip:Eip":
            costs.items.append(
                Fixed(pipeline, f"public IPv4 address {r.name}", HOURS_PER_MONTH, prices["vpc.public_ipv4_hour"])
            )
        elif r.typ == "aws:cloudwatch/metricAlarm:MetricAlarm":
            costs.items.append(Fixed(pipeline, f"alarm {r.name}", 1, prices["cloudwatch.alarm_month"]))
        elif r.typ == "aws:cloudwatch/dashboard:Dashboard":
            costs.items.append(
                Fixed(pipeline, f"dashboard {r.name}", 1, prices["cloudwatch.dashboard_month"], "3 a month are free")
            )
    return costs


def _database(r, pipeline: str | None, prices: dict[str, Price], unpriced: list[str]) -> list[Fixed]:
    instance_class = str(r.inputs.get("instanceClass", ""))
    engine = str(r.inputs.get("engine", ""))
    key = f"rds.{engine}.{instance_class}"
    items = []
    zones = 2 if r.inputs.get("multiAz") else 1
    if key in prices:
        note = "Multi-AZ: two instances" if zones == 2 else "Single-AZ"
        items.append(Fixed(pipeline, f"RDS {engine} {instance_class}", HOURS_PER_MONTH * zones, prices[key], note))
    else:
        unpriced.append(f"RDS {engine} {instance_class} ({r.name}): no price in the table")
    storage = float(r.inputs.get("allocatedStorage") or 0)
    if storage and r.inputs.get("storageType", "gp3") == "gp3":
        items.append(Fixed(pipeline, f"RDS gp3 storage, {storage:g} GB", storage * zones, prices["rds.gp3_gb_month"]))
    if r.inputs.get("manageMasterUserPassword"):
        items.append(
            Fixed(pipeline, "secret the RDS-managed master password", 1, prices["secretsmanager.secret_month"])
        )
    return items
