"""Fixes to moto's ASL interpreter where it differs from Step Functions (installed by ``Sandbox``).

- ``arn:aws:states:::states:startExecution``: Step Functions takes the documented parameter names
  (``StateMachineArn``, ``Input``, ``Name``); moto hands them to boto3 as they are, whose
  ``StartExecution`` members are ``stateMachineArn``, ``input`` and ``name``, and every such task
  fails with ``States.Runtime`` (KeyError 'StateMachineArn'). Here they are renamed to the API's
  members first, as the service does. Its result is the API's answer as Step Functions shows
  it, ``{"ExecutionArn", "StartDate"}`` with the date in epoch milliseconds; moto leaves boto3's
  ``startDate`` datetime in the state, which then fails every later read of the execution.
- Parsing: moto parses a definition with ANTLR when the machine is created and again for every
  execution (~50 ms for a pipeline's definition, on every run of every test). The parse tree of a
  definition text is kept; each execution still gets evaluation components of its own, built
  from it (the tree is only read).

Retry waits pass on the sandbox clock (``clock.py``) and are recorded in ``RETRY_WAITS``: the
schedule is the definition's, as in AWS, and a test can read it without paying it.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn
from moto.stepfunctions.parser.asl.parse import asl_parser

# The waits the interpreter's retriers asked for, in seconds, in order (cleared by ``install``;
# the sandbox clock appends to it).
RETRY_WAITS: list[float] = []


def _api_member(name: str) -> str:
    return name[:1].lower() + name[1:]


def _as_shown_by_step_functions(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _as_shown_by_step_functions(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_shown_by_step_functions(item) for item in value]
    if isinstance(value, datetime.datetime):
        return value.timestamp() * 1000
    return value


# Definition text → its ANTLR parse tree (a process has a few dozen definitions: no eviction needed).
_TREES: dict[str, Any] = {}
_parse_anew = asl_parser.AmazonStateLanguageParser.parse


def _parse_once(definition: str):
    tree = _TREES.get(definition)
    if tree is None:
        program, tree = _parse_anew(definition)  # a syntax error raises and is not kept
        _TREES[definition] = tree
        return program, tree
    return asl_parser.Preprocessor().visit(tree), tree


def install() -> Callable[[], None]:
    """Patch the interpreter; returns the undo."""
    task = state_task_service_sfn.StateTaskServiceSfn
    original = task._normalise_parameters
    original_eval = task._eval_service_task

    def evaluate(self, env, *args, **kwargs) -> None:
        original_eval(self, env, *args, **kwargs)
        env.stack.append(_as_shown_by_step_functions(env.stack.pop()))

    def normalise(self, parameters: dict, boto_service_name=None, service_action_name=None) -> None:
        original(self, parameters, boto_service_name, service_action_name)
        for name in list(parameters):
            member = _api_member(name)
            if member != name:
                parameters[member] = parameters.pop(name)

    task._normalise_parameters = normalise
    task._eval_service_task = evaluate
    asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse_once)
    RETRY_WAITS.clear()

    def undo() -> None:
        task._normalise_parameters = original
        task._eval_service_task = original_eval
        asl_parser.AmazonStateLanguageParser.parse = staticmethod(_parse_anew)

    return undo
