"""Driving release-approval in the sandbox as its users do: a request uploaded, Jira answering the callback.

``request_release`` puts a release request under the pipeline's ``inputs/`` (S3 → EventBridge →
router → the run, ``infra/sandbox/uploads.py``); ``until_waiting`` follows the run to its
callback wait (the token stored, the execution paused); ``jira`` is the Jira Automation rule that
sends the decision to ``POST /callbacks/jira`` with the shared secret read from the pipeline's
secret, as an administrator configured it.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from infra.sandbox.uploads import TriggeredRun, upload_and_find_run

if TYPE_CHECKING:
    from infra.sandbox.core import Sandbox
    from infra.sandbox.fakes.jira import JiraAutomation

PIPELINE = "release-approval"
WAIT_STATE = "WaitForJiraCallback"


def request_release(sandbox: Sandbox, name: str, request: dict[str, Any] | bytes) -> TriggeredRun:
    """Upload ``request`` as ``inputs/<name>``; the execution the upload started."""
    body = request if isinstance(request, bytes) else json.dumps(request).encode()
    return upload_and_find_run(sandbox, PIPELINE, name, body)


def is_waiting(history: list[dict]) -> bool:
    """Whether the execution's callback task has handed its token on and is paused (TaskSubmitted)."""
    entered = any(
        e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == WAIT_STATE for e in history
    )
    return entered and any(e["type"] == "TaskSubmitted" for e in history)


def until_waiting(sandbox: Sandbox, execution_arn: str, timeout_s: float = 60.0) -> bool:
    """Follow the execution until it waits for the callback (True) or ends without waiting (False).

    Waiting means the token is stored and the task's wait is armed on the sandbox clock, so a
    callback can answer it and an ``advance`` past the approval timeout times it out.
    """
    sfn = sandbox.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sandbox.waits_for_callback(execution_arn):
            history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
            return is_waiting(history)
        if sandbox.status_of(execution_arn) != "RUNNING":
            return False
        time.sleep(0.005)
    raise TimeoutError(f"{execution_arn} neither waited for its callback nor ended within {timeout_s}s")


def jira(sandbox: Sandbox, secret: str | None = None) -> JiraAutomation:
    """The Jira Automation rule posting to the callback API (with the stored secret unless ``secret`` is given)."""
    from infra.sandbox.fakes.jira import JiraAutomation

    outputs = sandbox.outputs(PIPELINE)
    if secret is None:
        secret = sandbox.client("secretsmanager").get_secret_value(SecretId=outputs["callbackSecretArn"])[
            "SecretString"
        ]
    return JiraAutomation(sandbox.route_url(outputs["callbackUrl"]), secret)


def outputs_of(sandbox: Sandbox, execution_arn: str) -> tuple[dict | None, str | None]:
    """(result.json parsed, execution.log text) the run wrote, each None if absent."""
    bucket = sandbox.outputs(PIPELINE)["bucketName"]
    name = execution_arn.rsplit(":", 1)[1]
    s3 = sandbox.client("s3")
    found: list[Any] = []
    for key in (f"outputs/{name}/result.json", f"logs/{name}/execution.log"):
        try:
            found.append(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode())
        except s3.exceptions.NoSuchKey:
            found.append(None)
    result, log = found
    return (json.loads(result) if result is not None else None), log
