"""In-process Lambda invocation for moto: run the handler named by the function's ``handler``.

moto would run Lambda code in Docker, which the sandbox does not have. Its documented extension
point, ``LambdaFunction._invoke_lambda``, is replaced by ``invoke_in_process``: the handler runs
in this interpreter with the function's environment variables, its stdout goes to the
function's log group, and an exception becomes a function error whose ``errorType`` is the
exception's class name, as in AWS, so ``ErrorEquals`` in the state machine matches.

In a sandbox (``iam.active()``), the function runs as its execution role, as in AWS: the role
is assumed as ``lambda.amazonaws.com`` (its trust policy evaluated with Lambda's request
context) and the handler gets that role's temporary credentials in ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``, so every call it makes is authorized
against the role's policies. A role Lambda cannot assume fails the invocation (not the
function) with an error naming the role.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import io
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError

from infra.sandbox import iam

# Settings of the emulated Lambda runtime itself, under every function's own variables (a
# function's environment wins). The sandbox puts DB_SSLROOTCERT here: a deployed function
# verifies RDS with the Amazon RDS CA bundle it ships, but no RDS CA can sign the certificate
# of a PostgreSQL server on loopback, so in the sandbox the functions trust the CAs of the
# sandbox's own servers instead (``DatabaseFleet.ca_bundle_path()``).
RUNTIME_ENVIRONMENT: dict[str, str] = {}

# os.environ is process-wide; one invocation at a time keeps each handler's settings its own.
# (Map iterations run in threads in moto, so concurrent invocations are serialized here.)
_INVOKE_LOCK = threading.RLock()

# Called after every invocation with (function, seconds the handler ran, errored, log text): how the
# sandbox meters Lambda (``infra/sandbox/metering.py``). The time is in-process, a lower bound of AWS's.
INVOCATION_LISTENERS: list[Callable[[LambdaFunction, float, bool, str], None]] = []


@dataclass
class LambdaContext:
    """The parts of the Lambda context object handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_s: int
    started: float

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


class RoleCannotBeAssumed(JsonRESTError):
    """Lambda could not assume the function's execution role: the invocation fails, naming the role."""

    code = 403

    def __init__(self, refused: iam.AssumeRoleRefused):
        super().__init__(
            "AccessDeniedException",
            f"The role defined for the function cannot be assumed by Lambda: {refused.role_arn} ({refused.reason})",
        )
        self.code = 403


@contextlib.contextmanager
def _function_environment(variables: dict[str, str]):
    # The variables a function's environment replaces or removes (a token of the operator's
    # would otherwise sit beside the role's keys).
    names = set(variables) | set(iam.CREDENTIAL_VARIABLES)
    saved = {key: os.environ.get(key) for key in names}
    saved_session = boto3.DEFAULT_SESSION
    for key in iam.CREDENTIAL_VARIABLES:
        os.environ.pop(key, None)
    os.environ.update(variables)
    # A default session caches the first credentials it resolves: the handler gets its own.
    boto3.DEFAULT_SESSION = None
    try:
        yield
    finally:
        boto3.DEFAULT_SESSION = saved_session
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class _ThreadStdout:
    """sys.stdout while a function runs: its thread writes into the function's log, every other thread
    (the CLI printing a report, a test) writes where stdout went before, as in separate processes."""

    def __init__(self, outside, invoking: threading.Thread, log: io.StringIO):
        self._outside, self._invoking, self._log = outside, invoking, log

    def _target(self):
        return self._log if threading.current_thread() is self._invoking else self._outside

    def write(self, text: str) -> int:
        return self._target().write(text)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str):
        return getattr(self._outside, name)


@contextlib.contextmanager
def _function_stdout(log: io.StringIO):
    # contextlib.redirect_stdout is process-wide: another thread's print would land in this log.
    outside = sys.stdout
    routed = _ThreadStdout(outside, threading.current_thread(), log)
    sys.stdout = routed
    try:
        yield
    finally:
        if sys.stdout is routed:
            sys.stdout = outside


def _role_environment(fn: LambdaFunction) -> dict[str, str]:
    """The execution role's temporary credentials, as Lambda puts them in the environment."""
    sandbox_iam = iam.active()
    if sandbox_iam is None:
        return {}
    try:
        credentials = sandbox_iam.assume(fn.role, iam.LAMBDA, source_arn=fn.function_arn, session_name=fn.function_name)
    except iam.AssumeRoleRefused as refused:
        raise RoleCannotBeAssumed(refused) from None
    return credentials.environment()


def resolve_handler(handler: str):
    """The callable named ``module.function`` by a Lambda ``handler`` setting."""
    module_name, _, function_name = handler.rpartition(".")
    if not module_name:
        raise ImportError(f"handler {handler!r} is not of the form module.function")
    return getattr(importlib.import_module(module_name), function_name)


def invoke_in_process(fn: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
    """Run ``fn``'s handler on ``event`` (JSON text, or a decoded value); return (payload JSON, errored, log text)."""
    if isinstance(event, (str, bytes)):
        # As Lambda's Python runtime does: the request payload is JSON text, decoded once.
        event = json.loads(event or "{}")
    context = LambdaContext(
        function_name=fn.function_name,
        memory_limit_in_mb=int(fn.memory_size),
        invoked_function_arn=fn.function_arn,
        aws_request_id=str(uuid.uuid4()),
        timeout_s=int(fn.timeout),
        started=time.monotonic(),
    )
    environment = {
        **RUNTIME_ENVIRONMENT,
        **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        **_role_environment(fn),
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_REGION": fn.region,
        "AWS_DEFAULT_REGION": fn.region,
    }
    captured = io.StringIO()
    with _INVOKE_LOCK, _function_environment(environment), _function_stdout(captured):
        began = time.monotonic()
        try:
            result = resolve_handler(fn.handler)(event, context)
            payload, errored = json.dumps(result), False
        except Exception as exc:  # noqa: BLE001 - every handler failure becomes a function error
            payload = json.dumps(
                {
                    "errorType": type(exc).__name__,
                    "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }
            )
            errored = True
            print(json.dumps({"level": "ERROR", "errorType": type(exc).__name__, "errorMessage": str(exc)}))
        ran_s = time.monotonic() - began
    logs = captured.getvalue()
    fn.save_logs(logs or "(no output)")
    for listener in INVOCATION_LISTENERS:
        listener(fn, ran_s, errored, logs)
    return payload, errored, logs


def _invoke_with_raw_payload(self: LambdaFunction, body: str, request_headers: Any, response_headers: Any):
    # moto's LambdaFunction.invoke decodes the payload before _invoke_lambda sees it, so a JSON
    # string payload ("hi") would be decoded twice; hand the JSON text on as AWS does.
    result, errored, logs = self._invoke_lambda(event=body or "{}")
    if errored:
        response_headers["x-amz-function-error"] = "Handled"
    if request_headers.get("x-amz-invocation-type", "RequestResponse") == "RequestResponse":
        response_headers["x-amz-log-result"] = base64.b64encode(logs.encode("utf-8")).decode("utf-8")
        return result.encode("utf-8")
    return result


def _payload_as_json(payload: Any) -> bytes:
    # Step Functions sends a Lambda task's Payload as its JSON text: null as null (moto sends {}),
    # a string as a JSON string (moto sends a string that parses as JSON unquoted).
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str  # its context values are datetimes

    return payload if isinstance(payload, bytes) else to_json_str(payload).encode("utf-8")


def install() -> None:
    """Route moto's Lambda invocations to ``invoke_in_process``, payloads encoded as in AWS."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    LambdaFunction._invoke_lambda = invoke_in_process
    LambdaFunction.invoke = _invoke_with_raw_payload
    lambda_eval_utils.to_payload_type = _payload_as_json
