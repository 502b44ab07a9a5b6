"""What went wrong, from whatever the error handler is given (pure; never raises)."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Failure:
    """The error name and cause for the Fail state, and the run to mark failed if known."""

    error: str
    cause: str
    run_id: int | None
    execution_id: str | None


def _cause_text(cause) -> str:
    # A Lambda error's Cause is a JSON string {"errorMessage", "errorType", "stackTrace"}.
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except json.JSONDecodeError:
            return cause
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            return parsed["errorMessage"]
        return cause
    return "" if cause is None else json.dumps(cause, default=str)[:32768]


def _run_id(event: dict) -> int | None:
    value = event.get("run_id")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _caught(event: dict) -> dict | None:
    for candidate in (event.get("error"), event):
        if isinstance(candidate, dict) and isinstance(candidate.get("Error"), str):
            return candidate
    return None


def describe_failure(event) -> Failure:
    """Read a Catch result ({"Error","Cause"}, alone or under ``error``) or a success:false payload."""
    if not isinstance(event, dict):
        return Failure("UnknownError", f"error handler received {type(event).__name__}: {str(event)[:500]}", None, None)
    run_id = _run_id(event)
    execution_id = event.get("execution_id") if isinstance(event.get("execution_id"), str) else None
    caught = _caught(event)
    if caught is not None:
        return Failure(caught["Error"], _cause_text(caught.get("Cause")), run_id, execution_id)
    if event.get("success") is False:
        failed_rules = event.get("failed_rules")
        if isinstance(failed_rules, list) and failed_rules:
            cause = "validation rules failed: " + ", ".join(map(str, failed_rules))
            return Failure("ValidationFailed", cause, run_id, execution_id)
        reason = event.get("reason") or event.get("message") or "a step returned success: false"
        return Failure("StepFailed", str(reason), run_id, execution_id)
    return Failure("StepFailed", "a step returned no success flag", run_id, execution_id)
