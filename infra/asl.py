"""Small helpers for writing Amazon States Language as dicts, and static checks over a definition.

Workflows build their definitions from these so retry policy, error names and timeouts are
decided in one place. The retryable error names come from ``pipelines.common.errors`` so the
Lambda side and the state machine side cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pipelines.common.errors import retryable_error_names

# Lambda's own transient failures (AWS guidance), retried on every Lambda task.
LAMBDA_TRANSIENT_ERRORS = (
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# DynamoDB errors worth a second try from a direct integration.
DYNAMODB_TRANSIENT_ERRORS = (
    "DynamoDB.ProvisionedThroughputExceededException",
    "DynamoDB.ThrottlingException",
    "DynamoDB.InternalServerErrorException",
    "DynamoDB.RequestLimitExceeded",
)


# A Task waits this much longer than its function's own timeout, so a timed-out function
# reports its own error (with its logs) before the state gives up on it.
TASK_TIMEOUT_MARGIN_S = 30


def task_timeout_for(function_timeout_s: int) -> int:
    """TimeoutSeconds of a Task invoking a function with ``function_timeout_s``."""
    return function_timeout_s + TASK_TIMEOUT_MARGIN_S


def retry(
    errors: Iterable[str],
    *,
    attempts: int = 3,
    interval_s: int = 1,
    backoff: float = 2.0,
    max_delay_s: int = 30,
) -> dict[str, Any]:
    """One Retry rule with exponential backoff and full jitter."""
    return {
        "ErrorEquals": list(errors),
        "IntervalSeconds": interval_s,
        "MaxAttempts": attempts,
        "BackoffRate": backoff,
        "MaxDelaySeconds": max_delay_s,
        "JitterStrategy": "FULL",
    }


def lambda_retries(**kwargs) -> list[dict[str, Any]]:
    """Retry Lambda's transient errors and the pipelines' own retryable errors."""
    return [retry([*LAMBDA_TRANSIENT_ERRORS, *retryable_error_names()], **kwargs)]


def catch_all(next_state: str, result_path: str = "$.error") -> list[dict[str, Any]]:
    """Send every error (``States.ALL``, alone in its catcher) to ``next_state``."""
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_state}]


def lambda_task(
    function_arn: str,
    *,
    next_state: str | None = None,
    payload: Mapping[str, Any] | None = None,
    timeout_s: int,
    catch_to: str,
    result_path: str | None = "$",
    result_selector: Mapping[str, Any] | None = None,
    retries: Sequence[Mapping[str, Any]] | None = None,
    comment: str | None = None,
) -> dict[str, Any]:
    """A Task invoking a Lambda function (``timeout_s`` is required so no task can hang).

    By default the state's output is the function's return value. With ``result_path`` the
    result is merged into the input there (shaped by ``result_selector`` over the invoke
    response, e.g. ``{"orgs.$": "$.Payload.orgs"}``); ``None`` discards it.
    """
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload.$": "$"}
        if payload is None
        else {"FunctionName": function_arn, "Payload": dict(payload)},
        "TimeoutSeconds": timeout_s,
        "Retry": list(retries) if retries is not None else lambda_retries(),
        "Catch": catch_all(catch_to),
    }
    if result_path == "$" and result_selector is None:
        state["OutputPath"] = "$.Payload"
    else:
        if result_selector is not None:
            state["ResultSelector"] = dict(result_selector)
        state["ResultPath"] = result_path
    if comment:
        state["Comment"] = comment
    _chain(state, next_state)
    return state


def _chain(state: dict[str, Any], next_state: str | None) -> None:
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state


def fail_with_cause(error: str, error_path: str = "$.error.Error", cause_path: str = "$.error.Cause") -> dict:
    """A Fail state carrying the caught error's name and cause."""
    return {"Type": "Fail", "Comment": error, "ErrorPath": error_path, "CausePath": cause_path}


# ---------------------------------------------------------------------------------------------
# Static checks


def _nested_machines(definition: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    yield "", definition
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches", [])):
                for prefix, machine in _nested_machines(branch):
                    yield f"{name}.Branches[{i}]{prefix}", machine
        if state.get("Type") == "Map":
            inner = state.get("ItemProcessor") or state.get("Iterator")
            if inner:
                for prefix, machine in _nested_machines(inner):
                    yield f"{name}.ItemProcessor{prefix}", machine


def _targets(state: Mapping[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [c["Next"] for c in state.get("Catch", [])]
    targets += [c["Next"] for c in state.get("Choices", [])]
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def check_definition(definition: Mapping[str, Any]) -> list[str]:
    """Problems found in a definition (empty when it passes).

    Checks every machine (top level, Parallel branches, Map processors): StartAt exists, every
    transition target exists, every state is reachable, non-terminal states have Next or End,
    every Task has TimeoutSeconds, Retry and Catch, and ``States.ALL`` stands alone and last.
    """
    problems: list[str] = []
    for where, machine in _nested_machines(definition):
        states = machine.get("States", {})
        label = where or "top level"
        start = machine.get("StartAt")
        if start not in states:
            problems.append(f"{label}: StartAt {start!r} is not a state")
            continue
        for name, state in states.items():
            kind = state.get("Type")
            for target in _targets(state):
                if target not in states:
                    problems.append(f"{label}: {name} goes to missing state {target!r}")
            terminal = kind in ("Succeed", "Fail") or state.get("End") is True
            if kind not in ("Succeed", "Fail", "Choice") and not terminal and "Next" not in state:
                problems.append(f"{label}: {name} has neither Next nor End")
            if kind == "Task":
                for required in ("TimeoutSeconds", "Retry", "Catch"):
                    if required not in state:
                        problems.append(f"{label}: Task {name} has no {required}")
            for rules in (state.get("Retry", []), state.get("Catch", [])):
                for i, rule in enumerate(rules):
                    if "States.ALL" in rule["ErrorEquals"] and (len(rule["ErrorEquals"]) > 1 or i != len(rules) - 1):
                        problems.append(f"{label}: {name} uses States.ALL with other errors or not last")
        reachable, frontier = set(), [start]
        while frontier:
            name = frontier.pop()
            if name in reachable or name not in states:
                continue
            reachable.add(name)
            frontier.extend(_targets(states[name]))
        for name in states:
            if name not in reachable:
                problems.append(f"{label}: {name} is unreachable")
    return problems
