"""One demo scenario per pipeline: trigger it the way production does and report what landed.

``EXAMPLE_INPUTS`` is an execution input each pipeline accepts, for ``python -m infra run``
(its ``--help`` lists them; a test runs each one in the sandbox). Light to import: the sandbox
itself is only needed to run a scenario.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
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
}


@dataclass
class ScenarioResult:
    """A pipeline's demo run: the execution and a one-line account of what it wrote."""

    pipeline: str
    execution: ExecutionResult
    landed: str

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


# The demo's sales file: a week of five stores, a few records broken (rejected, the rest loaded).
DEMO_UPLOAD = {"stores": 5, "days": 7, "lines": 5_000, "bad_ratio": 0.002, "seed": 2026}


def demo_sales_file() -> bytes:
    """The demo's sample upload (``pipelines.uploads.generate``, seeded: the same bytes every time)."""
    import io

    from pipelines.uploads import generate

    out = io.BytesIO()
    spec = DEMO_UPLOAD
    generate.write(out, spec["stores"], spec["days"], spec["lines"], bad_ratio=spec["bad_ratio"], seed=spec["seed"])
    return out.getvalue()


def uploads(sandbox: Sandbox) -> ScenarioResult:
    """Upload a week of sales under uploads/ → the event starts the run → store-day summaries in DynamoDB.

    The summaries stay in the table: daily-analysis reads them.
    """
    from infra.sandbox.uploads import upload_and_find_run

    run = upload_and_find_run(sandbox, "uploads", "demo-week.json", demo_sales_file())
    execution = sandbox.wait(run.execution_arn, timeout_s=300)
    output = execution.output or {}
    table = sandbox.outputs("uploads")["summaryTableName"]
    summaries = [
        item
        for page in sandbox.client("dynamodb").get_paginator("scan").paginate(TableName=table)
        for item in page["Items"]
        if item["sk"]["S"] == "summary"
    ]
    dates = sorted({item["businessDate"]["S"] for item in summaries})
    landed = (
        f"{output.get('records', 0):,} records loaded, {output.get('rejected', 0):,} rejected "
        f"(s3://{run.bucket}/{output.get('rejectsKey', '-')}); {len(summaries)} store-day summaries "
        f"for {dates[0] if dates else '-'}..{dates[-1] if dates else '-'}"
    )
    return ScenarioResult("uploads", execution, landed)


SCENARIOS: dict[str, Callable[[Sandbox], ScenarioResult]] = {
    "greeting": greeting,
    "radar": radar,
    "incidents": incidents,
    "uploads": uploads,
}
