"""The outcome of an execution, its result document and its timeline (rendered from a realistic history)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.approvals import outcome as o
from pipelines.common.errors import InvalidInputError

ARN = "arn:aws:states:eu-west-2:123456789012:execution:sw-dev-release-approval:run-1"
TOKEN = "AAAAKgAAAAIAAAAAAAAAAQ" + "x" * 600
T0 = datetime(2026, 12, 8, 1, 0, 0, 123000, tzinfo=UTC)
REQUEST = {"storyId": "PROJ-1", "packages": ["api"], "environment": "staging", "requester": "alice"}
DECISION = {"decision": "approved", "comment": "ok", "decidedBy": "Bob", "decidedAt": "2026-12-08T02:00:00.000Z"}
SERVICES = [
    {"service": "validation", "valid": True, "checks": [{"package": "api", "passed": True, "message": "ok"}]},
    {"service": "deployment", "deployments": [{"package": "api", "deploymentId": "d", "status": "deployed"}]},
    {"service": "notification", "notificationId": "n"},
]


def lambda_cause(message: str, error_type: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "requestId": "r", "stackTrace": ["  File x"]})


def history() -> list[dict]:
    """A history as GetExecutionHistory returns it: intake, load, the Parallel (a deployment retried
    after a 500), the wait (its parameters carry the task token), the callback's result."""
    events: list[dict] = []

    def add(seconds: float, kind: str, previous: int, **details) -> int:
        event = {"timestamp": T0 + timedelta(seconds=seconds), "type": kind, "id": len(events) + 1}
        event["previousEventId"] = previous
        event.update(details)
        events.append(event)
        return event["id"]

    def entered(seconds, kind, name, previous):
        details = {"name": name, "input": json.dumps({"taskToken": TOKEN, "secret": "payload"})}
        return add(seconds, kind, previous, stateEnteredEventDetails=details)

    def exited(seconds, kind, name, previous):
        return add(seconds, kind, previous, stateExitedEventDetails={"name": name, "output": '{"secret": "payload"}'})

    def lambda_task(seconds, name, previous, fail=None):
        e = entered(seconds, "TaskStateEntered", name, previous)
        s = add(seconds + 0.01, "TaskScheduled", e, taskScheduledEventDetails={
            "resourceType": "lambda", "resource": "invoke", "region": "eu-west-2",
            "parameters": json.dumps({"FunctionName": "f", "Payload": {"request": REQUEST}}),
        })  # fmt: skip
        if fail:
            cause = lambda_cause(fail[1], fail[0])
            s = add(seconds + 0.2, "TaskFailed", s, taskFailedEventDetails={
                "resourceType": "lambda", "resource": "invoke", "error": fail[0], "cause": cause,
            })  # fmt: skip
            s = add(seconds + 1.5, "TaskScheduled", s, taskScheduledEventDetails={"resource": "invoke"})
        s = add(seconds + 1.7, "TaskSucceeded", s, taskSucceededEventDetails={"output": '{"secret": "payload"}'})
        return exited(seconds + 1.7, "TaskStateExited", name, s)

    start = add(0, "ExecutionStarted", 0, executionStartedEventDetails={"input": json.dumps({"inputKey": "x"})})
    last = lambda_task(0.1, "ValidateInput", start)
    last = lambda_task(2.0, "LoadRequest", last)
    parallel = entered(4.0, "ParallelStateEntered", "CallServices", last)
    started = add(4.0, "ParallelStateStarted", parallel)
    ends = [
        lambda_task(4.1, "CallValidation", started),
        lambda_task(
            4.1, "CallDeployment", started, fail=("ServiceUnavailableError", "the deployment service answered 500")
        ),
        lambda_task(4.1, "CallNotification", started),
    ]
    done = add(6.0, "ParallelStateSucceeded", ends[-1])
    last = exited(6.0, "ParallelStateExited", "CallServices", done)
    wait = entered(6.1, "TaskStateEntered", "WaitForJiraCallback", last)
    scheduled = add(6.1, "TaskScheduled", wait, taskScheduledEventDetails={
        "resourceType": "lambda", "resource": "invoke.waitForTaskToken",
        "parameters": json.dumps({"Payload": {"taskToken": TOKEN}}), "timeoutInSeconds": 86400,
    })  # fmt: skip
    submitted = add(6.3, "TaskSubmitted", scheduled, taskSubmittedEventDetails={"output": "{}"})
    succeeded = add(3600.0, "TaskSucceeded", submitted, taskSucceededEventDetails={"output": json.dumps(DECISION)})
    last = exited(3600.0, "TaskStateExited", "WaitForJiraCallback", succeeded)
    entered(3600.1, "TaskStateEntered", "RecordOutcome", last)
    # As Step Functions lists them: in time order, the Parallel's branches interleaved.
    events.sort(key=lambda e: e["timestamp"])
    return events


def event(**changes) -> dict:
    base = {
        "executionArn": ARN,
        "executionName": "run-1",
        "startedAt": "2026-12-08T01:00:00.123Z",
        "input": {"inputKey": "inputs/rel.json"},
        "request": REQUEST,
        "services": SERVICES,
        "decision": DECISION,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


# -- the outcome ---------------------------------------------------------------------------------


def test_an_approval_is_approved_without_error():
    assert o.decide_outcome(event()) == o.Outcome("approved", decision=DECISION)


def test_a_rejection_carries_who_and_the_comment():
    cause = json.dumps({"decision": "rejected", "comment": "not  this\nweek", "decidedBy": "bob", "decidedAt": "t"})
    ended = o.decide_outcome(event(decision=..., error={"Error": "ReleaseRejected", "Cause": cause}))
    assert (ended.outcome, ended.error, ended.cause) == (
        "rejected",
        "ReleaseRejected",
        "rejected by bob: not this week",
    )
    assert ended.decision == {
        "decision": "rejected",
        "comment": "not  this\nweek",
        "decidedBy": "bob",
        "decidedAt": "t",
    }
    bare = o.decide_outcome(event(decision=..., error={"Error": "ReleaseRejected", "Cause": "not json"}))
    assert bare.cause == "rejected by unknown"


@pytest.mark.parametrize("error", ["States.Timeout", "States.HeartbeatTimeout"])
def test_a_wait_that_ran_out_is_no_decision(error):
    ended = o.decide_outcome(event(decision=..., waitEnded={"Error": error, "Cause": "x"}), wait_timeout_s=86_400)
    assert (ended.outcome, ended.error, ended.cause) == ("no-decision", "NoDecision", "no decision within 24 hours")
    shorter = o.decide_outcome(event(decision=..., waitEnded={"Error": error}), 5400)
    assert shorter.cause == "no decision within 90 minutes"


def test_another_tasks_timeout_is_a_failure_not_a_missing_decision():
    ended = o.decide_outcome(event(decision=..., error={"Error": "States.Timeout", "Cause": "LoadRequest"}))
    assert (ended.outcome, ended.error, ended.cause) == ("failed", "ReleaseStepFailed", "States.Timeout: LoadRequest")


@pytest.mark.parametrize(
    "error, name, cause",
    [
        ({"Error": "InvalidReleaseRequestError", "Cause": lambda_cause("storyId: is required", "X")},
         "InvalidReleaseRequestError", "storyId: is required"),
        ({"Error": "ValidationFailedError", "Cause": lambda_cause("validation failed for 1 of 2", "X")},
         "ValidationFailedError", "validation failed for 1 of 2"),
        ({"Error": "StoryAlreadyWaitingError", "Cause": "plain text"}, "StoryAlreadyWaitingError", "plain text"),
        # A Fail state may not raise a States.* name: the original leads the cause instead.
        ({"Error": "States.TaskFailed"}, "ReleaseStepFailed", "States.TaskFailed: States.TaskFailed"),
        ({"Cause": "x"}, "ReleaseStepFailed", "States.Unknown: x"),
        ({"Error": "ServiceAuthError", "Cause": lambda_cause("x" * 5000, "X")}, "ServiceAuthError", None),
        ({"Error": "X", "Cause": f"token {TOKEN} leaked"}, "X", "token [redacted] leaked"),
    ],
)  # fmt: skip
def test_anything_else_failed_with_its_error_and_a_short_cause(error, name, cause):
    ended = o.decide_outcome(event(decision=..., error=error))
    assert ended.outcome == "failed" and ended.error == name
    assert len(ended.cause) <= 500
    if cause is not None:
        assert ended.cause == cause


def test_neither_decision_nor_error_is_an_incomplete_failure():
    ended = o.decide_outcome(event(decision=...))
    assert (ended.outcome, ended.error) == ("failed", "IncompleteExecution")
    assert o.decide_outcome(event(decision={"decision": "maybe"})).outcome == "failed"


def test_keys_are_deterministic_and_the_name_is_checked():
    assert o.result_key("run-1") == "outputs/run-1/result.json" and o.log_key("run-1") == "logs/run-1/execution.log"
    assert o.execution_name(event()) == "run-1"
    for bad in ("", "a/b", "..", "x" * 81, None, 3, "a b"):
        with pytest.raises(InvalidInputError, match="executionName"):
            o.execution_name(event(executionName=bad))


def test_the_result_document_holds_request_services_decision_and_times():
    document = o.result_document(event(), o.decide_outcome(event()), "2026-12-08T02:00:01.000Z")
    assert document["outcome"] == "approved" and document["error"] is None
    assert document["services"]["deployment"]["deployments"][0]["deploymentId"] == "d"
    assert document["decision"]["decidedBy"] == "Bob" and document["finishedAt"] == "2026-12-08T02:00:01.000Z"
    assert document["request"] == REQUEST and document["input"] == {"inputKey": "inputs/rel.json"}
    error = {"Error": "E", "Cause": "c"}
    failed = o.result_document(
        event(services=..., decision=..., error=error), o.decide_outcome(event(error=error)), "t"
    )
    assert failed["services"] is None and failed["error"] == {"error": "E", "cause": "c"}
    odd = o.result_document(event(services=[{"x": 1}]), o.Outcome("approved"), "t")
    assert odd["services"] == [{"x": 1}]


# -- the timeline --------------------------------------------------------------------------------


def rendered() -> str:
    ended = o.decide_outcome(event())
    return o.timeline(
        history(), ended, started_at="2026-12-08T01:00:00.123Z", finished_at=T0 + timedelta(seconds=3600.5)
    )


def test_the_timeline_has_one_line_per_event_that_matters():
    lines = rendered().splitlines()
    assert lines[0] == "2026-12-08T01:00:00.123Z  +0.0s  execution  started"
    assert "2026-12-08T01:00:00.223Z  +0.1s  ValidateInput  entered" in lines
    assert "2026-12-08T01:00:06.223Z  +6.1s  WaitForJiraCallback  entered" in lines
    assert "2026-12-08T02:00:00.123Z  +3600.0s  WaitForJiraCallback  exited" in lines
    assert lines[-1] == "2026-12-08T02:00:00.623Z  +3600.5s  outcome  approved"
    assert not any("ParallelStateStarted" in line or "TaskSucceeded" in line for line in lines)


def test_a_retry_shows_as_a_failure_then_another_scheduling_of_the_same_state():
    deployment = [line.split("  ", 2)[2] for line in rendered().splitlines() if "CallDeployment" in line]
    assert deployment == [
        "CallDeployment  entered",
        "CallDeployment  task scheduled",
        "CallDeployment  task failed: ServiceUnavailableError: the deployment service answered 500",
        "CallDeployment  task scheduled",
        "CallDeployment  exited",
    ]


def test_the_timeline_never_shows_tokens_payloads_or_parameters():
    text = rendered()
    for leaked in (TOKEN[:40], "payload", "secret", "FunctionName", "requester", "inputKey", "stackTrace", "Bob"):
        assert leaked not in text


def test_the_outcome_line_says_why_for_a_failure():
    ended = o.decide_outcome(event(decision=..., error={"Error": "ReleaseRejected", "Cause": json.dumps(
        {"decision": "rejected", "comment": "ccc " * 100, "decidedBy": "bob"})}))  # fmt: skip
    last = o.timeline(history()[:3], ended, finished_at=T0 + timedelta(seconds=9)).splitlines()[-1]
    assert last.startswith("2026-12-08T01:00:09.123Z  +9.0s  outcome  rejected: ReleaseRejected: rejected by bob: ccc")
    assert len(last) < 260


def test_an_empty_or_odd_history_still_ends_with_the_outcome():
    text = o.timeline([], o.Outcome("failed", "E", "c"), finished_at=T0)
    assert text == "2026-12-08T01:00:00.123Z  +0.0s  outcome  failed: E: c\n"
    odd = [{"type": "TaskFailed", "timestamp": "not a time"}, {"id": "x"}, {"type": "Weird", "timestamp": 1.0}]
    assert o.timeline(odd, o.Outcome("approved"), finished_at=T0).endswith("outcome  approved\n")


def test_a_huge_history_is_cut_with_a_count():
    many = [
        {"type": "PassStateEntered", "id": i, "timestamp": T0, "stateEnteredEventDetails": {"name": "P"}}
        for i in range(1, o.MAX_LOG_LINES + 11)
    ]
    lines = o.timeline(many, o.Outcome("approved"), finished_at=T0).splitlines()
    assert lines[-2] == "… 10 more events not shown" and len(lines) == o.MAX_LOG_LINES + 2


def test_durations_in_words():
    assert [o.duration_words(s) for s in (86_400, 3600, 5400, 60, 45, 1)] == [
        "24 hours", "1 hour", "90 minutes", "1 minute", "45 seconds", "1 second",
    ]  # fmt: skip
