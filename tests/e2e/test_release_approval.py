"""release-approval, end to end: a request under inputs/ → services → a Jira decision → results in S3.

Every run starts as users start it: the request is uploaded under ``inputs/`` (S3 → EventBridge →
router → the run), or started with ``{"inputKey"}``. The three services and Jira are loopback
fakes (``infra/sandbox/fakes``); Jira Automation's callback is sent by ``JiraAutomation`` to the
real HTTP API route with the shared secret read from the pipeline's secret. Waits run on the
sandbox clock: a day-long approval wait times out when a test advances it.

Each test uses its own Jira story (``story()``), so token items and runs never meet.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid

import pytest

from infra.sandbox.approvals import PIPELINE, jira, outputs_of, request_release, until_waiting

DEPLOYED = [PIPELINE]
DAY_S = 86_400
_stories = itertools.count(100)


def story() -> str:
    return f"REL-{next(_stories)}"


def release(story_id: str, packages=("billing-api@2.4.1", "web@7.0.0"), **extra) -> dict:
    return {
        "storyId": story_id,
        "packages": list(packages),
        "environment": "staging",
        "requester": "alice@example.com",
        **extra,
    }


@pytest.fixture
def fakes(sandbox):
    services = sandbox.services[PIPELINE].services
    jira_fake = sandbox.services[PIPELINE].jira
    services.reset(services.tokens)
    return services, jira_fake


def token_item(sandbox, story_id: str) -> dict | None:
    table = sandbox.outputs(PIPELINE)["tokenTableName"]
    item = sandbox.client("dynamodb").get_item(TableName=table, Key={"storyId": {"S": story_id}}, ConsistentRead=True)
    return item.get("Item")


def started(sandbox, request: dict) -> str:
    run = request_release(sandbox, f"{request['storyId']}-{uuid.uuid4().hex[:6]}.json", request)
    return run.execution_arn


def waiting(sandbox, request: dict) -> str:
    arn = started(sandbox, request)
    assert until_waiting(sandbox, arn), sandbox.wait(arn).cause_text()
    return arn


def states_entered(result) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in result.history if e["type"].endswith("StateEntered")]


def test_an_approved_release_succeeds_and_writes_its_result_and_log(sandbox, fakes):
    services, jira_fake = fakes
    story_id = story()
    arn = waiting(sandbox, release(story_id))
    item = token_item(sandbox, story_id)
    assert item["status"]["S"] == "PENDING" and item["executionArn"]["S"] == arn
    # The comment on the issue says how to decide (the pipeline's Jira client, best effort).
    assert any("approval" in text.lower() for text in jira_fake.comment_texts(story_id))

    status, body = jira(sandbox).send(story_id, "approved", "ship it", "bob@example.com")
    assert status == 202, body
    result = sandbox.wait(arn)
    assert result.status == "SUCCEEDED", result.cause_text()
    assert result.transitions <= 12  # the seed's design took about 25
    document, log = outputs_of(sandbox, arn)
    assert document["outcome"] == "approved"
    assert document["request"]["storyId"] == story_id
    assert document["decision"]["decision"] == "approved"
    assert document["decision"]["decidedBy"] == "bob@example.com"
    assert document["decision"]["comment"] == "ship it"
    by_service = document["services"]
    assert set(by_service) == {"validation", "deployment", "notification"}
    assert [d["package"] for d in by_service["deployment"]["deployments"]] == ["billing-api@2.4.1", "web@7.0.0"]
    assert len(services.performed("deployment")) == 2
    for state in ("LoadRequest", "CallServices", "WaitForJiraCallback", "RecordOutcome"):
        assert state in log
    assert "approved" in log.splitlines()[-1]
    assert token_item(sandbox, story_id)["status"]["S"] == "DONE"


def test_a_rejected_release_fails_with_the_decision_as_its_cause_and_writes_both_objects(sandbox, fakes):
    story_id = story()
    arn = waiting(sandbox, release(story_id))
    status, _ = jira(sandbox).send(story_id, "rejected", "not this week", "carol@example.com")
    assert status == 202
    result = sandbox.wait(arn)
    assert result.status == "FAILED"
    assert result.error == "ReleaseRejected"
    assert "carol@example.com" in result.cause and "not this week" in result.cause
    document, log = outputs_of(sandbox, arn)
    assert document["outcome"] == "rejected" and document["decision"]["decision"] == "rejected"
    assert log is not None and "rejected" in log


def test_a_duplicate_callback_resumes_once_and_is_answered_already_decided(sandbox, fakes):
    story_id = story()
    arn = waiting(sandbox, release(story_id))
    automation = jira(sandbox)
    assert automation.send(story_id, "approved", "first")[0] == 202
    status, body = automation.send(story_id, "rejected", "second thoughts")
    assert status == 200
    assert body["status"] == "already decided" and body["decision"] == "approved"
    result = sandbox.wait(arn)
    assert result.status == "SUCCEEDED"
    resumed = [
        e for e in result.history if e["type"] in ("TaskSucceeded", "TaskFailed") and "waitForTaskToken" in str(e)
    ]
    assert len(resumed) == 1
    # After the run ended, the same callback still gets the same answer.
    assert automation.send(story_id, "approved", "again") == (200, body)


def test_a_forged_or_missing_secret_is_401_and_the_execution_keeps_waiting(sandbox, fakes):
    story_id = story()
    arn = waiting(sandbox, release(story_id))
    forged = jira(sandbox, secret="x" * 64)
    assert forged.send(story_id, "approved")[0] == 401
    status, _ = forged.send_raw(json.dumps({"issueKey": story_id, "decision": "approved"}).encode(), headers={})
    assert status == 401
    assert token_item(sandbox, story_id)["status"]["S"] == "PENDING"
    assert sandbox.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert jira(sandbox).send(story_id, "approved")[0] == 202
    assert sandbox.wait(arn).status == "SUCCEEDED"


@pytest.mark.parametrize(
    "body, field",
    [
        (b"[1, 2]", "body"),
        (b"null", "body"),
        (b"not json", "body"),
        (json.dumps({"decision": "approved"}).encode(), "issueKey"),
        (json.dumps({"issueKey": "REL-1", "decision": "maybe"}).encode(), "decision"),
        (json.dumps({"issueKey": "REL-1", "decision": "approved", "extra": 1}).encode(), "extra"),
        (json.dumps({"issueKey": "REL-1", "decision": "approved", "comment": 5}).encode(), "comment"),
        (json.dumps({"issueKey": "REL-1", "decision": "approved", "comment": "\ud800"}).encode(), "comment"),
    ],
)
def test_a_malformed_callback_body_is_400_naming_the_field(sandbox, body, field):
    status, answer = jira(sandbox).send_raw(body)
    assert status == 400, answer
    assert field in answer["message"]


def test_a_callback_for_an_unknown_story_is_404(sandbox):
    assert jira(sandbox).send("NOPE-1", "approved")[0] == 404


def test_no_decision_within_the_wait_is_recorded_the_token_closed_and_a_late_callback_is_410(sandbox, fakes):
    story_id = story()
    arn = waiting(sandbox, release(story_id))
    wall = time.monotonic()
    sandbox.clock.advance(DAY_S + 1)
    result = sandbox.wait(arn, timeout_s=30)
    assert time.monotonic() - wall < 5  # a day's wait, timed out in no time
    assert result.status == "FAILED" and result.error == "NoDecision"
    document, log = outputs_of(sandbox, arn)
    assert document["outcome"] == "no-decision"
    assert "no decision" in log.lower()
    assert token_item(sandbox, story_id)["status"]["S"] == "TIMED_OUT"
    assert jira(sandbox).send(story_id, "approved")[0] == 410


def test_the_deployment_service_failing_once_is_retried_with_the_same_idempotency_key(sandbox, fakes):
    services, _ = fakes
    services.fail_next("deployment", 500)
    story_id = story()
    arn = waiting(sandbox, release(story_id, packages=("api@1.0.0",)))
    keys = [call.headers.get("idempotency-key") for call in services.calls("deployment")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(services.performed("deployment")) == 1
    assert jira(sandbox).send(story_id, "approved")[0] == 202
    assert sandbox.wait(arn).status == "SUCCEEDED"


def test_the_validation_service_refusing_the_token_fails_before_the_wait_with_no_token_stored(sandbox, fakes):
    services, _ = fakes
    services.fail_next("validation", 401, times=5)
    story_id = story()
    arn = started(sandbox, release(story_id))
    result = sandbox.wait(arn)
    assert result.status == "FAILED" and result.error == "ServiceAuthError"
    assert "WaitForJiraCallback" not in states_entered(result)
    assert token_item(sandbox, story_id) is None
    assert len(services.calls("validation")) == 1  # a 401 is never retried
    document, _ = outputs_of(sandbox, arn)
    assert document["outcome"] == "failed" and "validation" in document["error"]["cause"]


def test_a_second_request_for_a_story_already_waiting_fails_clearly_and_leaves_the_first_waiting(sandbox, fakes):
    story_id = story()
    first = waiting(sandbox, release(story_id))
    second = started(sandbox, release(story_id, packages=("other@1.0.0",)))
    result = sandbox.wait(second)
    assert result.status == "FAILED" and result.error == "StoryAlreadyWaitingError"
    assert first.rsplit(":", 1)[1] in result.cause  # names the execution already waiting
    item = token_item(sandbox, story_id)
    assert item["status"]["S"] == "PENDING" and item["executionArn"]["S"] == first
    assert jira(sandbox).send(story_id, "approved")[0] == 202
    assert sandbox.wait(first).status == "SUCCEEDED"


def test_a_manual_start_with_the_input_key_reruns_a_request_whose_upload_run_failed(sandbox, fakes):
    services, _ = fakes
    services.fail_next("validation", 401)  # the token was wrong when the request was uploaded
    story_id = story()
    run = request_release(sandbox, f"{story_id}.json", release(story_id))
    assert sandbox.wait(run.execution_arn).error == "ServiceAuthError"
    outputs = sandbox.outputs(PIPELINE)
    rerun = sandbox.start(outputs["stateMachineArn"], {"inputKey": run.key})  # fixed: run it again by hand
    assert until_waiting(sandbox, rerun)
    assert jira(sandbox).send(story_id, "approved")[0] == 202
    result = sandbox.wait(rerun)
    assert result.status == "SUCCEEDED"
    assert outputs_of(sandbox, rerun)[0]["request"]["inputKey"] == run.key


@pytest.mark.parametrize(
    "document, error, field",
    [
        (b"not json", "InvalidReleaseRequestError", "document: is not JSON"),
        (json.dumps({"storyId": "lowercase-1", "packages": ["a"], "environment": "staging",
                     "requester": "a"}).encode(), "InvalidReleaseRequestError", "storyId"),
        (json.dumps({**release("REL-9"), "environment": "moon"}).encode(), "InvalidReleaseRequestError", "environment"),
        (json.dumps({**release("REL-9"), "surprise": True}).encode(), "InvalidReleaseRequestError", "surprise"),
    ],
)  # fmt: skip
def test_a_bad_request_document_fails_naming_it_and_the_result_says_why(sandbox, fakes, document, error, field):
    run = request_release(sandbox, f"bad-{uuid.uuid4().hex[:8]}.json", document)
    result = sandbox.wait(run.execution_arn)
    assert result.status == "FAILED" and result.error == error
    assert field in result.cause
    written, log = outputs_of(sandbox, run.execution_arn)
    assert written["outcome"] == "failed" and written["error"]["error"] == error
    assert log is not None
    services, _ = fakes
    assert services.calls("validation") == []  # nothing was called for a bad document


def test_an_object_outside_inputs_starts_nothing(sandbox):
    bucket = sandbox.outputs(PIPELINE)["bucketName"]
    before = len(sandbox.events.wait_idle())
    for key in ("outputs/x.json", "input/x.json", "Inputs/x.json", "logs/inputs/x.json"):
        sandbox.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(release(story())).encode())
    assert sandbox.events.wait_idle()[before:] == []


def test_no_token_or_secret_appears_in_history_logs_or_results(sandbox, fakes):
    services, jira_fake = fakes
    story_id = story()
    arn = waiting(sandbox, release(story_id))
    secret = sandbox.client("secretsmanager").get_secret_value(SecretId=sandbox.outputs(PIPELINE)["callbackSecretArn"])[
        "SecretString"
    ]
    assert jira(sandbox).send(story_id, "approved")[0] == 202
    result = sandbox.wait(arn)
    document, log = outputs_of(sandbox, arn)
    history = json.dumps(result.history, default=str)
    for value in (*services.tokens.values(), jira_fake.api_token, secret):
        assert value not in history
        assert value not in log and value not in json.dumps(document)
    token = next(e for e in result.history if e["type"] == "TaskScheduled" and "waitForTaskToken" in str(e))
    task_token = json.loads(token["taskScheduledEventDetails"]["parameters"])["Payload"]["taskToken"]
    assert task_token not in log and task_token not in json.dumps(document)


def test_run_with_advance_moves_the_clock_past_the_wait_and_reports_no_decision(sandbox, fakes, capsys):
    from infra.cli.inputs import read_input
    from infra.cli.sandbox import request_and_report

    story_id = story()
    status = request_and_report(sandbox, PIPELINE, read_input(json.dumps(release(story_id))), advance_s=DAY_S + 60)
    out = capsys.readouterr().out
    assert status == 1
    assert f"waiting for the Jira decision on {story_id}" in out
    assert "advancing the sandbox clock by 86460 s" in out
    assert "no decision within 24 hours" in out
    assert token_item(sandbox, story_id)["status"]["S"] == "TIMED_OUT"
