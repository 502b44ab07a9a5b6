"""radar, end to end: firing the daily schedule writes data.json + data.csv for every valid org."""

import datetime
import io
import json

import pandas as pd
import pytest

from infra.sandbox.scenarios import data_keys

# Only this pipeline is deployed (tests/e2e/conftest.py).
DEPLOYED = ["radar"]

ACTIVE_ORGS = ["org-cloudflare", "org-example"]


@pytest.fixture
def radar(sandbox):
    fake = sandbox.services["radar"].fake
    fake.clear()
    yield sandbox, fake
    fake.clear()


def run(sandbox, scheduled):
    return sandbox.wait(sandbox.fire_schedule(sandbox.outputs("radar")["scheduleName"], scheduled))


def read(sandbox, key):
    return sandbox.client("s3").get_object(Bucket=sandbox.outputs("radar")["bucketName"], Key=key)["Body"].read()


def test_the_schedule_writes_both_files_for_every_active_org_at_the_exact_keys(radar):
    sandbox, _ = radar
    scheduled = datetime.datetime(2026, 11, 1, 6, 0, tzinfo=datetime.UTC)
    result = run(sandbox, scheduled)
    assert result.status == "SUCCEEDED", result.cause_text()
    # org-retired is inactive: reported as rejected, never fetched.
    assert result.output["counts"] == {"written": 2, "notFound": 0, "failed": 0, "rejected": 1}
    expected = [f"{org}/2026-11-01T06:00:00Z/data.{ext}" for org in ACTIVE_ORGS for ext in ("csv", "json")]
    assert [k for k in data_keys(sandbox, sandbox.outputs("radar")["bucketName"]) if "2026-11-01T06" in k] == expected
    record = json.loads(read(sandbox, "org-cloudflare/2026-11-01T06:00:00Z/data.json"))
    assert record["orgId"] == "org-cloudflare"
    assert record["timestamp"] == "2026-11-01T06:00:00Z"
    assert record["connectorParams"]["domain"] == "cloudflare.com"
    assert record["radarData"]


def test_the_csv_reads_back_with_pandas_to_dot_notation_columns_and_the_json_values(radar):
    sandbox, _ = radar
    run(sandbox, datetime.datetime(2026, 11, 2, 6, 0, tzinfo=datetime.UTC))
    prefix = "org-example/2026-11-02T06:00:00Z"
    frame = pd.read_csv(io.BytesIO(read(sandbox, f"{prefix}/data.csv")), dtype=str, keep_default_na=False)
    record = json.loads(read(sandbox, f"{prefix}/data.json"))
    assert len(frame) == 1
    assert frame.loc[0, "orgId"] == "org-example"
    assert frame.loc[0, "connectorParams.domain"] == "example.com"
    date_columns = [c for c in frame.columns if c.startswith("radarData.") and c.endswith(".dateRange.0.startTime")]
    assert date_columns, list(frame.columns)
    # Every flattened column resolves, through the dot path, to the value in data.json.
    for column in frame.columns:
        value = record
        for part in column.split("."):
            value = value[int(part)] if isinstance(value, list) else value[part]
        expected = "" if value is None else (json.dumps(value) if isinstance(value, bool) else str(value))
        assert frame.loc[0, column] in (expected, expected.lower()), column


def test_a_404_org_and_a_429_once_org_still_end_with_the_right_files(radar):
    sandbox, fake = radar
    fake.not_found("example.com")
    fake.not_found("GB")
    fake.not_found("15169")
    fake.rate_limit("cloudflare.com", retry_after=1, times=1)
    result = run(sandbox, datetime.datetime(2026, 11, 3, 6, 0, tzinfo=datetime.UTC))
    assert result.status == "SUCCEEDED", result.cause_text()
    assert result.output["counts"]["written"] == 1
    assert result.output["counts"]["notFound"] == 1
    keys = [k for k in data_keys(sandbox, sandbox.outputs("radar")["bucketName"]) if "2026-11-03T06" in k]
    assert keys == ["org-cloudflare/2026-11-03T06:00:00Z/data.csv", "org-cloudflare/2026-11-03T06:00:00Z/data.json"]


def test_a_wrong_token_fails_the_affected_orgs_with_a_clear_cause_and_writes_nothing_for_them(radar):
    sandbox, fake = radar
    real = fake.token
    fake.token = "a-different-token"
    try:
        result = run(sandbox, datetime.datetime(2026, 11, 4, 6, 0, tzinfo=datetime.UTC))
    finally:
        fake.token = real
    assert result.status == "FAILED"
    assert result.error == "OrganizationsFailedError"
    assert "org-cloudflare" in result.cause_text() and "org-example" in result.cause_text()
    assert "UpstreamAuthError" in result.cause_text()
    assert not [k for k in data_keys(sandbox, sandbox.outputs("radar")["bucketName"]) if "2026-11-04T06" in k]


def test_running_the_same_scheduled_input_twice_leaves_the_same_set_of_objects(radar):
    sandbox, _ = radar
    scheduled = datetime.datetime(2026, 11, 5, 6, 0, tzinfo=datetime.UTC)
    bucket = sandbox.outputs("radar")["bucketName"]

    def all_keys():
        listed = sandbox.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(o["Key"] for o in listed)

    assert run(sandbox, scheduled).status == "SUCCEEDED"
    first = all_keys()
    assert run(sandbox, scheduled).status == "SUCCEEDED"
    assert all_keys() == first


def test_no_token_or_registry_content_appears_in_the_execution_history(radar):
    sandbox, fake = radar
    result = run(sandbox, datetime.datetime(2026, 11, 6, 6, 0, tzinfo=datetime.UTC))
    history = json.dumps(result.history, default=str)
    assert fake.token not in history
    provider_exit = next(e for e in result.history if e["type"] == "TaskStateExited")
    assert "retired.example" not in json.dumps(provider_exit, default=str)
