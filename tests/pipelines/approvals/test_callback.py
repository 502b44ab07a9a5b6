"""The Jira callback: every answer of the contract, one resume per decision, nothing secret in answers or logs."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from pipelines.approvals import callback as cb
from pipelines.approvals import httpapi
from pipelines.approvals.tokens import TokenStore
from pipelines.common.secrets import read_secret_stages
from tests.pipelines.approvals.conftest import EXECUTION_ARN, TOKEN_TABLE, put_secret

SECRET = "jira-callback-secret-0123456789abcdef"
NEW_SECRET = "jira-callback-secret-rotated-fedcba987654"
TOKEN = "AAAAKgAAAAIAAAAAAAAAAfaketasktoken0123456789abcdefghijklmnopqrstuvwxyz"
DAY = 86_400


class FakeStates:
    """Step Functions' callback API as AWS answers it: a token is taken once; later calls get TaskTimedOut."""

    def __init__(self, tokens=(TOKEN,)):
        self.waiting = set(tokens)
        self.accepted: list[tuple[str, dict]] = []
        self.calls: list[str] = []
        self.failures: list[tuple[str, int]] = []

    def fail_next(self, code: str, status: int = 400) -> None:
        self.failures.append((code, status))

    def _take(self, operation: str, token: str, **fields) -> dict:
        self.calls.append(operation)
        if self.failures:
            code, status = self.failures.pop(0)
            raise ClientError(
                {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation
            )
        if token not in self.waiting:
            raise ClientError(
                {"Error": {"Code": "TaskTimedOut", "Message": "Provided task does not exist anymore"}}, operation
            )
        self.waiting.discard(token)
        self.accepted.append((operation, fields))
        return {}

    def send_task_success(self, taskToken, output):
        return self._take("SendTaskSuccess", taskToken, output=output)

    def send_task_failure(self, taskToken, error, cause):
        return self._take("SendTaskFailure", taskToken, error=error, cause=cause)


class Untouchable:
    """A DynamoDB client the test forbids to be used."""

    def __getattr__(self, name):
        raise AssertionError(f"the token table was used ({name}) before the caller was authenticated")


@pytest.fixture
def secret_arn(aws):
    return put_secret(aws.secrets, "callback-secret", SECRET)


@pytest.fixture
def states():
    return FakeStates()


@pytest.fixture
def store(aws, test_clock):
    return TokenStore(aws.dynamodb, TOKEN_TABLE)


@pytest.fixture
def handler(secret_arn, store, states):
    return cb.CallbackHandler(cb._secret_values(secret_arn), store, cb.StepFunctionsResumer(states))


@pytest.fixture
def waiting(store):
    store.register("PROJ-1", TOKEN, EXECUTION_ARN, DAY)
    return store


def event(body=None, *, secret=SECRET, encode=True, base64_flag=False, headers=None):
    """An HTTP API payload 2.0 event of POST /callbacks/jira."""
    if encode and not isinstance(body, str) and body is not None:
        body = json.dumps(body)
    if base64_flag and body is not None:
        body = base64.b64encode(body.encode() if isinstance(body, str) else body).decode()
    all_headers = {"content-type": "application/json", "user-agent": "Automation for Jira"}
    if secret is not None:
        all_headers["authorization"] = f"Bearer {secret}"
    all_headers.update(headers or {})
    return {
        "version": "2.0",
        "routeKey": "POST /callbacks/jira",
        "rawPath": "/callbacks/jira",
        "rawQueryString": "",
        "headers": all_headers,
        "requestContext": {"http": {"method": "POST", "path": "/callbacks/jira"}, "requestId": "r-1"},
        "body": body,
        "isBase64Encoded": base64_flag,
    }


def decision(issue="PROJ-1", verdict="approved", **extra):
    return {"issueKey": issue, "decision": verdict, **extra}


def answer(result) -> tuple[int, dict]:
    assert result["headers"]["content-type"] == "application/json"
    return result["statusCode"], json.loads(result["body"])


# -- 202: the decision resumes the execution ----------------------------------------------------


def test_an_approval_resumes_the_execution_with_the_decision(handler, waiting, states, test_clock):
    test_clock.advance(42)
    status, body = answer(handler.handle(event(decision(comment="ship it", decidedBy="Alice"))))
    assert (status, body) == (202, {"status": "accepted", "decision": "approved"})
    ((operation, fields),) = states.accepted
    assert operation == "SendTaskSuccess"
    assert json.loads(fields["output"]) == {
        "decision": "approved",
        "comment": "ship it",
        "decidedBy": "Alice",
        "decidedAt": "2026-12-08T01:00:42.000Z",
    }
    item = waiting.get("PROJ-1")
    assert item["status"] == "DONE" and item["resumedAt"] == "2026-12-08T01:00:42.000Z"
    assert "resumingUntil" not in item


def test_a_rejection_fails_the_task_with_release_rejected(handler, waiting, states):
    status, body = answer(handler.handle(event(decision(verdict="rejected", comment="not now"))))
    assert (status, body) == (202, {"status": "accepted", "decision": "rejected"})
    ((operation, fields),) = states.accepted
    assert operation == "SendTaskFailure" and fields["error"] == "ReleaseRejected"
    cause = json.loads(fields["cause"])
    assert cause["decision"] == "rejected" and cause["comment"] == "not now"
    assert cause["decidedBy"] == "Jira Automation"


@pytest.mark.parametrize("decided_by", [None, "", "   "])
def test_a_missing_or_blank_decided_by_is_jira_automation(handler, waiting, states, decided_by):
    body = decision() if decided_by is None else decision(decidedBy=decided_by)
    handler.handle(event(body))
    assert json.loads(states.accepted[0][1]["output"])["decidedBy"] == "Jira Automation"


def test_the_longest_comment_still_fits_the_failure_cause(handler, waiting, states):
    comment = '"\n' * 16_000  # 32,000 characters that JSON doubles
    assert answer(handler.handle(event(decision(verdict="rejected", comment=comment))))[0] == 202
    cause = states.accepted[0][1]["cause"]
    assert len(cause) <= 32_768
    assert json.loads(cause)["comment"].startswith('"\n"\n') and json.loads(cause)["comment"].endswith("…")


def test_a_base64_body_is_decoded(handler, waiting):
    assert answer(handler.handle(event(decision(), base64_flag=True)))[0] == 202


# -- 401: nothing read or written but the secret ------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-secret-wrong-secret"},
        {"authorization": f"Basic {SECRET}"},
        {"authorization": "Bearer "},
        {"authorization": "Bearer"},
        {"authorization": f"Bearer {SECRET}x"},
        {"authorization": f"Bearer {SECRET[:-1]}"},
        {"authorization": "Bearer \udc80\udcff"},
        {"x-authorization": f"Bearer {SECRET}"},
    ],
)
def test_a_missing_or_wrong_secret_is_401_with_the_table_untouched(secret_arn, states, headers):
    handler = cb.CallbackHandler(
        cb._secret_values(secret_arn), TokenStore(Untouchable(), TOKEN_TABLE), cb.StepFunctionsResumer(states)
    )
    request = event(decision(), secret=None, headers=headers)
    assert answer(handler.handle(request)) == (401, {"message": "missing or invalid credentials"})
    assert states.calls == []


def test_anything_but_an_event_object_is_401(handler):
    for weird in (None, [], "x", 3, {"headers": "authorization"}):
        assert handler.handle(weird)["statusCode"] == 401


def test_the_scheme_is_case_insensitive(handler, waiting):
    request = event(decision(), secret=None, headers={"authorization": f"bearer {SECRET}"})
    assert handler.handle(request)["statusCode"] == 202


def test_the_secret_is_compared_in_constant_time_against_every_stage(handler, waiting, monkeypatch, aws, secret_arn):
    aws.secrets.put_secret_value(SecretId=secret_arn, SecretString=NEW_SECRET)  # SECRET becomes AWSPREVIOUS
    compared = []
    real = httpapi.hmac.compare_digest

    def recording(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(httpapi.hmac, "compare_digest", recording)
    assert handler.handle(event(decision(), secret="wrong-but-long-enough"))["statusCode"] == 401
    assert {b for _, b in compared} == {SECRET.encode(), NEW_SECRET.encode()}
    compared.clear()
    assert handler.handle(event(decision()))["statusCode"] == 202
    assert len(compared) == 2  # both stages compared even though the first may already match


def test_rotation_needs_no_downtime(handler, waiting, store, aws, secret_arn, test_clock, states):
    assert handler.handle(event(decision(issue="PROJ-9")))["statusCode"] == 404  # values cached: SECRET only
    aws.secrets.put_secret_value(SecretId=secret_arn, SecretString=NEW_SECRET)
    test_clock.advance(10)
    # The new secret before the cache may refresh: refused; the old one (now AWSPREVIOUS) still works.
    assert handler.handle(event(decision(issue="PROJ-9"), secret=NEW_SECRET))["statusCode"] == 401
    assert handler.handle(event(decision(issue="PROJ-9")))["statusCode"] == 404
    test_clock.advance(cb.SECRET_REFRESH_S)
    assert handler.handle(event(decision(), secret=NEW_SECRET))["statusCode"] == 202
    store.register("PROJ-2", "token-2", EXECUTION_ARN, DAY)
    states.waiting.add("token-2")
    assert handler.handle(event(decision(issue="PROJ-2"), secret=SECRET))["statusCode"] == 202


def test_powertools_cache_would_mix_up_the_stages_so_they_are_read_apart(aws, secret_arn):
    from aws_lambda_powertools.utilities import parameters

    aws.secrets.put_secret_value(SecretId=secret_arn, SecretString=NEW_SECRET)
    provider = parameters.SecretsProvider(boto3_client=aws.secrets)
    assert provider.get(secret_arn) == NEW_SECRET
    # Keyed by name alone: the AWSPREVIOUS read answers with the cached AWSCURRENT value.
    assert provider.get(secret_arn, VersionStage="AWSPREVIOUS") == NEW_SECRET
    assert read_secret_stages(secret_arn) == {"AWSCURRENT": NEW_SECRET, "AWSPREVIOUS": SECRET}


def test_a_secret_without_a_previous_stage_is_read_as_current_only(aws, secret_arn):
    assert read_secret_stages(secret_arn) == {"AWSCURRENT": SECRET, "AWSPREVIOUS": None}


@pytest.mark.parametrize("value, status", [("short", 500), (" " * 3, 401)])
def test_a_short_or_blank_secret_never_authenticates(aws, states, value, status):
    arn = put_secret(aws.secrets, "weak", value)
    handler = cb.CallbackHandler(
        cb._secret_values(arn), TokenStore(Untouchable(), TOKEN_TABLE), cb.StepFunctionsResumer(states)
    )
    assert handler.handle(event(decision(), secret=value))["statusCode"] == status


def test_an_unreadable_secret_is_a_500_without_details(aws, states):
    arn = "arn:aws:secretsmanager:eu-west-2:123456789012:secret:missing-AbCdEf"
    handler = cb.CallbackHandler(
        cb._secret_values(arn), TokenStore(Untouchable(), TOKEN_TABLE), cb.StepFunctionsResumer(states)
    )
    assert answer(handler.handle(event(decision()))) == (500, {"message": "internal error"})


# -- 400: the body, each malformed kind named ---------------------------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        (None, "body"),
        ("", "body"),
        ("[]", "body"),
        ("null", "body"),
        ('"approved"', "body"),
        ("42", "body"),
        ("{", "body"),
        ('{"issueKey": "PROJ-1", "decision": NaN}', "body"),
        ('{"issueKey": "PROJ-1", "issueKey": "PROJ-2", "decision": "approved"}', "issueKey"),
        ("[" * 5000 + "]" * 5000, "body"),
        (json.dumps({"issueKey": "PROJ-1", "decision": "approved", "comment": "x" * 70_000}), "body"),
        (json.dumps(decision(comment="x" * 32_001)), "comment"),
        (json.dumps(decision(comment=None)), "comment"),
        (json.dumps(decision(comment={"a": {"b": {"c": {"d": [1]}}}})), "comment"),
        (json.dumps(decision(comment=["x"])), "comment"),
        (json.dumps(decision(comment="fine \ud800")), "comment"),
        (json.dumps(decision(decidedBy="x" * 257)), "decidedBy"),
        (json.dumps(decision(decidedBy=7)), "decidedBy"),
        (json.dumps(decision(issueKey="proj-1")), "issueKey"),
        (json.dumps(decision(issueKey=["PROJ-1"])), "issueKey"),
        (json.dumps({"decision": "approved"}), "issueKey"),
        (json.dumps({"issueKey": "PROJ-1"}), "decision"),
        (json.dumps(decision(verdict="Approved")), "decision"),
        (json.dumps(decision(verdict=True)), "decision"),
        (json.dumps({**decision(), "status": "Done"}), "status"),
        (json.dumps({**decision(), "issuekey": "PROJ-1"}), "issuekey"),
        (json.dumps({**decision(), "\ud800": 1}), "\\ud800"),
    ],
)
def test_a_malformed_body_is_400_naming_the_field(handler, waiting, states, body, field):
    status, answer_body = answer(handler.handle(event(body, encode=False)))
    assert status == 400 and answer_body["message"].startswith(f"{field}:"), answer_body
    assert states.calls == [] and waiting.get("PROJ-1")["status"] == "PENDING"


def test_an_unknown_key_names_the_closest_known_one(handler, waiting):
    message = answer(handler.handle(event({**decision(), "decidedby": "x"})))[1]["message"]
    assert "did you mean decidedBy?" in message


@pytest.mark.parametrize("raw", ["not base64!", base64.b64encode(b"\xff\xfe{}").decode()])
def test_a_bad_base64_or_non_utf8_body_is_400(handler, waiting, raw):
    request = event(None)
    request.update(body=raw, isBase64Encoded=True)
    assert answer(handler.handle(request))[0] == 400


def test_a_message_quotes_only_a_prefix_of_a_huge_value(handler, waiting):
    message = answer(handler.handle(event(decision(issue="P" * 30_000))))[1]["message"]
    assert len(message) < 200


# -- 404, 410, 200 ------------------------------------------------------------------------------


def test_an_unknown_story_is_404(handler, states):
    assert answer(handler.handle(event(decision(issue="PROJ-404")))) == (
        404,
        {"message": "no release of PROJ-404 is waiting for a decision"},
    )


def test_an_expired_wait_is_410(handler, waiting, test_clock, states):
    test_clock.advance(DAY + 3601)
    assert answer(handler.handle(event(decision()))) == (
        410,
        {"message": "the approval wait for PROJ-1 has ended (timed out)"},
    )
    assert states.calls == []


def test_a_wait_closed_by_its_execution_is_410(handler, waiting):
    waiting.close("PROJ-1", EXECUTION_ARN, "no-decision")
    assert answer(handler.handle(event(decision())))[1]["message"].endswith("(timed out)")
    waiting.register("PROJ-2", "t2", EXECUTION_ARN, DAY)
    waiting.close("PROJ-2", EXECUTION_ARN, "failed")
    assert answer(handler.handle(event(decision(issue="PROJ-2"))))[1]["message"].endswith(
        "(the execution ended: failed)"
    )


@pytest.mark.parametrize("code", ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"])
def test_step_functions_saying_the_wait_ended_is_410_and_marks_it(handler, waiting, states, code):
    states.fail_next(code)
    assert answer(handler.handle(event(decision())))[0] == 410
    item = waiting.get("PROJ-1")
    assert item["status"] == "TIMED_OUT" and "taskToken" not in item
    assert answer(handler.handle(event(decision())))[0] == 410


def test_a_duplicate_gets_the_first_decision_and_never_a_second_resume(handler, waiting, states, test_clock):
    handler.handle(event(decision(comment="first", decidedBy="Alice")))
    test_clock.advance(5)
    status, body = answer(handler.handle(event(decision(verdict="rejected", decidedBy="Bob"))))
    assert (status, body) == (
        200,
        {"status": "already decided", "decision": "approved", "decidedAt": "2026-12-08T01:00:00.000Z"},
    )
    assert states.calls == ["SendTaskSuccess"]


def test_a_duplicate_after_a_lost_response_re_sends_and_the_first_is_found_through(
    handler, waiting, states, test_clock
):
    # The first delivery resumed the execution but died before noting it (and before answering).
    real = waiting.mark_resumed
    waiting.mark_resumed = lambda *a: (_ for _ in ()).throw(RuntimeError("crashed"))
    handler.handle(event(decision()))
    waiting.mark_resumed = real
    assert "resumedAt" not in waiting.get("PROJ-1")
    test_clock.advance(120)  # past the first delivery's resumingUntil
    status, body = answer(handler.handle(event(decision())))
    assert status == 200 and body["status"] == "already decided" and body["decision"] == "approved"
    assert states.calls == ["SendTaskSuccess", "SendTaskSuccess"]
    assert len(states.accepted) == 1  # Step Functions took the decision once
    assert waiting.get("PROJ-1")["resumedAt"]


def test_a_duplicate_after_an_undelivered_resume_delivers_it_once(handler, waiting, states):
    states.fail_next("ThrottlingException")
    status, body = answer(handler.handle(event(decision(verdict="rejected", comment="no"))))
    assert status == 503 and body["message"]
    assert waiting.get("PROJ-1")["status"] == "DONE" and "resumingUntil" not in waiting.get("PROJ-1")
    status, body = answer(handler.handle(event(decision(verdict="approved"))))
    assert (status, body["decision"]) == (200, "rejected")  # the first decision is the one delivered
    ((operation, fields),) = states.accepted
    assert operation == "SendTaskFailure" and json.loads(fields["cause"])["comment"] == "no"
    assert answer(handler.handle(event(decision())))[0] == 200
    assert len(states.accepted) == 1


def test_a_duplicate_while_the_first_is_still_resuming_is_told_to_retry(handler, waiting, states, test_clock):
    waiting.decide("PROJ-1", "approved", None, "Alice")  # the first delivery is between its flip and its resume
    result = handler.handle(event(decision()))
    assert result["statusCode"] == 503 and result["headers"]["retry-after"] == str(cb.RETRY_AFTER_S)
    assert states.calls == []
    test_clock.advance(61)
    assert answer(handler.handle(event(decision())))[0] == 200
    assert len(states.accepted) == 1


# -- 503 and 500 --------------------------------------------------------------------------------


@pytest.mark.parametrize("code, status", [("ThrottlingException", 400), ("ServiceUnavailable", 503)])
def test_step_functions_throttled_or_down_is_503_with_retry_after(handler, waiting, states, code, status):
    states.fail_next(code, status)
    result = handler.handle(event(decision()))
    assert result["statusCode"] == 503 and result["headers"]["retry-after"] == "5"


def test_a_step_functions_connection_failure_is_503(handler, waiting, states, monkeypatch):
    def down(**kwargs):
        raise EndpointConnectionError(endpoint_url="https://states")

    monkeypatch.setattr(states, "send_task_success", down)
    assert handler.handle(event(decision()))["statusCode"] == 503


def test_the_token_table_throttled_is_503(secret_arn, states, test_clock):
    class Throttled:
        def get_item(self, **kwargs):
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "GetItem")

    handler = cb.CallbackHandler(
        cb._secret_values(secret_arn), TokenStore(Throttled(), TOKEN_TABLE), cb.StepFunctionsResumer(states)
    )
    result = handler.handle(event(decision()))
    assert result["statusCode"] == 503 and result["headers"]["retry-after"] == "5"


def test_an_unexpected_error_is_a_bare_500_and_logs_only_its_type(handler, waiting, states, capsys):
    states.fail_next("AccessDeniedException")
    assert answer(handler.handle(event(decision()))) == (500, {"message": "internal error"})
    logged = capsys.readouterr().out
    assert "ClientError" in logged and "Traceback" not in logged
    assert "resumingUntil" not in waiting.get("PROJ-1")  # a later delivery may try again


def test_no_secret_token_or_authorization_header_in_any_answer_or_log(handler, waiting, states, capsys, test_clock):
    results = [
        handler.handle(event(decision())),
        handler.handle(event(decision())),
        handler.handle(event(decision(), secret="wrong-wrong-wrong-wrong")),
        handler.handle(event("[]", encode=False)),
        handler.handle(event(decision(issue="PROJ-404"))),
    ]
    states.fail_next("AccessDeniedException")
    waiting.register("PROJ-2", TOKEN + "2", EXECUTION_ARN, DAY)
    results.append(handler.handle(event(decision(issue="PROJ-2"))))
    text = json.dumps(results) + capsys.readouterr().out
    for secret in (SECRET, TOKEN, "Bearer ", "wrong-wrong-wrong-wrong"):
        assert secret not in text


def test_the_lambda_handler_wires_the_environment(aws, secret_arn, monkeypatch, lambda_context, test_clock):
    monkeypatch.setenv("CALLBACK_SECRET_ARN", secret_arn)
    store = TokenStore(aws.dynamodb, TOKEN_TABLE)
    store.register("PROJ-1", TOKEN, EXECUTION_ARN, DAY)
    assert cb.callback(event(decision(), secret="nope-nope-nope-nope"), lambda_context)["statusCode"] == 401
    assert cb.callback(event(decision()), lambda_context)["statusCode"] == 202  # moto takes any token
    assert store.get("PROJ-1")["resumedAt"]
    monkeypatch.delenv("TOKEN_TABLE_NAME")
    assert answer(cb.callback(event(decision()), lambda_context)) == (500, {"message": "internal error"})
