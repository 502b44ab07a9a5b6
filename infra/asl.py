"""Amazon States Language as dicts: tasks that carry their grants, retry/catch presets, static checks.

Workflows build their definitions from these so retry policy, error names and timeouts are
decided in one place. A state built by an integration builder (``infra/integrations.py``) is a
``Task``: the ASL state together with the IAM grants it needs. ``Definition.of`` turns a
definition holding Tasks into the plain ASL document and the union of the grants, which is
exactly what the state machine's role is given: no state without its grant, no grant without
its state.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.components.grants import ResolvedGrant
from pipelines.common.errors import RetryableError

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
# SNS publish: throttling and SNS's own failures (the optimized integration's error names).
SNS_TRANSIENT_ERRORS = ("SNS.ThrottledException", "SNS.InternalErrorException", "SNS.KMSThrottlingException")
# S3 through the AWS SDK integration: a 5xx or a throttle is worth another try.
S3_TRANSIENT_ERRORS = ("S3.InternalErrorException", "S3.SlowDownException", "S3.ServiceUnavailableException")
# Step Functions startExecution: throttling only (an existing name is idempotent success).
SFN_TRANSIENT_ERRORS = ("StepFunctions.ThrottlingException", "StepFunctions.SfnException")

# A Task waits this much longer than its function's own timeout, so a timed-out function
# reports its own error (with its logs) before the state gives up on it.
TASK_TIMEOUT_MARGIN_S = 30


def task_timeout_for(function_timeout_s: int) -> int:
    """TimeoutSeconds of a Task invoking a function with ``function_timeout_s``."""
    return function_timeout_s + TASK_TIMEOUT_MARGIN_S


def error_names(*errors: type[RetryableError]) -> tuple[str, ...]:
    """The ``ErrorEquals`` names of a pipeline's retryable errors (classes, so a rename is caught)."""
    for error in errors:
        if not (isinstance(error, type) and issubclass(error, RetryableError)):
            raise TypeError(f"{error!r} is not a RetryableError: only errors a second try can fix are retried")
    return tuple(sorted({error.__name__ for error in errors}))


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


def lambda_retries(pipeline_errors: Sequence[str], **kwargs) -> list[dict[str, Any]]:
    """Retry Lambda's transient errors and the retryable errors of the pipeline's own functions."""
    return [retry([*LAMBDA_TRANSIENT_ERRORS, *pipeline_errors], **kwargs)]


def catch_all(next_state: str, result_path: str = "$.error") -> list[dict[str, Any]]:
    """Send every error (``States.ALL``, alone in its catcher) to ``next_state``."""
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": result_path, "Next": next_state}]


def catch(errors: Sequence[str], next_state: str, result_path: str = "$.error") -> dict[str, Any]:
    """One catcher: ``errors`` (never ``States.ALL``: that is ``catch_all``'s, alone and last) to ``next_state``."""
    if "States.ALL" in errors:
        raise ValueError("States.ALL must be alone in the last catcher: use catch_all")
    return {"ErrorEquals": list(errors), "ResultPath": result_path, "Next": next_state}


def chain(state: dict[str, Any], next_state: str | None) -> dict[str, Any]:
    """Set ``Next`` (or ``End`` when ``next_state`` is None) on ``state``."""
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def choice(variable: str, test: str, value: Any, then: str, otherwise: str) -> dict[str, Any]:
    """A Choice of one rule: ``then`` when ``variable`` passes ``test`` (``NumericEquals`` …) with ``value``."""
    return {"Type": "Choice", "Choices": [{"Variable": variable, test: value, "Next": then}], "Default": otherwise}


def pass_state(parameters: Mapping[str, Any], next_state: str | None) -> dict[str, Any]:
    """A Pass state shaping its output from ``parameters``."""
    return chain({"Type": "Pass", "Parameters": dict(parameters)}, next_state)


def fail_with_cause(error: str, error_path: str = "$.error.Error", cause_path: str = "$.error.Cause") -> dict:
    """A Fail state carrying the caught error's name and cause."""
    return {"Type": "Fail", "Comment": error, "ErrorPath": error_path, "CausePath": cause_path}


INPUT_REJECTED = "InputRejected"
# A task's ``catch_to`` inside a Parallel branch or a Map processor whose state catches everything:
# the task has no Catch of its own, its failure fails the branch and reaches that Catch as it is.
ENCLOSING_CATCH = "(the enclosing Parallel or Map)"


def input_rejected() -> dict:
    """The Fail state a workflow's intake catches to (``validate_input``): the caught error as is.

    The intake's Catch replaces the state with ``{"Error", "Cause"}``, so they are read at the top.
    """
    return fail_with_cause("The execution input was rejected", error_path="$.Error", cause_path="$.Cause")


@dataclass(frozen=True)
class Task:
    """An ASL state and the grants the state machine's role needs to run it."""

    state: dict[str, Any]
    grants: tuple[ResolvedGrant, ...]


@dataclass(frozen=True)
class Definition:
    """A rendered state machine: the ASL document and the grants its states use."""

    document: dict[str, Any]
    grants: tuple[ResolvedGrant, ...]

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Definition:
        """Replace every Task (at any depth: Parallel branches, Map processors) by its state."""
        grants: list[ResolvedGrant] = []

        def plain(value: Any) -> Any:
            if isinstance(value, Task):
                grants.extend(value.grants)
                return plain(value.state)
            if isinstance(value, Mapping):
                return {k: plain(v) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return [plain(v) for v in value]
            return value

        rendered = plain(document)
        unique = {(g.sid, g.actions, g.resources, json.dumps(g.conditions, sort_keys=True)): g for g in grants}
        return cls(rendered, tuple(unique.values()))


# ---------------------------------------------------------------------------------------------
# Static checks


def _nested_machines(definition: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Any]]]:
    for where, machine, _ in _machines_and_catchers(definition):
        yield where, machine


def _catches_all(state: Mapping[str, Any]) -> bool:
    return any(rule.get("ErrorEquals") == ["States.ALL"] for rule in state.get("Catch", []))


def _machines_and_catchers(
    definition: Mapping[str, Any], caught: bool = False
) -> Iterable[tuple[str, Mapping[str, Any], bool]]:
    # ``caught``: the Parallel or Map around this machine catches every error of it.
    yield "", definition, caught
    for name, state in definition.get("States", {}).items():
        if state.get("Type") == "Parallel":
            for i, branch in enumerate(state.get("Branches", [])):
                for prefix, machine, inner_caught in _machines_and_catchers(branch, _catches_all(state)):
                    yield f"{name}.Branches[{i}]{prefix}", machine, inner_caught
        if state.get("Type") == "Map":
            inner = state.get("ItemProcessor") or state.get("Iterator")
            if inner:
                for prefix, machine, inner_caught in _machines_and_catchers(inner, _catches_all(state)):
                    yield f"{name}.ItemProcessor{prefix}", machine, inner_caught


def _targets(state: Mapping[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [c["Next"] for c in state.get("Catch", [])]
    targets += [c["Next"] for c in state.get("Choices", [])]
    if "Default" in state:
        targets.append(state["Default"])
    return targets


TASK_TOKEN = "$$.Task.Token"


def passes_task_token(parameters: Any) -> bool:
    """True when some ``….$`` parameter (at any depth) reads or formats the task token."""
    if isinstance(parameters, Mapping):
        return any(
            (key.endswith(".$") and isinstance(value, str) and TASK_TOKEN in value) or passes_task_token(value)
            for key, value in parameters.items()
        )
    if isinstance(parameters, list):
        return any(passes_task_token(v) for v in parameters)
    return False


def _check_task(label: str, name: str, state: Mapping[str, Any], caught_around: bool) -> list[str]:
    # Inside a Parallel or Map that catches everything, a failure may rise to that Catch instead.
    required = ("TimeoutSeconds", "Retry") if caught_around else ("TimeoutSeconds", "Retry", "Catch")
    problems = [f"{label}: Task {name} has no {key}" for key in required if key not in state]
    timeout, heartbeat = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
    if heartbeat is not None and timeout is not None and heartbeat >= timeout:
        problems.append(f"{label}: Task {name} has HeartbeatSeconds {heartbeat} not below TimeoutSeconds {timeout}")
    if str(state.get("Resource", "")).endswith(".waitForTaskToken") and not passes_task_token(state.get("Parameters")):
        # Nobody could ever answer: the execution would wait until TimeoutSeconds every time.
        problems.append(f"{label}: token Task {name} does not pass {TASK_TOKEN} in its Parameters")
    return problems


def check_definition(definition: Mapping[str, Any]) -> list[str]:
    """Problems found in a definition (empty when it passes).

    Checks every machine (top level, Parallel branches, Map processors): StartAt exists, every
    transition target exists, every state is reachable, non-terminal states have Next or End,
    every Task has TimeoutSeconds, Retry and a Catch (of its own, or, inside a Parallel branch or a Map
    processor, the enclosing state's catch-all; and a HeartbeatSeconds below its TimeoutSeconds), a
    ``.waitForTaskToken`` Task passes ``$$.Task.Token``, and ``States.ALL``
    stands alone and last.
    """
    problems: list[str] = []
    for where, machine, caught_around in _machines_and_catchers(definition):
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
                problems += _check_task(label, name, state, caught_around)
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
