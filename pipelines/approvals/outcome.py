"""How a release-approval execution ended, its result document and its readable timeline (pure).

``decide_outcome(event)`` reads the RecordOutcome event::

    {"executionArn", "executionName", "startedAt", "input", "request"?, "services"?: [validation,
     deployment, notification results], "decision"?: {decision, comment, decidedBy, decidedAt},
     "waitEnded"?: {"Error", "Cause"}, "error"?: {"Error", "Cause"}}

and names the ending: ``approved`` (a decision approved), ``rejected`` (error ReleaseRejected,
its cause the decision's JSON), ``no-decision`` (``waitEnded``: the approval wait's own
States.Timeout / States.HeartbeatTimeout, which its Catch writes there) or ``failed`` (anything
else: a bad input, a failed validation, a service error, StoryAlreadyWaitingError, another
task's timeout …). Every ending but approved carries an error name and a bounded cause.

``result_document`` is what ``outputs/<executionName>/result.json`` holds; ``timeline`` renders
the execution history (GetExecutionHistory events, as boto3 returns them) as
``logs/<executionName>/execution.log``: one line per event that matters — the execution starting,
states entered and exited, tasks scheduled (a retry shows as another one), failed and timed
out — and the outcome last. It shows names, times, error names and short causes only: never a
state's input or output, a task's parameters (the task token travels there) or a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pipelines.common.errors import InvalidInputError, bounded_message
from pipelines.common.inputs import described, quote

APPROVED, REJECTED, NO_DECISION, FAILED = "approved", "rejected", "no-decision", "failed"
REJECTED_ERROR = "ReleaseRejected"
NO_DECISION_ERROR = "NoDecision"
# What a failure Step Functions named (States.Runtime, another task's States.Timeout …) ends as.
STEP_FAILED_ERROR = "ReleaseStepFailed"
WAIT_TIMEOUTS = frozenset({"States.Timeout", "States.HeartbeatTimeout"})
SERVICE_NAMES = ("validation", "deployment", "notification")
RESULTS_PREFIX, LOGS_PREFIX = "outputs/", "logs/"
MAX_CAUSE_CHARS = 500
MAX_LOG_CAUSE_CHARS = 160
MAX_LOG_LINES = 2000
# Long unbroken base64-ish runs (task tokens are ~700 such characters) are never printed in the log.
# Longer than any execution name (at most 80 characters), which a cause may name and must keep.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9+/=_-]{81,}")
_EXECUTION_NAME = re.compile(r"[^\s<>{}\[\]?*\"#%\\^|~`$&,;:/\x00-\x1f\x7f-\x9f]{1,80}")


@dataclass(frozen=True)
class Outcome:
    """The ending: its name, and for every ending but approved the error and cause the execution fails with."""

    outcome: str
    error: str | None = None
    cause: str | None = None
    decision: dict[str, Any] | None = None


def execution_name(event: Mapping[str, Any]) -> str:
    """The event's ``executionName``, safe as an S3 key segment; InvalidInputError otherwise."""
    name = event.get("executionName")
    if not isinstance(name, str) or not _EXECUTION_NAME.fullmatch(name) or name in (".", ".."):
        raise InvalidInputError("executionName", f"must be a Step Functions execution name, got {described(name)}")
    return name


def result_key(name: str) -> str:
    return f"{RESULTS_PREFIX}{name}/result.json"


def log_key(name: str) -> str:
    return f"{LOGS_PREFIX}{name}/execution.log"


def duration_words(seconds: int) -> str:
    """``24 hours``, ``90 minutes``, ``45 seconds``: a wait's length as a person says it."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _json_object(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def short_cause(cause: Any, limit: int = MAX_CAUSE_CHARS) -> str:
    """A cause as a person reads it: a Lambda error's ``errorMessage``, else the text; bounded, tokens hidden."""
    if cause is None:
        return ""
    parsed = _json_object(cause)
    if parsed is not None and isinstance(parsed.get("errorMessage"), str):
        text = parsed["errorMessage"]
    elif parsed is not None and isinstance(parsed.get("decision"), str):
        text = f"{parsed['decision']} by {parsed.get('decidedBy') or 'unknown'}"
    else:
        text = cause if isinstance(cause, str) else json.dumps(cause, default=str)
    return bounded_message(_TOKEN_LIKE.sub("[redacted]", " ".join(text.split())), limit)


def _decision_from_cause(cause: Any) -> dict[str, Any]:
    parsed = _json_object(cause) or {}
    return {
        "decision": parsed.get("decision", "rejected"),
        "comment": parsed.get("comment", ""),
        "decidedBy": parsed.get("decidedBy"),
        "decidedAt": parsed.get("decidedAt"),
    }


def decide_outcome(event: Mapping[str, Any], wait_timeout_s: int = 86_400) -> Outcome:
    """How the execution ended, from what the state machine hands RecordOutcome."""
    error = event.get("error")
    decision = event.get("decision")
    waited_out = event.get("waitEnded")
    if isinstance(waited_out, Mapping) and waited_out.get("Error") in WAIT_TIMEOUTS:
        return Outcome(NO_DECISION, NO_DECISION_ERROR, f"no decision within {duration_words(wait_timeout_s)}")
    if isinstance(error, Mapping):
        name = error.get("Error")
        name = name if isinstance(name, str) and name else "States.Unknown"
        if name == REJECTED_ERROR:
            rejected = _decision_from_cause(error.get("Cause"))
            who = rejected.get("decidedBy") or "unknown"
            comment = " ".join(str(rejected.get("comment") or "").split())
            cause = bounded_message(f"rejected by {who}" + (f": {comment}" if comment else ""), MAX_CAUSE_CHARS)
            return Outcome(REJECTED, REJECTED_ERROR, cause, rejected)
        cause = short_cause(error.get("Cause")) or name
        if name.startswith("States."):
            # A Fail state may not raise a States.* name (it would end in a runtime error instead).
            return Outcome(FAILED, STEP_FAILED_ERROR, bounded_message(f"{name}: {cause}", MAX_CAUSE_CHARS))
        return Outcome(FAILED, bounded_message(name, 256), cause)
    if isinstance(decision, Mapping) and decision.get("decision") in (APPROVED, REJECTED):
        chosen = {k: decision.get(k) for k in ("decision", "comment", "decidedBy", "decidedAt")}
        if chosen["decision"] == APPROVED:
            return Outcome(APPROVED, decision=chosen)
        cause = bounded_message(f"rejected by {chosen.get('decidedBy') or 'unknown'}", MAX_CAUSE_CHARS)
        return Outcome(REJECTED, REJECTED_ERROR, cause, chosen)
    return Outcome(FAILED, "IncompleteExecution", "the execution ended with neither a decision nor an error")


def story_of(event: Mapping[str, Any]) -> str | None:
    """The Jira story of the checked request, if the execution got that far."""
    request = event.get("request")
    story = request.get("storyId") if isinstance(request, Mapping) else None
    return story if isinstance(story, str) and story else None


def _services(results: Any) -> dict[str, Any] | list | None:
    if results is None:
        return None
    if isinstance(results, list) and all(isinstance(r, Mapping) and r.get("service") in SERVICE_NAMES for r in results):
        return {r["service"]: {k: v for k, v in r.items() if k != "service"} for r in results}
    return results  # not the Parallel's shape: kept as it came, for whoever reads the result


def result_document(event: Mapping[str, Any], outcome: Outcome, finished_at: str) -> dict[str, Any]:
    """The content of result.json."""
    return {
        "executionArn": event.get("executionArn"),
        "executionName": event.get("executionName"),
        "outcome": outcome.outcome,
        "startedAt": event.get("startedAt"),
        "finishedAt": finished_at,
        "input": event.get("input"),
        "request": event.get("request"),
        "services": _services(event.get("services")),
        "decision": outcome.decision,
        "error": None if outcome.error is None else {"error": outcome.error, "cause": outcome.cause},
    }


# -- the timeline -------------------------------------------------------------------------------


def iso_millis(moment: datetime) -> str:
    """``2026-12-08T01:00:00.123Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def as_datetime(value: Any) -> datetime | None:
    """A history timestamp (datetime, epoch seconds or ISO text) as an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _details(event: Mapping[str, Any]) -> Mapping[str, Any]:
    kind = str(event.get("type", ""))
    if kind.endswith("StateEntered"):
        key = "stateEnteredEventDetails"
    elif kind.endswith("StateExited"):
        key = "stateExitedEventDetails"
    else:
        key = f"{kind[:1].lower()}{kind[1:]}EventDetails"
    details = event.get(key)
    return details if isinstance(details, Mapping) else {}


_SCHEDULED = ("TaskScheduled", "LambdaFunctionScheduled", "ActivityScheduled")
_FAILED = (
    "TaskFailed", "TaskStartFailed", "TaskSubmitFailed", "LambdaFunctionFailed", "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed", "ActivityFailed", "ActivityScheduleFailed",
)  # fmt: skip
_TIMED_OUT = ("TaskTimedOut", "LambdaFunctionTimedOut", "ActivityTimedOut")
_EXECUTION_ENDS = {
    "ExecutionSucceeded": "succeeded",
    "ExecutionFailed": "failed",
    "ExecutionTimedOut": "timed out",
    "ExecutionAborted": "aborted",
}


def _what(kind: str, details: Mapping[str, Any]) -> str | None:
    """What a history event says, or None for one the timeline leaves out."""
    error = details.get("error")
    error_text = bounded_message(str(error), 120) if error else ""
    cause = short_cause(details.get("cause"), MAX_LOG_CAUSE_CHARS) if details.get("cause") else ""
    failure = ": ".join(part for part in (error_text, cause) if part)
    if kind == "ExecutionStarted":
        return "started"
    if kind == "ExecutionRedriven":
        return "redriven"
    if kind.endswith("StateEntered"):
        return "entered"
    if kind.endswith("StateExited"):
        return "exited"
    if kind in _SCHEDULED:
        return "task scheduled"
    if kind in _FAILED:
        return "task failed" + (f": {failure}" if failure else "")
    if kind in _TIMED_OUT:
        return "task timed out" + (f": {failure}" if failure else "")
    if kind in _EXECUTION_ENDS:
        return _EXECUTION_ENDS[kind] + (f": {failure}" if failure else "")
    return None


def _in_order(history: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    # Step Functions lists events by id, which is time order; a history from elsewhere may not be.
    def key(pair: tuple[int, Mapping[str, Any]]) -> tuple[float, int]:
        moment = as_datetime(pair[1].get("timestamp"))
        return (moment.timestamp() if moment else float("inf"), pair[0])

    return [event for _, event in sorted(enumerate(history), key=key)]


def _line(moment: datetime, start: datetime, subject: str, what: str) -> str:
    elapsed = (moment - start).total_seconds()
    return f"{iso_millis(moment)}  +{elapsed:.1f}s  {subject}  {what}"


def timeline(
    history: Iterable[Mapping[str, Any]], outcome: Outcome, *, started_at: Any = None, finished_at: datetime
) -> str:
    """The execution log: one line per event that matters, then the outcome (text, newline-terminated)."""
    start = as_datetime(started_at)
    state_of: dict[int, str] = {}
    lines: list[str] = []
    left_out = 0
    for event in _in_order(history):
        kind = str(event.get("type", ""))
        moment = as_datetime(event.get("timestamp"))
        details = _details(event)
        event_id, previous = event.get("id"), event.get("previousEventId")
        name = details.get("name") if kind.endswith(("StateEntered", "StateExited")) else None
        # A task's events name no state: each belongs to the state of the event it follows.
        state = name if isinstance(name, str) else state_of.get(previous) if isinstance(previous, int) else None
        if isinstance(event_id, int) and state is not None:
            state_of[event_id] = state
        if start is None and moment is not None:
            start = moment
        what = _what(kind, details)
        if what is None or moment is None:
            continue
        if len(lines) >= MAX_LOG_LINES:
            left_out += 1
            continue
        subject = "execution" if kind.startswith("Execution") else bounded_message(state or kind, 80)
        lines.append(_line(moment, start, subject, what))
    if left_out:
        lines.append(f"… {left_out:,} more events not shown")
    ending = outcome.outcome
    if outcome.error:
        ending += f": {outcome.error}: {short_cause(outcome.cause, MAX_LOG_CAUSE_CHARS)}"
    lines.append(_line(finished_at, start or finished_at, "outcome", ending))
    return "\n".join(lines) + "\n"


def describe_outcome(outcome: Outcome) -> str:
    """One line for the function's own log."""
    return outcome.outcome if not outcome.error else f"{outcome.outcome} ({outcome.error}: {quote(outcome.cause, 80)})"
