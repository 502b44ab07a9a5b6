"""The release-approval handlers over moto and the loopback fakes: events in, answers and side effects out."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from infra.sandbox.fakes.release_services import DEFAULT_TOKENS
from pipelines.approvals import handlers as h
from pipelines.approvals.errors import (
    HistoryUnavailableError,
    InvalidReleaseRequestError,
    ServiceAuthError,
    StorageUnavailableError,
    StoryAlreadyWaitingError,
    ValidationFailedError,
)
from pipelines.approvals.services import idempotency_key
from pipelines.approvals.tokens import TokenStore
from pipelines.common.errors import ConfigurationError, InvalidInputError
from tests.pipelines.approvals.conftest import (
    BUCKET,
    EXECUTION_ARN,
    OTHER_EXECUTION_ARN,
    START,
    TOKEN_TABLE,
    put_secret,
)

DOCUMENT = {"storyId": "PROJ-1", "packages": ["api@1.0.0", "web@2.0.0"], "environment": "staging", "requester": "alice"}
TOKEN = "AAAAKgAAAAIAAAAAAAAAAfaketasktoken-for-tests"
DAY = 86_400


def put_document(aws, key="inputs/rel-1.json", document=DOCUMENT, raw: bytes | None = None) -> str:
    data = raw if raw is not None else json.dumps(document).encode()
    return aws.s3.put_object(Bucket=BUCKET, Key=key, Body=data)["VersionId"]


# -- load_request --------------------------------------------------------------------------------


def test_load_request_reads_and_checks_the_document(aws, lambda_context):
    version = put_document(aws)
    put_document(aws, document={**DOCUMENT, "storyId": "PROJ-2"})  # a newer version
    pinned = h.load_request(
        {"inputKey": "inputs/rel-1.json", "versionId": version, "executionName": "e"}, lambda_context
    )
    assert pinned == {**DOCUMENT, "inputKey": "inputs/rel-1.json", "versionId": version}
    latest = h.load_request({"inputKey": "inputs/rel-1.json", "versionId": None}, lambda_context)
    assert latest["storyId"] == "PROJ-2" and latest["versionId"] not in (None, version)


def test_a_missing_object_or_version_names_the_input_key(aws, lambda_context):
    with pytest.raises(InvalidReleaseRequestError) as caught:
        h.load_request({"inputKey": "inputs/none.json", "versionId": None}, lambda_context)
    assert caught.value.field == "inputKey" and "inputs/none.json" in str(caught.value)
    put_document(aws)
    with pytest.raises(InvalidReleaseRequestError, match=r"inputKey: .*\(version "):
        h.load_request(
            {"inputKey": "inputs/rel-1.json", "versionId": "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"}, lambda_context
        )


def test_a_bad_document_is_refused_naming_its_field(aws, lambda_context):
    put_document(aws, document={**DOCUMENT, "environment": "production"})
    with pytest.raises(InvalidReleaseRequestError) as caught:
        h.load_request({"inputKey": "inputs/rel-1.json", "versionId": None}, lambda_context)
    assert caught.value.field == "environment"
    put_document(aws, key="inputs/big.json", raw=b"{" + b" " * 70_000 + b"}")
    with pytest.raises(InvalidReleaseRequestError, match="document: is 70,002 bytes"):
        h.load_request({"inputKey": "inputs/big.json", "versionId": None}, lambda_context)


def test_the_environments_setting_is_honoured_and_checked(aws, lambda_context, monkeypatch):
    put_document(aws, document={**DOCUMENT, "environment": "qa"})
    monkeypatch.setenv("ENVIRONMENTS", "qa,prod")
    assert h.load_request({"inputKey": "inputs/rel-1.json", "versionId": None}, lambda_context)["environment"] == "qa"
    monkeypatch.setenv("ENVIRONMENTS", "QA prod")
    with pytest.raises(ConfigurationError, match="ENVIRONMENTS"):
        h.load_request({"inputKey": "inputs/rel-1.json", "versionId": None}, lambda_context)


@pytest.mark.parametrize(
    "event, field",
    [
        ([], "input"),
        ({}, "inputKey"),
        ({"inputKey": "inputs/../x.json", "versionId": None}, "inputKey"),
        ({"inputKey": "inputs/x.json", "versionId": 3}, "versionId"),
        ({"inputKey": "inputs/x.json", "version": None}, "version"),
    ],
)
def test_load_request_checks_its_event(aws, lambda_context, event, field):
    with pytest.raises(InvalidInputError) as caught:
        h.load_request(event, lambda_context)
    assert caught.value.field == field


def test_s3_throttling_is_retryable_and_a_refusal_a_configuration_error():
    def failing(code):
        class S3:
            def get_object(self, **kwargs):
                raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")

        return h.ReleaseBucket("b", S3())

    with pytest.raises(StorageUnavailableError, match="SlowDown"):
        failing("SlowDown").read_document("inputs/x.json", None, 10)
    with pytest.raises(ConfigurationError, match="AccessDenied"):
        failing("AccessDenied").read_document("inputs/x.json", None, 10)


# -- the three services --------------------------------------------------------------------------


@pytest.fixture
def service_env(aws, services, monkeypatch, test_clock):
    """Point a service handler at the fake: ``use("deployment")``."""
    monkeypatch.setenv("STEPWORKS_ALLOW_LOOPBACK_HTTP", "true")

    def use(name, token=None):
        arn = put_secret(aws.secrets, f"{name}-token-{len(services.requests)}", token or DEFAULT_TOKENS[name])
        monkeypatch.setenv("SERVICE_URL", services.url_of(name))
        monkeypatch.setenv("TOKEN_SECRET_ARN", arn)

    return use


def loaded(**changes):
    return {**DOCUMENT, "inputKey": "inputs/rel-1.json", "versionId": "v1", **changes}


def test_the_service_handlers_answer_their_contract(service_env, services, lambda_context):
    event = {"request": loaded(), "executionName": "run-1", "executionArn": EXECUTION_ARN}
    service_env("validation")
    assert h.call_validation(event, lambda_context)["valid"] is True
    service_env("deployment")
    deployed = h.call_deployment(event, lambda_context)
    assert [d["idempotencyKey"] for d in deployed["deployments"]] == [
        idempotency_key(EXECUTION_ARN, "deployment", p) for p in DOCUMENT["packages"]
    ]
    service_env("notification")
    assert h.call_notification(event, lambda_context)["notificationId"].startswith("ntf-")
    assert services.calls("notification")[0].headers["idempotency-key"] == idempotency_key(
        EXECUTION_ARN, "notification"
    )


def test_without_an_execution_arn_the_keys_derive_from_the_name(service_env, lambda_context):
    service_env("deployment")
    deployed = h.call_deployment({"request": loaded(), "executionName": "run-1"}, lambda_context)
    assert deployed["deployments"][0]["idempotencyKey"] == idempotency_key("run-1", "deployment", "api@1.0.0")


def test_a_failed_validation_and_a_refused_token_are_named(service_env, lambda_context):
    service_env("validation")
    with pytest.raises(ValidationFailedError, match="old-invalid"):
        h.call_validation({"request": loaded(packages=["old-invalid"]), "executionName": "r"}, lambda_context)
    service_env("validation", token="not-the-token")
    with pytest.raises(ServiceAuthError):
        h.call_validation({"request": loaded(), "executionName": "r"}, lambda_context)


def test_plain_http_is_refused_before_the_token_is_read(service_env, monkeypatch, lambda_context, aws):
    service_env("validation")
    monkeypatch.delenv("STEPWORKS_ALLOW_LOOPBACK_HTTP")
    monkeypatch.setenv("TOKEN_SECRET_ARN", "arn:aws:secretsmanager:eu-west-2:123456789012:secret:never-read")
    with pytest.raises(ConfigurationError, match="SERVICE_URL must be an https URL"):
        h.call_validation({"request": loaded(), "executionName": "r"}, lambda_context)


@pytest.mark.parametrize(
    "event, field",
    [
        ({"executionName": "r"}, "request"),
        ({"request": [], "executionName": "r"}, "request"),
        ({"request": loaded(storyId="x"), "executionName": "r"}, "storyId"),
        ({"request": loaded()}, "executionName"),
        ({"request": loaded(), "executionName": "a/b"}, "executionName"),
        ({"request": loaded(), "executionName": "r", "executionArn": "arn:nope"}, "executionArn"),
        ({"request": loaded(), "executionName": "r", "extra": 1}, "extra"),
    ],
)
def test_the_service_handlers_check_their_event(service_env, lambda_context, event, field):
    service_env("deployment")
    with pytest.raises(InvalidInputError) as caught:
        h.call_deployment(event, lambda_context)
    assert caught.value.field == field


# -- wait_for_callback ---------------------------------------------------------------------------


def wait_event(**changes):
    base = {"taskToken": TOKEN, "storyId": "PROJ-1", "executionArn": EXECUTION_ARN, "environment": "staging"}
    return {**base, "packages": ["api@1.0.0"], "requester": "alice", **changes}


def test_wait_for_callback_registers_the_token(aws, lambda_context, test_clock, monkeypatch):
    monkeypatch.setenv("WAIT_TIMEOUT_SECONDS", "3600")
    assert h.wait_for_callback(wait_event(), lambda_context) == {"registered": True, "expiresAt": int(START) + 7200}
    item = TokenStore(aws.dynamodb, TOKEN_TABLE).get("PROJ-1")
    assert item["taskToken"] == TOKEN and item["status"] == "PENDING"


def test_a_second_execution_for_the_story_fails_clearly(aws, lambda_context, test_clock):
    h.wait_for_callback(wait_event(), lambda_context)
    with pytest.raises(StoryAlreadyWaitingError, match=EXECUTION_ARN):
        h.wait_for_callback(wait_event(executionArn=OTHER_EXECUTION_ARN, taskToken="t2"), lambda_context)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"taskToken": ""}, "taskToken"),
        ({"taskToken": "x" * 2049}, "taskToken"),
        ({"taskToken": None}, "taskToken"),
        ({"storyId": "proj-1"}, "storyId"),
        ({"executionArn": "run-1"}, "executionArn"),
        ({"packages": []}, "packages"),
        ({"requester": ""}, "requester"),
        ({"extra": True}, "extra"),
    ],
)
def test_wait_for_callback_checks_its_event(aws, lambda_context, test_clock, changes, field):
    with pytest.raises(InvalidInputError) as caught:
        h.wait_for_callback(wait_event(**changes), lambda_context)
    assert caught.value.field == field
    assert TokenStore(aws.dynamodb, TOKEN_TABLE).get("PROJ-1") is None


@pytest.fixture
def jira_env(aws, jira, monkeypatch):
    monkeypatch.setenv("STEPWORKS_ALLOW_LOOPBACK_HTTP", "true")
    monkeypatch.setenv("JIRA_BASE_URL", jira.url)

    def use(secret):
        monkeypatch.setenv("JIRA_TOKEN_SECRET_ARN", put_secret(aws.secrets, f"jira-{len(jira.requests)}", secret))

    return use


def test_the_jira_comment_uses_basic_auth_for_an_email_token_pair(jira_env, jira, lambda_context, test_clock):
    jira_env(jira.basic_secret)
    h.wait_for_callback(wait_event(), lambda_context)
    (text,) = jira.comment_texts("PROJ-1")
    assert "awaiting approval" in text and "api@1.0.0" in text and "staging" in text and "approved or rejected" in text
    assert TOKEN not in json.dumps(jira.comments)
    assert jira.requests[0].headers["authorization"].startswith("Basic ")


def test_the_jira_comment_uses_bearer_for_a_personal_access_token(jira_env, jira, lambda_context, test_clock):
    jira.pat = "data-center-pat"
    jira_env("data-center-pat")
    h.wait_for_callback(wait_event(), lambda_context)
    assert len(jira.comment_texts("PROJ-1")) == 1
    assert jira.requests[0].headers["authorization"] == "Bearer data-center-pat"


def test_a_retried_wait_task_does_not_comment_twice(jira_env, jira, lambda_context, test_clock):
    jira_env(jira.basic_secret)
    h.wait_for_callback(wait_event(), lambda_context)
    h.wait_for_callback(wait_event(taskToken="a-new-token"), lambda_context)
    assert len(jira.comment_texts("PROJ-1")) == 1


@pytest.mark.parametrize("status", [401, 404, 500])
def test_a_failed_comment_never_fails_the_wait(jira_env, jira, lambda_context, test_clock, aws, status, capsys):
    jira_env(jira.basic_secret)
    jira.fail_next(status, times=3)
    assert h.wait_for_callback(wait_event(), lambda_context)["registered"] is True
    assert "Jira comment not posted" in capsys.readouterr().out
    assert TokenStore(aws.dynamodb, TOKEN_TABLE).get("PROJ-1")["status"] == "PENDING"


def test_a_misconfigured_jira_url_is_a_warning(jira_env, jira, lambda_context, test_clock, monkeypatch, capsys):
    jira_env(jira.basic_secret)
    monkeypatch.setenv("JIRA_BASE_URL", "http://jira.example.com")
    assert h.wait_for_callback(wait_event(), lambda_context)["registered"] is True
    assert "ConfigurationError" in capsys.readouterr().out and jira.requests == []


# -- record_outcome ------------------------------------------------------------------------------


@pytest.fixture
def execution(aws):
    """A real (moto) execution, so GetExecutionHistory answers."""
    machine = aws.states.create_state_machine(
        name="sw-test-release-approval",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn="arn:aws:iam::123456789012:role/r",
    )
    return aws.states.start_execution(stateMachineArn=machine["stateMachineArn"], name="run-1", input="{}")[
        "executionArn"
    ]


def outcome_event(arn, **changes):
    """RecordOutcome's event; ``changes`` to the state (request, decision, error …) or to the top level."""
    top = ("executionArn", "executionName", "startedAt", "input", "outcome")
    base = {
        "executionArn": arn,
        "executionName": "run-1",
        "startedAt": "2026-12-08T01:00:00.000Z",
        "input": {"inputKey": "inputs/rel-1.json"},
    }
    state = {"inputKey": "inputs/rel-1.json", "versionId": None, "request": loaded()}
    state |= {k: v for k, v in changes.items() if k not in top}
    return {**base, **{k: v for k, v in changes.items() if k in top}, "state": state}


def read(aws, key):
    return aws.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def test_an_approval_is_recorded_and_the_item_closed(aws, execution, lambda_context, test_clock):
    store = TokenStore(aws.dynamodb, TOKEN_TABLE)
    store.register("PROJ-1", TOKEN, execution, DAY)
    store.decide("PROJ-1", "approved", "ok", "Bob")
    decision = {"decision": "approved", "comment": "ok", "decidedBy": "Bob", "decidedAt": "2026-12-08T01:30:00.000Z"}
    answer = h.record_outcome(outcome_event(execution, decision=decision), lambda_context)
    assert answer == {
        "outcome": "approved",
        "resultKey": "outputs/run-1/result.json",
        "logKey": "logs/run-1/execution.log",
    }
    result = json.loads(read(aws, answer["resultKey"]))
    assert result["outcome"] == "approved" and result["decision"] == decision and result["executionArn"] == execution
    assert result["finishedAt"] == "2026-12-08T01:00:00.000Z"
    log = read(aws, answer["logKey"])
    assert "execution  started" in log and log.splitlines()[-1].endswith("outcome  approved")
    item = store.get("PROJ-1")
    assert item["status"] == "DONE" and item["outcome"] == "approved" and "taskToken" not in item


def test_a_rejection_and_a_timeout_carry_error_and_cause(aws, execution, lambda_context, test_clock):
    cause = json.dumps({"decision": "rejected", "comment": "no", "decidedBy": "Bob", "decidedAt": "t"})
    rejected = h.record_outcome(
        outcome_event(execution, error={"Error": "ReleaseRejected", "Cause": cause}), lambda_context
    )
    assert (rejected["outcome"], rejected["error"], rejected["cause"]) == (
        "rejected",
        "ReleaseRejected",
        "rejected by Bob: no",
    )
    TokenStore(aws.dynamodb, TOKEN_TABLE).register("PROJ-1", TOKEN, execution, DAY)
    timed_out = h.record_outcome(outcome_event(execution, waitEnded={"Error": "States.Timeout"}), lambda_context)
    assert (timed_out["error"], timed_out["cause"]) == ("NoDecision", "no decision within 24 hours")
    assert TokenStore(aws.dynamodb, TOKEN_TABLE).get("PROJ-1")["status"] == "TIMED_OUT"


def test_a_retried_record_rewrites_the_same_objects(aws, execution, lambda_context, test_clock):
    event = outcome_event(execution, error={"Error": "ServiceAuthError", "Cause": "refused"})
    first = h.record_outcome(event, lambda_context)
    assert h.record_outcome(event, lambda_context) == first
    versions = aws.s3.list_object_versions(Bucket=BUCKET, Prefix="outputs/run-1/")["Versions"]
    assert {v["Key"] for v in versions} == {"outputs/run-1/result.json"}


def test_a_second_execution_that_failed_to_wait_never_touches_the_first_ones_item(
    aws, execution, lambda_context, test_clock
):
    store = TokenStore(aws.dynamodb, TOKEN_TABLE)
    store.register("PROJ-1", TOKEN, OTHER_EXECUTION_ARN, DAY)
    before = store.get("PROJ-1")
    error = {"Error": "StoryAlreadyWaitingError", "Cause": json.dumps({"errorMessage": "PROJ-1 is already waiting"})}
    answer = h.record_outcome(outcome_event(execution, error=error), lambda_context)
    assert answer["outcome"] == "failed" and answer["cause"] == "PROJ-1 is already waiting"
    assert store.get("PROJ-1") == before


def test_a_failure_before_the_request_was_read_is_recorded_without_closing(aws, execution, lambda_context, test_clock):
    event = outcome_event(execution, error={"Error": "InvalidInputError", "Cause": "inputKey: is required"})
    del event["state"]["request"]
    assert h.record_outcome(event, lambda_context)["error"] == "InvalidInputError"
    assert json.loads(read(aws, "outputs/run-1/result.json"))["request"] is None


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"executionArn": None}, "executionArn"),
        ({"executionName": "../x"}, "executionName"),
        ({"outcome": "approved"}, "outcome"),
    ],
)
def test_record_outcome_checks_its_event(aws, execution, lambda_context, test_clock, changes, field):
    with pytest.raises(InvalidInputError) as caught:
        h.record_outcome(outcome_event(execution, **changes), lambda_context)
    assert caught.value.field == field


def test_history_throttling_is_retryable_and_a_refusal_is_noted_in_the_log():
    def states(code, status):
        class Paginator:
            def paginate(self, **kwargs):
                raise ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "X")

        class States:
            def get_paginator(self, name):
                return Paginator()

        return States()

    with pytest.raises(HistoryUnavailableError):
        h.execution_history(states("ThrottlingException", 400), EXECUTION_ARN)
    assert h.execution_history(states("AccessDeniedException", 400), EXECUTION_ARN) == ([], "AccessDeniedException")
