"""The four handlers end to end: moto Secrets Manager, a TLS PostgreSQL server, the PagerDuty fake."""

import json
from datetime import timedelta
from pathlib import Path

import pytest

from infra.sandbox.fakes.pagerduty import generate_incidents
from infra.sandbox.postgres import TemporaryPostgres
from pipelines.common.errors import ConfigurationError, InvalidInputError, UpstreamAuthError
from pipelines.common.secrets import reset_secret_cache
from pipelines.incidents import handlers, intake
from pipelines.incidents.errors import DatabaseUnavailableError

from .conftest import SINCE, UNTIL, put_secret

EVENTS = Path(__file__).resolve().parents[2] / "events"
WINDOW = {"since": "2026-03-01T00:00:00Z", "until": "2026-03-02T00:00:00Z"}


def event(name: str) -> dict:
    return json.loads((EVENTS / f"incidents_{name}.json").read_text())


def run_all(context, body=None):
    initial = handlers.fetch_initial(WINDOW if body is None else body, context)
    complete = handlers.fetch_complete(initial, context)
    return initial, complete, handlers.validate(complete, context)


def test_a_clean_run_loads_everything_and_validates(handler_env, lambda_context):
    handler_env.pagerduty.add_incidents(generate_incidents(340, SINCE, UNTIL))
    initial, complete, validated = run_all(lambda_context, event("fetch_initial"))
    assert initial["success"] and initial["expected_count"] == 340 and initial["migrations_applied"] == [1, 2]
    assert complete["success"] and complete["loaded_count"] == 340 and complete["run_id"] == initial["run_id"]
    assert validated["success"] and validated["failed_rules"] == []
    assert {r["rule"] for r in validated["rules"]} >= {"row_count_matches_total", "resolved_after_created"}
    db = handler_env.database
    assert db.scalar("SELECT state FROM runs WHERE id = %s", (initial["run_id"],)) == "validated"
    assert db.scalar("SELECT count(*) FROM validation_results WHERE passed") == 7
    json.dumps([initial, complete, validated])  # every output is a valid state payload


def test_the_sample_events_drive_the_steps_of_a_fresh_database(handler_env, lambda_context):
    handler_env.pagerduty.add_incidents(generate_incidents(40, SINCE, UNTIL))
    assert handlers.fetch_initial(WINDOW, lambda_context)["run_id"] == 1  # the samples name run 1
    assert handlers.fetch_complete(event("fetch_complete"), lambda_context)["loaded_count"] == 40
    validated = handlers.validate(event("validate"), lambda_context)
    assert validated["success"] and validated["expected_count"] == 40


def test_a_second_execution_applies_no_migration_and_duplicates_nothing(handler_env, lambda_context):
    handler_env.pagerduty.add_incidents(generate_incidents(50, SINCE, UNTIL))
    run_all(lambda_context)
    initial, _, validated = run_all(lambda_context)
    assert initial["migrations_applied"] == [] and validated["success"]
    assert handler_env.database.scalar("SELECT count(*) FROM incidents") == 50


def test_the_wrapped_form_reuses_the_run_of_a_retried_fetch_initial(handler_env, lambda_context):
    wrapped = event("fetch_initial_wrapped")
    first = handlers.fetch_initial(wrapped, lambda_context)
    again = handlers.fetch_initial(wrapped, lambda_context)
    assert first["run_id"] == again["run_id"] and first["execution_id"] == wrapped["execution_id"]


def test_filters_reach_pagerduty_and_the_count_matches(handler_env, lambda_context):
    handler_env.pagerduty.add_incidents(generate_incidents(90, SINCE, UNTIL))
    body = {**WINDOW, "statuses": ["resolved"], "service_ids": ["PSVC003"]}
    initial, complete, validated = run_all(lambda_context, body)
    expected = sum(
        1 for i in handler_env.pagerduty.incidents if i["status"] == "resolved" and i["service"]["id"] == "PSVC003"
    )
    assert initial["expected_count"] == complete["loaded_count"] == expected > 0
    assert validated["success"]


def test_more_than_10000_incidents_load_through_a_split_window(handler_env, lambda_context):
    handler_env.pagerduty.add_incidents(generate_incidents(12_000, SINCE, UNTIL))
    initial, complete, validated = run_all(lambda_context)
    assert initial["expected_count"] == 12_000
    assert complete["loaded_count"] == 12_000 and complete["windows"] == 2
    assert validated["success"]


def test_a_bad_incident_fails_validation_and_the_report_names_it(handler_env, lambda_context):
    handler_env.pagerduty.add_incidents(generate_incidents(40, SINCE, UNTIL))
    bad = handler_env.pagerduty.inject_bad_incident(SINCE + timedelta(hours=3), number=1_000)
    _, _, validated = run_all(lambda_context)
    assert validated["success"] is False
    assert validated["failed_rules"] == ["resolved_after_created"]
    rule = next(r for r in validated["rules"] if r["rule"] == "resolved_after_created")
    assert rule["sample_ids"] == [bad["id"]] and rule["offending_count"] == 1
    stored = handler_env.database.scalar(
        "SELECT offending_ids FROM validation_results WHERE rule = 'resolved_after_created'"
    )
    assert stored == [bad["id"]]

    outcome = handlers.handle_error(validated, lambda_context)
    assert outcome["error"] == "ValidationFailed" and "resolved_after_created" in outcome["cause"]
    assert outcome["run_marked_failed"] is True
    assert handler_env.database.scalar("SELECT state FROM runs WHERE id = %s", (validated["run_id"],)) == "failed"


def test_a_wrong_token_is_an_auth_error_and_the_run_holds_no_rows(handler_env, lambda_context, monkeypatch):
    handler_env.pagerduty.add_incidents(generate_incidents(20, SINCE, UNTIL))
    initial = handlers.fetch_initial(WINDOW, lambda_context)
    monkeypatch.setenv("PAGERDUTY_TOKEN_SECRET_ARN", put_secret("incidents/pagerduty-wrong", "not-the-token"))
    reset_secret_cache()
    with pytest.raises(UpstreamAuthError, match="401"):
        handlers.fetch_complete(initial, lambda_context)
    db = handler_env.database
    assert db.scalar("SELECT count(*) FROM run_incidents WHERE run_id = %s", (initial["run_id"],)) == 0
    assert db.scalar("SELECT count(*) FROM incidents") == 0


def test_a_wrong_token_at_the_first_step_is_recorded_through_the_execution_id(handler_env, lambda_context, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_TOKEN_SECRET_ARN", put_secret("incidents/pagerduty-wrong", "not-the-token"))
    wrapped = event("fetch_initial_wrapped")
    with pytest.raises(UpstreamAuthError) as caught:
        handlers.fetch_initial(wrapped, lambda_context)
    cause = json.dumps({"errorMessage": str(caught.value), "errorType": type(caught.value).__name__})
    outcome = handlers.handle_error(
        {**wrapped, "error": {"Error": "UpstreamAuthError", "Cause": cause}}, lambda_context
    )
    assert outcome["error"] == "UpstreamAuthError" and "401" in outcome["cause"]
    assert outcome["run_marked_failed"] is True
    assert (
        handler_env.database.scalar("SELECT state FROM runs WHERE execution_id = %s", (wrapped["execution_id"],))
        == "failed"
    )


def test_handle_error_accepts_the_sample_events(handler_env, lambda_context):
    caught = handlers.handle_error(event("handle_error_caught"), lambda_context)
    assert caught["error"] == "UpstreamAuthError" and caught["cause"].startswith("PagerDuty refused")
    assert caught["run_marked_failed"] is False  # no run 1 in this database (not even the tables)
    assert handlers.handle_error(event("handle_error_validation"), lambda_context)["error"] == "ValidationFailed"


def test_handle_error_never_raises_when_the_database_is_unreachable(handler_env, lambda_context, monkeypatch):
    monkeypatch.setenv("DB_PORT", "9")
    outcome = handlers.handle_error({"run_id": 4, "Error": "DatabaseUnavailableError", "Cause": "gone"}, lambda_context)
    assert outcome == {"error": "DatabaseUnavailableError", "cause": "gone", "run_id": 4, "run_marked_failed": False}


@pytest.mark.parametrize("bad", [None, "text", [1], {"Error": 5}])
def test_handle_error_describes_malformed_events(handler_env, lambda_context, bad):
    outcome = handlers.handle_error(bad, lambda_context)
    assert outcome["error"] and outcome["run_marked_failed"] is False


@pytest.mark.parametrize(
    ("handler", "bad_event", "field"),
    [
        ("fetch_initial", {"since": "last week"}, "since"),
        ("fetch_initial", {"statuses": ["open"]}, "statuses"),
        ("fetch_initial", ["not", "an", "object"], "input"),
        ("fetch_initial", {"request": {}, "execution_id": ""}, "execution_id"),
        ("fetch_complete", {}, "run_id"),
        ("fetch_complete", {"run_id": "1", **WINDOW}, "run_id"),
        ("fetch_complete", {"run_id": 1, "until": "2026-03-02T00:00:00Z"}, "since"),
        ("fetch_complete", {"run_id": 999, **WINDOW}, "run_id"),
        ("validate", {"run_id": True}, "run_id"),
        ("validate", {"run_id": 999}, "run_id"),
        ("validate", "not json", "body"),
    ],
)
def test_malformed_events_raise_invalid_input_naming_the_field(handler_env, lambda_context, handler, bad_event, field):
    handlers.fetch_initial(WINDOW, lambda_context)  # the schema exists, run 1 exists
    with pytest.raises(InvalidInputError) as caught:
        getattr(handlers, handler)(bad_event, lambda_context)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("bad_event", "field"),
    [
        (["not", "an", "object"], "input"),
        ({"since": "last week"}, "since"),
        ({"sinse": "2026-01-01T00:00:00Z"}, "sinse"),
    ],
)
def test_the_intake_names_the_field_and_needs_no_database(lambda_context, bad_event, field):
    with pytest.raises(InvalidInputError) as caught:
        intake.validate_request(bad_event, lambda_context)
    assert caught.value.field == field
    assert intake.validate_request({"statuses": ["resolved"]}, lambda_context)["statuses"] == ["resolved"]


def test_missing_settings_are_configuration_errors(handler_env, lambda_context, monkeypatch):
    monkeypatch.delenv("DB_HOST")
    with pytest.raises(ConfigurationError, match="DB_HOST"):
        handlers.fetch_initial(WINDOW, lambda_context)


def test_a_server_the_ca_does_not_vouch_for_is_refused(handler_env, lambda_context, monkeypatch):
    if handler_env.env["DB_SSLMODE"] != "verify-full":
        pytest.skip("needs a server with TLS")
    monkeypatch.delenv("DB_SSLROOTCERT")  # falls back to the bundled Amazon RDS CAs
    with pytest.raises(ConfigurationError, match="certificate"):
        handlers.fetch_initial(WINDOW, lambda_context)


def test_the_database_going_away_mid_run_is_retryable_and_leaves_whole_batches(
    handler_env, lambda_context, monkeypatch
):
    if handler_env.database.server.external:
        pytest.skip("needs a server this test can stop")
    with TemporaryPostgres() as own:
        monkeypatch.setenv("DB_PORT", str(own.port))
        monkeypatch.setenv("DB_NAME", own.dbname)
        monkeypatch.setenv("DB_SSLMODE", "disable")
        monkeypatch.setenv(
            "DB_SECRET_ARN",
            put_secret("incidents/own-db", json.dumps({"username": own.user, "password": own.password})),
        )
        monkeypatch.setenv("LOAD_BATCH_SIZE", "500")
        fake = handler_env.pagerduty
        fake.add_incidents(generate_incidents(2_000, SINCE, UNTIL))
        initial = handlers.fetch_initial(WINDOW, lambda_context)

        def pull_the_plug(request):
            if request.query.get("offset") == ["1200"]:
                own.stop()

        fake.on_request = pull_the_plug
        with pytest.raises(DatabaseUnavailableError):
            handlers.fetch_complete(initial, lambda_context)
        fake.on_request = None
        own.start()
        with own.connect() as conn:
            linked = conn.execute("SELECT count(*) FROM run_incidents").fetchone()[0]
            stored = conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
        assert linked == stored == 1_000  # two whole batches of 500, nothing of the third

        complete = handlers.fetch_complete(initial, lambda_context)  # the state machine's retry
        assert complete["loaded_count"] == 2_000
        assert handlers.validate(complete, lambda_context)["success"]
