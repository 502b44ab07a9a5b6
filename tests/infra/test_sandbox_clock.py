"""The sandbox clock (infra/sandbox/clock.py) and callback semantics as in AWS (infra/sandbox/callbacks.py).

Each test measures wall time: a day-long wait or a backoff schedule must cost well under a second,
while the execution's history shows the time the definition asked for.
"""

from __future__ import annotations

import datetime
import itertools
import json
import logging
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from infra.sandbox import interpreter
from infra.sandbox.core import Sandbox
from pipelines.common import clock as function_clock

DAY = 86_400


@pytest.fixture(scope="module")
def sandbox():
    logging.getLogger("moto").setLevel(logging.CRITICAL)
    with Sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def queue(sandbox) -> dict:
    """A queue the callback tasks hand their token to (``sqs:sendMessage.waitForTaskToken``)."""
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName=f"tokens-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"url": url, "arn": arn}


def machine(sandbox, definition: dict, *grants: dict) -> str:
    iam, name = sandbox.client("iam"), f"m-{uuid.uuid4().hex[:8]}"
    trust = {"Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [trust]})
    )
    if grants:
        policy = {"Version": "2012-10-17", "Statement": list(grants)}
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return sandbox.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role["Role"]["Arn"]
    )["stateMachineArn"]


def callback_machine(sandbox, queue, *, timeout_s: int, heartbeat_s: int | None = None, machine_timeout_s=None):
    """Wait for a token sent to ``queue``; a timeout or a reported failure is caught and named."""
    wait = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue["url"], "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": timeout_s,
        "Catch": [
            {"ErrorEquals": ["States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "MissedHeartbeat"},
            {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.error", "Next": "TimedOut"},
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Reported"},
        ],
        "End": True,
    }
    if heartbeat_s:
        wait["HeartbeatSeconds"] = heartbeat_s
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": wait,
            "MissedHeartbeat": {"Type": "Pass", "Result": "heartbeat", "ResultPath": "$.caught", "End": True},
            "TimedOut": {"Type": "Pass", "Result": "timeout", "ResultPath": "$.caught", "End": True},
            "Reported": {"Type": "Pass", "Result": "failure", "ResultPath": "$.caught", "End": True},
        },
    }
    if machine_timeout_s:
        definition["TimeoutSeconds"] = machine_timeout_s
    return machine(sandbox, definition, {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": queue["arn"]})


def token_of(sandbox, queue) -> str:
    """The task token the waiting task sent (waits for the message, in real time, briefly)."""
    sqs = sandbox.client("sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue["url"], MaxNumberOfMessages=1).get("Messages", [])
        if messages:
            sqs.delete_message(QueueUrl=queue["url"], ReceiptHandle=messages[0]["ReceiptHandle"])
            return json.loads(messages[0]["Body"])["token"]
        time.sleep(0.01)
    raise AssertionError("the waiting task sent no token")


def until_armed(sandbox, arn: str) -> None:
    """Until the execution's callback wait is armed on the clock (a moment after its token was sent)."""
    deadline = time.monotonic() + 10
    while not sandbox.waits_for_callback(arn):
        assert time.monotonic() < deadline, f"{arn} never waited for its token"
        time.sleep(0.005)


def advance_until_ended(sandbox, arn: str, step_s: float):
    """Advance the clock a step at a time (a waiting thread re-arms in real time) until ``arn`` ends."""
    sfn = sandbox.client("stepfunctions")
    for _ in range(100):
        sandbox.clock.advance(step_s)
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            return sandbox.wait(arn)
        time.sleep(0.02)
    raise AssertionError(f"{arn} still running")


def gap_s(history: list[dict], first: str, then: str) -> float:
    """Seconds between the first events of types ``first`` and ``then``."""
    stamps = {}
    for event in history:
        stamps.setdefault(event["type"], event["timestamp"])
    return (stamps[then] - stamps[first]).total_seconds()


def test_a_day_long_wait_state_passes_at_once_and_its_history_shows_the_day(sandbox):
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": DAY, "End": True}}}
    started = time.monotonic()
    result = sandbox.wait(sandbox.start(machine(sandbox, definition), {}))
    assert time.monotonic() - started < 1.5
    assert result.status == "SUCCEEDED"
    assert gap_s(result.history, "WaitStateEntered", "WaitStateExited") == pytest.approx(DAY, abs=1)
    assert result.duration_s == pytest.approx(DAY, abs=2)


def test_retries_at_2_4_and_8_seconds_take_no_wall_time_and_keep_their_schedule(sandbox):
    failing = {
        "Type": "Task",
        "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": f"missing-{uuid.uuid4().hex[:8]}", "Key": "k"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 2, "BackoffRate": 2, "MaxAttempts": 3}],
        "End": True,
    }
    grant = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}
    before = len(interpreter.RETRY_WAITS)
    started = time.monotonic()
    result = sandbox.wait(sandbox.start(machine(sandbox, {"StartAt": "Get", "States": {"Get": failing}}, grant), {}))
    assert time.monotonic() - started < 1.0
    assert result.status == "FAILED"
    assert interpreter.RETRY_WAITS[before:] == [2, 4, 8]
    scheduled = [e["timestamp"] for e in result.history if e["type"] == "TaskScheduled"]
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(scheduled)]
    assert gaps == [pytest.approx(2, abs=0.5), pytest.approx(4, abs=0.5), pytest.approx(8, abs=0.5)]


def test_a_day_long_callback_wait_times_out_when_the_clock_is_advanced_and_the_timeout_is_caught(sandbox, queue):
    arn = sandbox.start(callback_machine(sandbox, queue, timeout_s=DAY), {})
    token_of(sandbox, queue)
    until_armed(sandbox, arn)
    started = time.monotonic()
    sandbox.clock.advance(DAY - 60)
    time.sleep(0.1)  # real time for the waiting thread to look at the clock: not yet due
    assert sandbox.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
    sandbox.clock.advance(61)
    result = sandbox.wait(arn, timeout_s=5)
    assert time.monotonic() - started < 1.5
    assert result.status == "SUCCEEDED"
    assert result.output["caught"] == "timeout"
    assert result.output["error"]["Error"] == "States.Timeout"


def test_a_missed_heartbeat_is_states_heartbeat_timeout_as_in_aws(sandbox, queue):
    arn = sandbox.start(callback_machine(sandbox, queue, timeout_s=3600, heartbeat_s=60), {})
    token = token_of(sandbox, queue)
    sandbox.clock.advance(30)
    sandbox.client("stepfunctions").send_task_heartbeat(taskToken=token)
    # The heartbeat restarts the 60 s from when the task takes it, a moment later in real time.
    result = advance_until_ended(sandbox, arn, step_s=61)
    assert result.output["caught"] == "heartbeat"
    assert result.output["error"]["Error"] == "States.HeartbeatTimeout"


def test_a_token_reports_once_then_every_report_is_task_timed_out_as_in_aws(sandbox, queue):
    sfn = sandbox.client("stepfunctions")
    arn = sandbox.start(callback_machine(sandbox, queue, timeout_s=3600), {"story": "PROJ-1"})
    token = token_of(sandbox, queue)
    sfn.send_task_success(taskToken=token, output=json.dumps({"decision": "approved"}))
    # While the execution may still be finishing, and after it ended: the token is spent.
    for attempt in ("success at once", "success after the end", "failure", "heartbeat"):
        if attempt == "success after the end":
            assert sandbox.wait(arn, timeout_s=5).output == {"decision": "approved"}
        with pytest.raises(ClientError) as refused:
            if attempt.startswith("success"):
                sfn.send_task_success(taskToken=token, output="{}")
            elif attempt == "failure":
                sfn.send_task_failure(taskToken=token, error="Late", cause="too late")
            else:
                sfn.send_task_heartbeat(taskToken=token)
        assert refused.value.response["Error"]["Code"] == "TaskTimedOut", attempt


def test_a_failure_report_carries_its_cause_and_a_duplicate_is_refused(sandbox, queue):
    sfn = sandbox.client("stepfunctions")
    arn = sandbox.start(callback_machine(sandbox, queue, timeout_s=3600), {})
    token = token_of(sandbox, queue)
    sfn.send_task_failure(taskToken=token, error="ReleaseRejected", cause='{"decision": "rejected"}')
    with pytest.raises(ClientError) as duplicate:
        sfn.send_task_failure(taskToken=token, error="ReleaseRejected", cause="again")
    assert duplicate.value.response["Error"]["Code"] == "TaskTimedOut"
    result = sandbox.wait(arn, timeout_s=5)
    assert result.output["caught"] == "failure"
    assert result.output["error"] == {"Error": "ReleaseRejected", "Cause": '{"decision": "rejected"}'}


def test_a_waiting_task_is_told_apart_from_one_that_got_its_report(sandbox, queue):
    arn = sandbox.start(callback_machine(sandbox, queue, timeout_s=3600), {})
    token = token_of(sandbox, queue)
    until_armed(sandbox, arn)
    sandbox.client("stepfunctions").send_task_success(taskToken=token, output="{}")
    sandbox.wait(arn, timeout_s=5)
    assert not sandbox.waits_for_callback(arn)


def test_a_token_no_execution_issued_is_an_invalid_token(sandbox):
    with pytest.raises(ClientError) as refused:
        sandbox.client("stepfunctions").send_task_success(taskToken="not-a-token", output="{}")
    assert refused.value.response["Error"]["Code"] == "InvalidToken"


def test_the_execution_timeout_is_on_the_clock(sandbox, queue):
    arn = sandbox.start(callback_machine(sandbox, queue, timeout_s=7200, machine_timeout_s=3600), {})
    token = token_of(sandbox, queue)
    until_armed(sandbox, arn)
    sandbox.clock.advance(3601)
    result = sandbox.wait(arn, timeout_s=5)
    assert result.status == "TIMED_OUT"
    with pytest.raises(ClientError) as refused:
        sandbox.client("stepfunctions").send_task_success(taskToken=token, output="{}")
    assert refused.value.response["Error"]["Code"] == "TaskTimedOut"


def test_functions_read_and_pause_on_the_same_clock(sandbox):
    before = function_clock.now()
    sandbox.clock.advance(3600)
    assert function_clock.now() - before == pytest.approx(3600, abs=1)
    started = time.monotonic()
    function_clock.sleep(120)
    assert time.monotonic() - started < 0.1
    assert function_clock.now() - before == pytest.approx(3720, abs=1)
    assert function_clock.utc_now() - datetime.datetime.now(datetime.UTC) > datetime.timedelta(seconds=3700)
