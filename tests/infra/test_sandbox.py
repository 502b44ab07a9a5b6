"""The sandbox itself: untranslatable types are named, Lambda errors keep their type, SigV4 is checked."""

import datetime
import json

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from infra.sandbox.http_api import SignatureError, verify_sigv4
from infra.sandbox.lambda_runner import invoke_in_process
from infra.sandbox.mocks import EmulatorMocks
from infra.sandbox.program import ProgramError, load_stack_file, run_program
from infra.sandbox.translators import TRANSLATORS

CREDS = Credentials("AKIDSANDBOX", "sandbox-secret")


def test_a_resource_type_without_translation_fails_the_deploy_naming_the_type():
    translators = {k: v for k, v in TRANSLATORS.items() if k != "aws:dynamodb/table:Table"}
    from moto import mock_aws

    with mock_aws(), pytest.raises(ProgramError) as raised:
        run_program(EmulatorMocks(translators), load_stack_file("dev"), stack="dev")
    assert "the sandbox cannot emulate resource type aws:dynamodb/table:Table (declared as 'greeting-table')" in str(
        raised.value
    )


class FakeFunction:
    function_name = "f"
    memory_size = 128
    function_arn = "arn:aws:lambda:us-west-2:123456789012:function:f"
    timeout = 3
    region = "us-west-2"

    def __init__(self, handler, env=None):
        self.handler = handler
        self.environment_vars = env or {}
        self.saved = []

    def save_logs(self, text):
        self.saved.append(text)


def test_a_handler_exception_becomes_a_function_error_typed_by_its_class_name():
    payload, errored, _ = invoke_in_process(FakeFunction("pipelines.greeting.handlers.hello"), {"message": 1})
    assert errored is True
    body = json.loads(payload)
    assert body["errorType"] == "InvalidInputError"
    assert body["errorMessage"] == "message: must be a string, got int"


def test_the_handler_runs_with_its_own_environment_which_is_restored_afterwards(monkeypatch):
    monkeypatch.delenv("STEPWORKS_PROBE", raising=False)
    fn = FakeFunction("os.getenv", {"STEPWORKS_PROBE": "from-function"})
    # os.getenv(event, context) → returns the variable named by the event.
    payload, errored, _ = invoke_in_process(fn, '"STEPWORKS_PROBE"')
    assert (json.loads(payload), errored) == ("from-function", False)
    import os

    assert "STEPWORKS_PROBE" not in os.environ


def _signed(url, body, creds=CREDS, region="us-west-2", service="execute-api"):
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(creds, service, region).add_auth(request)
    return dict(request.headers.items())


def test_sigv4_accepts_a_request_signed_with_the_sandbox_credentials():
    url = "http://127.0.0.1:9999/abc/greetings"
    verify_sigv4("POST", url, _signed(url, b"{}"), b"{}", CREDS, "us-west-2")


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda h, b: (h, b'{"x": 1}'), "signature does not match"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "Authorization"}, b), "missing or malformed"),
        (lambda h, b: ({**h, "X-Amz-Date": "20200101T000000Z"}, b), "signature expired"),
    ],
)
def test_sigv4_rejects_tampered_unsigned_or_stale_requests(tamper, reason):
    url = "http://127.0.0.1:9999/abc/greetings"
    headers, body = tamper(_signed(url, b"{}"), b"{}")
    with pytest.raises(SignatureError, match=reason):
        verify_sigv4("POST", url, headers, body, CREDS, "us-west-2")


def test_sigv4_rejects_a_signature_for_another_service_or_key():
    url = "http://127.0.0.1:9999/abc/greetings"
    with pytest.raises(SignatureError, match="expected execute-api"):
        verify_sigv4("POST", url, _signed(url, b"{}", service="s3"), b"{}", CREDS, "us-west-2")
    with pytest.raises(SignatureError, match="unknown access key"):
        verify_sigv4("POST", url, _signed(url, b"{}", creds=Credentials("OTHER", "x")), b"{}", CREDS, "us-west-2")
    assert datetime.datetime.now(datetime.UTC)  # clock available for the skew check
