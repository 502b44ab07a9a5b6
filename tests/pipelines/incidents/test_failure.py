"""describe_failure: what the error handler makes of each shape it can be given."""

import json

import pytest

from pipelines.incidents.failure import describe_failure


def test_a_catch_result_under_error_with_a_lambda_cause():
    cause = json.dumps(
        {"errorMessage": "PagerDuty refused the API token (401)", "errorType": "UpstreamAuthError", "stackTrace": []}
    )
    failure = describe_failure(
        {"run_id": 7, "execution_id": "arn:x", "error": {"Error": "UpstreamAuthError", "Cause": cause}}
    )
    assert failure.error == "UpstreamAuthError"
    assert failure.cause == "PagerDuty refused the API token (401)"
    assert (failure.run_id, failure.execution_id) == (7, "arn:x")


def test_a_bare_catch_result_with_a_plain_cause():
    failure = describe_failure({"Error": "States.Timeout", "Cause": "task timed out"})
    assert (failure.error, failure.cause, failure.run_id) == ("States.Timeout", "task timed out", None)


def test_a_validation_failure_lists_the_failed_rules():
    failure = describe_failure(
        {"success": False, "run_id": 3, "failed_rules": ["row_count_matches_total", "service_known"]}
    )
    assert failure.error == "ValidationFailed"
    assert failure.cause == "validation rules failed: row_count_matches_total, service_known"
    assert failure.run_id == 3


def test_success_false_without_rules_and_a_missing_success_flag():
    assert describe_failure({"success": False, "reason": "nothing to do"}).cause == "nothing to do"
    missing = describe_failure({"run_id": 2})
    assert (missing.error, missing.cause) == ("StepFailed", "a step returned no success flag")


@pytest.mark.parametrize("event", [None, "boom", 42, ["a"]])
def test_anything_else_is_described_not_raised(event):
    failure = describe_failure(event)
    assert failure.error == "UnknownError" and failure.run_id is None


@pytest.mark.parametrize("run_id", ["7", True, -1, 0])
def test_an_implausible_run_id_is_ignored(run_id):
    assert describe_failure({"run_id": run_id, "Error": "X", "Cause": "y"}).run_id is None
