"""One demo scenario per pipeline: trigger it the way production does and report what landed.

``EXAMPLE_INPUTS`` is an execution input each pipeline accepts, for ``python -m infra run``
(its ``--help`` lists them; a test runs each one in the sandbox). Light to import: the sandbox
itself is only needed to run a scenario.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infra.sandbox.core import ExecutionResult, Sandbox
    from infra.sandbox.postgres import TemporaryPostgres

# Pipeline → an execution input (JSON text) it accepts, as `python -m infra run <pipeline> --input` takes it.
EXAMPLE_INPUTS: dict[str, str] = {
    "greeting": '{"message": "hello"}',
    "radar": '{"scheduledTime": "2026-01-01T06:00:00Z"}',
    # The last 24 hours (the default window), where the sandbox's PagerDuty fake holds its sample day.
    "incidents": '{"statuses": ["triggered", "acknowledged", "resolved"]}',
    # The previous day in the pipeline's time zone (a backfill names one: {"date": "2026-11-20"}).
    "daily-analysis": "{}",
    # The release request itself (put under inputs/, which starts the run; it then waits for Jira).
    "release-approval": '{"storyId": "PROJ-1", "packages": ["billing-api@2.4.1"], "environment": "staging", '
    '"requester": "alice@example.com"}',
}


@dataclass
class ScenarioResult:
    """A pipeline's demo run: the execution and a one-line account of what it wrote."""

    pipeline: str
    execution: ExecutionResult
    landed: str
    # Lines the demo prints after its table (the daily report's first lines, say).
    details: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.execution.status == "SUCCEEDED"


def greeting(sandbox: Sandbox) -> ScenarioResult:
    """POST /greetings (SigV4-signed) → the item it wrote."""
    response = sandbox.call_route("greeting", {"message": "Hello from the stepworks sandbox"})
    response.raise_for_status()
    execution = sandbox.wait(response.json()["executionArn"])
    items = sandbox.client("dynamodb").scan(TableName=sandbox.outputs("greeting")["tableName"])["Items"]
    landed = "; ".join(
        f"item id={i['id']['S']} Timestamp={i['Timestamp']['S']} Message={i['Message']['S']!r}" for i in items
    )
    return ScenarioResult("greeting", execution, landed or "nothing")


def radar(sandbox: Sandbox) -> ScenarioResult:
    """Fire the daily schedule → data.json and data.csv per active organization."""
    scheduled = datetime.datetime.now(datetime.UTC).replace(hour=6, minute=0, second=0, microsecond=0)
    execution = sandbox.wait(sandbox.fire_schedule(sandbox.outputs("radar")["scheduleName"], scheduled))
    keys = data_keys(sandbox, sandbox.outputs("radar")["bucketName"])
    orgs = sorted({key.split("/")[0] for key in keys})
    return ScenarioResult("radar", execution, f"{len(keys)} files for {', '.join(orgs) or 'no org'}")


def data_keys(sandbox: Sandbox, bucket: str) -> list[str]:
    """Keys of the radar output files (``<org>/<timestamp>/data.{json,csv}``) in ``bucket``."""
    listed = sandbox.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(o["Key"] for o in listed if o["Key"].endswith(("/data.json", "/data.csv")))


def incidents(sandbox: Sandbox) -> ScenarioResult:
    """POST /invoke (SigV4-signed) for the last 24 hours → incidents in PostgreSQL and the report."""
    response = sandbox.call_route("incidents", {})
    response.raise_for_status()
    execution = sandbox.wait(response.json()["executionArn"], timeout_s=300)
    output = execution.output or {}
    with incidents_database(sandbox).connect() as conn:
        stored = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
    rules = output.get("rules", [])
    passed = sum(1 for rule in rules if rule["passed"])
    landed = (
        f"{output.get('loaded_count', 0)} of {output.get('expected_count', '?')} incidents loaded "
        f"({stored} rows in incidents), {passed}/{len(rules)} validation rules passed"
    )
    return ScenarioResult("incidents", execution, landed)


def incidents_database(sandbox: Sandbox) -> TemporaryPostgres:
    """The PostgreSQL server standing in for the incidents pipeline's RDS instance."""
    (instance,) = [r for r in sandbox.program.of_type("aws:rds/instance:Instance") if r.name.startswith("incidents-")]
    return sandbox.databases[instance.id]


# The demo's sales file: 29 days of five stores up to yesterday (what daily-analysis needs: the day
# and four weeks of history), a few records broken (rejected, the rest loaded).
# 300 products keep each day's summaries small enough for the emulator to query quickly.
DEMO_UPLOAD = {"stores": 5, "days": 29, "lines": 20_000, "bad_ratio": 0.0005, "seed": 2026, "products": 300}
# The anomaly the demo plants for daily-analysis to find: one store at 5x its usual revenue yesterday.
DEMO_SPIKE = {"store": "S003", "factor": 5}


def demo_first_day(today: datetime.date | None = None) -> datetime.date:
    """The first business date of the demo's file: 29 days ending yesterday (UTC)."""
    today = today or datetime.datetime.now(datetime.UTC).date()
    return today - datetime.timedelta(days=DEMO_UPLOAD["days"])


def demo_sales_file(first_day: datetime.date) -> bytes:
    """The demo's sample upload (``pipelines.uploads.generate``, seeded: the same sales every time)."""
    import io

    from pipelines.uploads import generate

    out = io.BytesIO()
    spec = DEMO_UPLOAD
    generate.write(
        out, spec["stores"], spec["days"], spec["lines"], bad_ratio=spec["bad_ratio"], seed=spec["seed"],
        start=first_day, products=spec["products"],
    )  # fmt: skip
    return out.getvalue()


def demo_spike_file(first_day: datetime.date, day: datetime.date) -> bytes:
    """A second upload for the spiking store on ``day`` (``generate.write_spike``)."""
    import io

    from pipelines.uploads import generate

    out, spec = io.BytesIO(), DEMO_UPLOAD
    generate.write_spike(
        out, spec["stores"], spec["days"], spec["lines"], seed=spec["seed"], start=first_day, day=day,
        products=spec["products"], **DEMO_SPIKE,
    )  # fmt: skip
    return out.getvalue()


def uploads(sandbox: Sandbox) -> ScenarioResult:
    """Upload 29 days of sales under uploads/ → the event starts the run → store-day summaries in DynamoDB.

    The summaries stay in the table: daily-analysis reads them.
    """
    from infra.sandbox.uploads import upload_and_find_run

    run = upload_and_find_run(sandbox, "uploads", "demo-month.json", demo_sales_file(demo_first_day()))
    execution = sandbox.wait(run.execution_arn, timeout_s=300)
    output = execution.output or {}
    table = sandbox.outputs("uploads")["summaryTableName"]
    pages = (
        sandbox.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="sk = :summary",
            ProjectionExpression="businessDate",
            ExpressionAttributeValues={":summary": {"S": "summary"}},
        )
    )
    summaries = [item for page in pages for item in page["Items"]]
    dates = sorted({item["businessDate"]["S"] for item in summaries})
    landed = (
        f"{output.get('records', 0):,} records loaded, {output.get('rejected', 0):,} rejected "
        f"(s3://{run.bucket}/{output.get('rejectsKey', '-')}); {len(summaries)} store-day summaries "
        f"for {dates[0] if dates else '-'}..{dates[-1] if dates else '-'}"
    )
    return ScenarioResult("uploads", execution, landed)


def daily_analysis(sandbox: Sandbox) -> ScenarioResult:
    """Plant a spike (a second upload for one store, yesterday), then fire the daily schedule.

    The run analyses yesterday against the month uploads loaded: metrics, the anomaly the rule
    finds, Bedrock's (fake's) prose, the report e-mailed through SNS, the QuickSight export.
    """
    from infra.sandbox.uploads import upload_and_find_run

    first_day = demo_first_day()
    yesterday = first_day + datetime.timedelta(days=DEMO_UPLOAD["days"] - 1)
    spike = upload_and_find_run(sandbox, "uploads", "demo-spike.json", demo_spike_file(first_day, yesterday))
    sandbox.wait(spike.execution_arn, timeout_s=300)
    outputs = sandbox.outputs("daily-analysis")
    scheduled = datetime.datetime.combine(yesterday + datetime.timedelta(days=1), datetime.time(5), datetime.UTC)
    execution = sandbox.wait(sandbox.fire_schedule(outputs["scheduleName"], scheduled), timeout_s=300)
    reports = sandbox.published(outputs["reportTopicArn"])
    found = _anomalies(sandbox, outputs["bucketName"], yesterday.isoformat())
    stores = ", ".join(f"{f['id']} {f['direction']} x{f['ratio']}" for f in found if f["kind"] == "store")
    landed = (
        f"{yesterday}: {len(found)} anomalies ({stores or 'no store'}); "
        f"report {'sent' if reports else 'not sent'}; export under s3://{outputs['bucketName']}/quicksight/"
    )
    details = []
    if reports:
        subject, message = reports[-1]
        details = [f"daily report e-mail — Subject: {subject}", *message.splitlines()[:14], "  …"]
    return ScenarioResult("daily-analysis", execution, landed, details)


def _anomalies(sandbox: Sandbox, bucket: str, day: str) -> list[dict]:
    import json

    from pipelines.analysis.layout import analysis_key

    try:
        body = sandbox.client("s3").get_object(Bucket=bucket, Key=analysis_key(day, "anomalies"))["Body"].read()
    except sandbox.client("s3").exceptions.NoSuchKey:
        return []
    return json.loads(body)["findings"]


# The demo's release request (README, "release-approval"): two packages to staging for one Jira story.
DEMO_RELEASE = {
    "storyId": "DEMO-1",
    "packages": ["billing-api@2.4.1", "web-frontend@7.0.0"],
    "environment": "staging",
    "requester": "alice@example.com",
    "description": "Quarterly billing release",
}


def release_approval(sandbox: Sandbox) -> ScenarioResult:
    """Upload a release request under inputs/ → services → the run waits → Jira approves → result and log.

    The demo answers its own callback as Jira Automation would (the shared secret in a header).
    """
    from infra.sandbox import approvals

    run = approvals.request_release(sandbox, "demo-release.json", DEMO_RELEASE)
    if approvals.until_waiting(sandbox, run.execution_arn):
        status, _ = approvals.jira(sandbox).send(DEMO_RELEASE["storyId"], "approved", "Looks good", "bob@example.com")
        answered = f"callback {status}"
    else:
        answered = "never waited for Jira"
    execution = sandbox.wait(run.execution_arn)
    result, log = approvals.outputs_of(sandbox, run.execution_arn)
    name = run.execution_arn.rsplit(":", 1)[1]
    landed = (
        f"{DEMO_RELEASE['storyId']}: {answered}, {(result or {}).get('outcome', 'no result')}; "
        f"outputs/{name[:12]}…/result.json, logs/{name[:12]}…/execution.log"
    )
    details = ["the approved run's execution.log ends —", *(f"  {line}" for line in (log or "").splitlines()[-6:])]
    return ScenarioResult("release-approval", execution, landed, details)


SCENARIOS: dict[str, Callable[[Sandbox], ScenarioResult]] = {
    "greeting": greeting,
    "radar": radar,
    "incidents": incidents,
    "uploads": uploads,
    "daily-analysis": daily_analysis,
    "release-approval": release_approval,
}
