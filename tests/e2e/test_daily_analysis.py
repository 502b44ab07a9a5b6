"""daily-analysis, end to end: sales files through the real uploads path, then the schedule or a manual start.

The module's sandbox deploys daily-analysis and the uploads pipeline it reads. Its data is made
the way production makes it: a generated file of 29 days (four weeks of history and the day)
uploaded under ``uploads/`` (S3 → EventBridge → uploads run → store-day summaries), plus a second
file that puts one store at 5x its usual revenue yesterday. The Bedrock Runtime fake answers
Converse and fails on request (``fail_next``); SNS messages are read from the topics. Every run's
largest state (input or output of any state in its history) is held under 64 KB.
"""

from __future__ import annotations

import datetime
import io
import json

import pandas as pd
import pytest

from infra.sandbox import interpreter
from infra.sandbox.uploads import upload_and_find_run
from pipelines.analysis.layout import CATEGORIES_KEY, DATASETS, analysis_key, export_key, history_key, manifest_key
from pipelines.uploads import generate

DEPLOYED = ["daily-analysis"]
DAYS = 29
DATA = {"stores": 4, "days": DAYS, "lines": 10_000, "seed": 7, "products": 200}
SPIKE_STORE = "S002"
STATE_LIMIT = 64 * 1024
TODAY = datetime.datetime.now(datetime.UTC).date()
YESTERDAY = TODAY - datetime.timedelta(days=1)
FIRST_DAY = TODAY - datetime.timedelta(days=DAYS)


def _load(sandbox, name: str, body: bytes) -> None:
    run = upload_and_find_run(sandbox, "uploads", name, body)
    assert sandbox.wait(run.execution_arn, timeout_s=300).status == "SUCCEEDED"


@pytest.fixture(scope="module")
def month(sandbox):
    """29 days of four stores loaded by uploads, and S002's yesterday at 5x (a second file)."""
    out = io.BytesIO()
    generate.write(
        out, DATA["stores"], DAYS, DATA["lines"], seed=DATA["seed"], start=FIRST_DAY, products=DATA["products"]
    )
    _load(sandbox, "month.json", out.getvalue())
    spike = io.BytesIO()
    generate.write_spike(
        spike, DATA["stores"], DAYS, DATA["lines"], seed=DATA["seed"], start=FIRST_DAY,
        products=DATA["products"], store=SPIKE_STORE, day=YESTERDAY, factor=5,
    )  # fmt: skip
    _load(sandbox, "spike.json", spike.getvalue())
    return sandbox.outputs("daily-analysis")


@pytest.fixture
def bedrock(sandbox):
    fake = sandbox.services["daily-analysis"].fake
    fake.clear_failures()
    yield fake
    fake.clear_failures()


def _get(sandbox, bucket: str, key: str) -> bytes:
    return sandbox.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def _keys(sandbox, bucket: str, date: str) -> dict[str, str]:
    """Every object of the date (key → ETag): what a re-run must rewrite, not add to."""
    listed = sandbox.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for page in listed for o in page.get("Contents", []) if f"date={date}/" in o["Key"]}


def _largest_state(execution) -> int:
    """The largest input or output of any state in the execution's history, in UTF-8 bytes."""
    sizes = [
        len(value.encode("utf-8"))
        for event in execution.history
        for key, details in event.items()
        if key.endswith("EventDetails") and isinstance(details, dict)
        for field in ("input", "output")
        if isinstance(value := details.get(field), str)
    ]
    assert len(sizes) >= 2 * execution.transitions, "every state's input and output is in the history"
    return max(sizes)


def _states_entered(execution) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in execution.history if e["type"].endswith("StateEntered")]


def _run_date(sandbox, outputs, date: str):
    arn = sandbox.start(outputs["stateMachineArn"], {"date": date})
    return sandbox.wait(arn, timeout_s=300)


@pytest.fixture(scope="module")
def scheduled_run(sandbox, month):
    """The schedule fires at 05:00 UTC today (the stack's zone): the run analyses yesterday. Bedrock
    throttles DetectAnomalies once."""
    fake = sandbox.services["daily-analysis"].fake
    fake.fail_next("throttle", times=1, match="anomalous")
    waits_before = len(interpreter.RETRY_WAITS)
    scheduled = datetime.datetime.combine(TODAY, datetime.time(5), datetime.UTC)
    execution = sandbox.wait(sandbox.fire_schedule(month["scheduleName"], scheduled), timeout_s=300)
    fake.clear_failures()
    keys = _keys(sandbox, month["bucketName"], YESTERDAY.isoformat())
    return execution, interpreter.RETRY_WAITS[waits_before:], keys


def test_the_scheduled_run_analyses_yesterday_and_retries_a_bedrock_throttle(sandbox, month, scheduled_run):
    execution, waits, _ = scheduled_run
    assert execution.status == "SUCCEEDED", execution.cause_text()
    assert execution.output["date"] == YESTERDAY.isoformat()
    failed = [e for e in execution.history if e["type"] == "TaskFailed"]
    assert len(failed) == 1 and "BedrockUnavailableError" in json.dumps(failed[0]["taskFailedEventDetails"])
    assert len(waits) == 1 and 0 <= waits[0] <= 2  # full jitter on the first 2 s interval
    insights = json.loads(_get(sandbox, month["bucketName"], analysis_key(YESTERDAY.isoformat(), "insights")))
    assert insights["unavailable"] == []
    assert insights["usage"]["total"]["calls"] == 3 and insights["usage"]["total"]["inputTokens"] > 0
    assert sandbox.published(month["alertsTopicArn"]) == []
    # No model answer travels in the state: the sections are pointers to their stored narratives.
    (analysis,) = [e for e in execution.history if e["type"] == "ParallelStateExited"]
    sections = json.loads(analysis["stateExitedEventDetails"]["output"])["analysis"]
    assert [s["narrativeKey"] for s in sections] == [
        f"analysis/date={YESTERDAY.isoformat()}/narratives/{name}.json" for name in ("anomalies", "trends")
    ]
    assert "summary" not in json.dumps(sections) and 0 < _largest_state(execution) < STATE_LIMIT


def test_the_planted_spike_is_flagged_and_named_in_the_report_and_the_export(sandbox, month, scheduled_run):
    date = YESTERDAY.isoformat()
    found = json.loads(_get(sandbox, month["bucketName"], analysis_key(date, "anomalies")))["findings"]
    stores = {f["id"]: f for f in found if f["kind"] == "store"}
    assert stores[SPIKE_STORE]["direction"] == "spike" and stores[SPIKE_STORE]["ratio"] > 3
    subject, message = sandbox.published(month["reportTopicArn"])[0]
    assert len(subject) <= 100 and date in subject
    assert f"store {SPIKE_STORE}: revenue" in message and "is a spike" in message
    anomalies = pd.read_json(io.BytesIO(_get(sandbox, month["bucketName"], export_key("anomalies", date))), lines=True)
    spike = anomalies[(anomalies["kind"] == "store") & (anomalies["id"] == SPIKE_STORE)]
    assert list(spike["direction"]) == ["spike"] and list(spike["date"].astype(str)) == [date]


def test_the_export_reads_back_with_the_expected_rows_and_columns(sandbox, month, scheduled_run):
    date, bucket = YESTERDAY.isoformat(), month["bucketName"]
    stores = pd.read_json(io.BytesIO(_get(sandbox, bucket, export_key("store-metrics", date))), lines=True)
    assert list(stores.columns) == [
        "date", "storeId", "currency", "rank", "revenue", "transactions", "units", "averageBasket",
        "refundLines", "refundUnits", "refundAmount",
    ]  # fmt: skip
    assert sorted(stores["storeId"]) == [f"S{n:03d}" for n in range(1, DATA["stores"] + 1)]
    history = json.loads(_get(sandbox, bucket, f"history/date={date}/stores.json"))
    assert dict(zip(stores["storeId"], stores["revenue"], strict=True)) == {r["storeId"]: r["revenue"] for r in history}
    products = pd.read_json(io.BytesIO(_get(sandbox, bucket, export_key("product-metrics", date))), lines=True)
    assert list(products.columns) == ["date", "productId", "category", "currency", "units", "revenue"]
    assert set(products["category"]) <= {"fresh", "grocery", "household", "uncategorised"}
    assert products["units"].sum() == sum(r["units"] for r in history)
    for dataset in DATASETS:
        manifest = json.loads(_get(sandbox, bucket, manifest_key(dataset)))
        assert manifest["fileLocations"][0]["URIPrefixes"] == [f"s3://{bucket}/quicksight/{dataset}/"]


def test_trends_failing_leaves_them_unavailable_alerts_and_the_report_says_why(sandbox, month, scheduled_run, bedrock):
    """Also the same date a second time: the same keys, the same history and export, nothing added."""
    bedrock.fail_next("unavailable", times=None, match="sales trends")
    date = YESTERDAY.isoformat()
    execution = _run_date(sandbox, month, date)
    assert execution.status == "SUCCEEDED", execution.cause_text()
    insights = json.loads(_get(sandbox, month["bucketName"], analysis_key(date, "insights")))
    assert [(u["section"], u["error"]) for u in insights["unavailable"]] == [("trends", "BedrockUnavailableError")]
    assert insights["sections"]["anomalies"]["available"] and insights["sections"]["recommendations"]["available"]
    (alert_subject, alert), *_ = sandbox.published(month["alertsTopicArn"])
    assert "trends" in alert_subject and "ServiceUnavailableException" in alert
    _, report = sandbox.published(month["reportTopicArn"])[-1]
    assert "[trends narrative unavailable: BedrockUnavailableError" in report
    assert "28-day average" in report  # the computed trends are still there
    assert _largest_state(execution) < STATE_LIMIT
    rerun_keys = _keys(sandbox, month["bucketName"], date)
    first_keys = scheduled_run[2]
    assert rerun_keys.keys() == first_keys.keys()
    same = [k for k in first_keys if k.startswith(("history/", "quicksight/", "snapshots/"))]
    assert same and all(rerun_keys[k] == first_keys[k] for k in same)


def test_a_model_answer_that_is_not_json_is_asked_once_more(sandbox, month, bedrock):
    date = (YESTERDAY - datetime.timedelta(days=1)).isoformat()
    bedrock.fail_next("malformed", times=1, match="recommend")
    before = len(bedrock.calls)
    execution = _run_date(sandbox, month, date)
    assert execution.status == "SUCCEEDED", execution.cause_text()
    insights = json.loads(_get(sandbox, month["bucketName"], analysis_key(date, "insights")))
    assert insights["sections"]["recommendations"]["available"]
    assert insights["usage"]["bySection"]["recommendations"]["calls"] == 2
    asked = [c.prompt for c in bedrock.calls[before:] if "recommend" in c.prompt]
    assert len(asked) == 2 and "Your previous answer was unusable" in asked[1]


def test_a_date_without_summaries_alerts_and_fails_with_no_data(sandbox, month):
    execution = _run_date(sandbox, month, "2001-01-01")
    assert execution.status == "FAILED" and execution.error == "NoDataAvailable"
    subjects = [subject for subject, _ in sandbox.published(month["alertsTopicArn"])]
    assert "stepworks daily-analysis: no store summaries for 2001-01-01" in subjects


def _replaced(sandbox, bucket: str, key: str, body: bytes):
    """Put ``body`` at ``key`` for the duration of a ``with`` block, then the original bytes back."""
    s3 = sandbox.client("s3")
    original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    class Replaced:
        def __enter__(self):
            s3.put_object(Bucket=bucket, Key=key, Body=body)

        def __exit__(self, *exc):
            s3.put_object(Bucket=bucket, Key=key, Body=original)

    return Replaced()


def test_a_failure_outside_the_bedrock_steps_alerts_naming_the_cause_and_fails_without_a_report(sandbox, month):
    """The categories config CalcProductMetrics reads is corrupt: no retry, NotifyFailure, FAILED."""
    date, bucket = (YESTERDAY - datetime.timedelta(days=2)).isoformat(), month["bucketName"]
    alerts, reports = (len(sandbox.published(month[topic])) for topic in ("alertsTopicArn", "reportTopicArn"))
    with _replaced(sandbox, bucket, CATEGORIES_KEY, b'{"fresh": ["P0000"'):
        execution = _run_date(sandbox, month, date)
    assert execution.status == "FAILED" and execution.error == "ConfigurationError", execution.cause_text()
    assert f"CalcProductMetrics: the categories s3://{bucket}/{CATEGORIES_KEY} are unusable" in execution.cause_text()
    entered = _states_entered(execution)
    assert entered[-3:] == ["CalcProductMetrics", "NotifyFailure", "Failed"]
    assert "GenerateReport" not in entered and "BedrockAnalysis" not in entered
    (subject, alert), *_ = sandbox.published(month["alertsTopicArn"])[alerts:]
    assert subject == "stepworks daily-analysis failed"
    assert f"(execution {execution.arn.rsplit(':', 1)[1]}): ConfigurationError:" in alert
    assert "CalcProductMetrics: the categories" in alert and "is not JSON" in alert
    assert len(sandbox.published(month["reportTopicArn"])) == reports  # no report was sent
    assert _largest_state(execution) < STATE_LIMIT


def test_a_non_bedrock_failure_inside_a_bedrock_branch_fails_the_parallel_alerts_and_fails(sandbox, month):
    """A week of product history DetectAnomalies reads is corrupt: not a Bedrock failure, so the
    section is not marked unavailable; the branch fails, and the Parallel's catch alerts and fails."""
    date = YESTERDAY - datetime.timedelta(days=3)
    week_before = history_key((date - datetime.timedelta(days=7)).isoformat(), "products")
    alerts = len(sandbox.published(month["alertsTopicArn"]))
    with _replaced(sandbox, month["bucketName"], week_before, b"[{"):
        execution = _run_date(sandbox, month, date.isoformat())
    assert execution.status == "FAILED" and execution.error == "DataIntegrityError", execution.cause_text()
    entered = _states_entered(execution)
    assert "DetectAnomaliesUnavailable" not in entered and entered[-2:] == ["NotifyFailure", "Failed"]
    (subject, alert), *_ = sandbox.published(month["alertsTopicArn"])[alerts:]
    assert subject == "stepworks daily-analysis failed" and f"{week_before} is not JSON" in alert


@pytest.mark.parametrize(
    ("payload", "field", "problem"),
    [
        ({"date": (TODAY + datetime.timedelta(days=1)).isoformat()}, "date", "in the future"),
        ({"date": "2025-02-30"}, "date", "not a calendar date"),
        ({"date": 20250115}, "date", "must be a string"),
        ({"day": "2025-01-15"}, "day", "not a known field"),
    ],
)
def test_a_bad_date_fails_at_the_intake_naming_it(sandbox, month, payload, field, problem):
    arn = sandbox.start(month["stateMachineArn"], payload)
    execution = sandbox.wait(arn)
    assert execution.status == "FAILED" and execution.error == "InvalidInputError"
    assert f"{field}: " in execution.cause_text() and problem in execution.cause_text()
    assert [e["stateEnteredEventDetails"]["name"] for e in execution.history if e["type"].endswith("StateEntered")] == [
        "ValidateInput",
        "InputRejected",
    ]
