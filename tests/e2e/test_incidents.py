"""incidents, end to end: POST /invoke → FetchInitial → FetchComplete → Validate against the PagerDuty fake
and a real PostgreSQL server standing in for RDS (TLS, verify-full, credentials from the RDS secret)."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest

from infra.sandbox.fakes.pagerduty import generate_incidents
from infra.sandbox.scenarios import incidents_database

# Only this pipeline is deployed (tests/e2e/conftest.py).
DEPLOYED = ["incidents"]

pytestmark = pytest.mark.slow

DAY = datetime(2026, 10, 1, tzinfo=UTC)


def window(hours_from: int, hours_to: int) -> dict:
    return {
        "since": (DAY + timedelta(hours=hours_from)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "until": (DAY + timedelta(hours=hours_to)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


@pytest.fixture
def incidents(sandbox):
    """The sandbox with an empty PagerDuty fake (its token unchanged) and the database reachable."""
    fake = sandbox.services["incidents"].fake
    token = fake.token
    fake.reset(token=token)
    yield sandbox, fake
    fake.reset(token=token)
    server = incidents_database(sandbox)
    if not server.external:
        server.start()


def invoke(sandbox, body) -> object:
    response = sandbox.call_route("incidents", body)
    assert response.status_code == 200, response.text
    return sandbox.wait(response.json()["executionArn"], timeout_s=300)


def query(sandbox, sql, params=()):
    with incidents_database(sandbox).connect() as conn:
        return conn.execute(sql, params).fetchall()


def attempts(result, function_key) -> int:
    """How many times the execution invoked one of the pipeline's functions."""
    return sum(1 for e in result.history if f"-incidents-{function_key}" in str(e.get("taskScheduledEventDetails", "")))


def run_of(sandbox, execution_arn):
    rows = query(sandbox, "SELECT id, state, error, cause FROM runs WHERE execution_id = %s", (execution_arn,))
    assert len(rows) == 1, rows
    return rows[0]


def run_incident_ids(sandbox, run_id):
    return {r[0] for r in query(sandbox, "SELECT incident_id FROM run_incidents WHERE run_id = %s", (run_id,))}


def test_invoke_loads_exactly_the_window_and_stores_a_passing_report(incidents):
    sandbox, fake = incidents
    inside = generate_incidents(300, DAY + timedelta(hours=1), DAY + timedelta(hours=5), seed=101)
    outside = generate_incidents(20, DAY + timedelta(hours=7), DAY + timedelta(hours=9), seed=102)
    fake.add_incidents(inside + outside)

    result = invoke(sandbox, window(0, 6))

    assert result.status == "SUCCEEDED", result.cause_text()
    assert result.output["success"] is True
    assert result.output["loaded_count"] == result.output["expected_count"] == 300
    run_id, state, error, _ = run_of(sandbox, result.arn)
    assert (state, error) == ("validated", None)
    assert run_incident_ids(sandbox, run_id) == {i["id"] for i in inside}
    stored = {
        r[0] for r in query(sandbox, "SELECT id FROM incidents WHERE id = ANY(%s)", ([i["id"] for i in outside],))
    }
    assert stored == set()
    report = query(sandbox, "SELECT rule, passed, offending_ids FROM validation_results WHERE run_id = %s", (run_id,))
    assert len(report) == 7
    assert all(passed and not offending for _, passed, offending in report)
    # The stored row is the incident as PagerDuty sent it, fields extracted.
    sample = inside[0]
    (row,) = query(
        sandbox,
        "SELECT incident_number, status, urgency, service_id, raw->>'title' FROM incidents WHERE id = %s",
        (sample["id"],),
    )
    assert row == (
        sample["incident_number"],
        sample["status"],
        sample["urgency"],
        sample["service"]["id"],
        sample["title"],
    )


def test_invoking_the_same_window_again_changes_no_row_count(incidents):
    sandbox, fake = incidents
    fake.add_incidents(generate_incidents(150, DAY + timedelta(hours=10), DAY + timedelta(hours=11), seed=103))
    first = invoke(sandbox, window(10, 11))
    assert first.status == "SUCCEEDED", first.cause_text()
    counts = query(sandbox, "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM services)")

    second = invoke(sandbox, window(10, 11))

    assert second.status == "SUCCEEDED", second.cause_text()
    assert query(sandbox, "SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM services)") == counts
    assert second.output["loaded_count"] == 150
    # Two runs, each with the same 150 incidents.
    first_run, second_run = run_of(sandbox, first.arn)[0], run_of(sandbox, second.arn)[0]
    assert run_incident_ids(sandbox, first_run) == run_incident_ids(sandbox, second_run)


def test_twelve_thousand_incidents_in_one_window_are_all_loaded_by_splitting_it(incidents):
    sandbox, fake = incidents
    many = generate_incidents(12_000, DAY + timedelta(hours=12), DAY + timedelta(hours=13), seed=104)
    fake.add_incidents(many)

    result = invoke(sandbox, window(12, 13))

    assert result.status == "SUCCEEDED", result.cause_text()
    assert result.output["loaded_count"] == 12_000
    # One window cannot go past offset 10,000: the fake answers 400 (code 2002) if asked to.
    assert result.output["windows"] >= 2
    assert all(int(r.query.get("offset", ["0"])[0]) + 100 <= 10_000 for r in fake.requests)
    run_id = run_of(sandbox, result.arn)[0]
    assert run_incident_ids(sandbox, run_id) == {i["id"] for i in many}


def test_an_incident_resolved_before_it_was_created_fails_the_run_naming_the_rule(incidents):
    sandbox, fake = incidents
    fake.add_incidents(generate_incidents(30, DAY + timedelta(hours=14), DAY + timedelta(hours=15), seed=105))
    bad = fake.inject_bad_incident(DAY + timedelta(hours=14, minutes=30), number=990_001)

    result = invoke(sandbox, window(14, 15))

    assert result.status == "FAILED"
    assert result.error == "ValidationFailed"
    assert "resolved_after_created" in result.cause
    run_id, state, error, cause = run_of(sandbox, result.arn)
    assert (state, error) == ("failed", "ValidationFailed")
    assert "resolved_after_created" in cause
    ((passed, offending),) = query(
        sandbox,
        "SELECT passed, offending_ids FROM validation_results WHERE run_id = %s AND rule = 'resolved_after_created'",
        (run_id,),
    )
    assert (passed, offending) == (False, [bad["id"]])
    entered = [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]
    assert entered[-3:] == ["ValidateSucceeded", "HandleError", "Failed"]


def test_a_wrong_pagerduty_token_fails_with_a_clear_cause_and_loads_nothing(incidents):
    sandbox, fake = incidents
    fake.add_incidents(generate_incidents(10, DAY + timedelta(hours=16), DAY + timedelta(hours=17), seed=106))
    fake.token = "a-token-the-secret-does-not-hold"

    result = invoke(sandbox, window(16, 17))

    assert result.status == "FAILED"
    assert result.error == "UpstreamAuthError"
    assert "PagerDuty refused the API token (401)" in result.cause
    run_id, state, error, _ = run_of(sandbox, result.arn)
    assert (state, error) == ("failed", "UpstreamAuthError")
    assert run_incident_ids(sandbox, run_id) == set()
    # Not retried: a bad token cannot succeed on a second try.
    assert attempts(result, "fetch-initial") == 1
    assert len(fake.requests) == 1


def test_the_database_stopped_mid_run_is_retried_then_fails_with_no_half_written_batch(incidents):
    sandbox, fake = incidents
    server = incidents_database(sandbox)
    if server.external:
        pytest.skip("cannot stop the server named by STEPWORKS_DATABASE_URL")
    batch = 5000  # stepworks:incidents.loadBatchSize in Pulumi.dev.yaml
    many = generate_incidents(7_000, DAY + timedelta(hours=18), DAY + timedelta(hours=19), seed=107)
    fake.add_incidents(many)
    stopped = threading.Event()

    def stop_after_the_first_batch(request):
        # Page 60 of 70: the first 5,000 are committed, the rest are still being fetched.
        if request.query.get("offset") == ["5900"] and not stopped.is_set():
            stopped.set()
            server.stop()

    fake.on_request = stop_after_the_first_batch
    result = invoke(sandbox, window(18, 19))
    server.start()

    assert stopped.is_set()
    assert result.status == "FAILED"
    assert result.error == "DatabaseUnavailableError"
    assert attempts(result, "fetch-complete") == 4, "FetchComplete was not retried three times"
    run_id, state, _, _ = run_of(sandbox, result.arn)
    # The database was down when HandleError ran, so the run could not be marked failed.
    assert state == "counted"
    loaded = run_incident_ids(sandbox, run_id)
    assert len(loaded) == batch
    batches = query(sandbox, "SELECT cardinality(incident_ids) FROM run_batches WHERE run_id = %s", (run_id,))
    assert batches == [(batch,)]
    window_ids = [i["id"] for i in many]
    (stored,) = query(sandbox, "SELECT count(*) FROM incidents WHERE id = ANY(%s)", (window_ids,))
    assert stored == (batch,)


def test_a_body_that_is_not_a_valid_request_fails_naming_the_field_without_retrying_or_recording_a_run(incidents):
    sandbox, _ = incidents
    result = invoke(sandbox, {"since": "2026-10-02T00:00:00Z", "until": "2026-10-01T00:00:00Z"})
    assert result.status == "FAILED"
    assert result.error == "InvalidInputError"
    assert "until: 2026-10-01T00:00:00Z is not after since" in result.cause
    # Checked once by the intake, not retried; nothing after it ran, so no run was recorded (README).
    assert (attempts(result, "validate-request"), attempts(result, "fetch-initial")) == (1, 0)
    assert query(sandbox, "SELECT id FROM runs WHERE execution_id = %s", (result.arn,)) == []

    not_an_object = invoke(sandbox, [1, 2])
    assert not_an_object.status == "FAILED"
    assert not_an_object.error == "InvalidInputError"
    assert not_an_object.cause_text() == "InvalidInputError: input: must be a JSON object, got array [1, 2]"


def test_neither_the_pagerduty_token_nor_the_database_password_appears_in_history_or_logs(incidents):
    sandbox, fake = incidents
    fake.add_incidents(generate_incidents(20, DAY + timedelta(hours=20), DAY + timedelta(hours=21), seed=108))
    result = invoke(sandbox, window(20, 21))
    assert result.status == "SUCCEEDED", result.cause_text()

    secrets = [fake.token, incidents_database(sandbox).password]
    history = json.dumps(result.history, default=str)
    logs = sandbox.client("logs")
    groups = [
        g["logGroupName"]
        for g in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/sw-dev-incidents-")["logGroups"]
    ]
    assert len(groups) == 5  # the intake and the four steps
    messages = [e["message"] for g in groups for e in logs.filter_log_events(logGroupName=g)["events"]]
    assert any("incidents loaded" in m for m in messages)  # the functions did log
    for secret in secrets:
        assert secret not in history
        assert not any(secret in m for m in messages)
