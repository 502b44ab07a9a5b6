"""The execution input (the POST /invoke body): validated into a RunRequest, or InvalidInputError."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, described, optional_string, quote
from pipelines.incidents.window import MAX_WINDOW_MONTHS, TimeWindow, format_timestamp, parse_timestamp

STATUSES = ("triggered", "acknowledged", "resolved")
URGENCIES = ("high", "low")
DEFAULT_LOOKBACK = timedelta(hours=24)
MAX_SERVICE_IDS = 100
KNOWN_FIELDS = ("since", "until", "statuses", "service_ids")
# Largest JSON size of each field: a timestamp, three statuses, 100 service ids.
REQUEST = RequestShape.of(since=64, until=64, statuses=128, service_ids=4096)
# PagerDuty object ids are short upper-case alphanumerics (PXXXXXX); anything else is a typo.
_SERVICE_ID = re.compile(r"^[A-Z0-9]{1,32}$")


@dataclass(frozen=True)
class RunRequest:
    """What one execution fetches: a window and optional filters (empty = no filter)."""

    window: TimeWindow
    statuses: tuple[str, ...] = field(default=())
    service_ids: tuple[str, ...] = field(default=())

    def to_event(self) -> dict:
        """The JSON form passed from step to step, with the window fully resolved."""
        return {
            "since": format_timestamp(self.window.since),
            "until": format_timestamp(self.window.until),
            "statuses": list(self.statuses),
            "service_ids": list(self.service_ids),
        }


def _timestamp(body: dict, name: str) -> datetime | None:
    raw = optional_string(body, name)
    if raw is None:
        return None
    try:
        # Whole seconds: PagerDuty's resolution, and split points stay exact.
        return parse_timestamp(raw.strip()).replace(microsecond=0)
    except ValueError:
        raise InvalidInputError(name, f"{quote(raw)} is not an ISO-8601 timestamp with a time zone") from None


def _string_list(body: dict, name: str) -> list[str]:
    if name not in body:
        return []
    raw = body[name]
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise InvalidInputError(name, f"must be a list of strings, got {described(raw)}")
    return raw


def _statuses(body: dict) -> tuple[str, ...]:
    values = _string_list(body, "statuses")
    unknown = sorted({v for v in values if v not in STATUSES})
    if unknown:
        raise InvalidInputError(
            "statuses", f"unknown status {', '.join(map(repr, unknown))}; allowed: {', '.join(STATUSES)}"
        )
    # PagerDuty's order; duplicates would only repeat query parameters.
    return tuple(s for s in STATUSES if s in values)


def _service_ids(body: dict) -> tuple[str, ...]:
    values = _string_list(body, "service_ids")
    bad = [v for v in values if not _SERVICE_ID.match(v)]
    if bad:
        raise InvalidInputError("service_ids", f"{quote(bad[0])} is not a PagerDuty service id (e.g. PABC123)")
    if len(set(values)) > MAX_SERVICE_IDS:
        raise InvalidInputError("service_ids", f"at most {MAX_SERVICE_IDS} service ids per run")
    return tuple(sorted(set(values)))


def _window(body: dict, now: datetime) -> TimeWindow:
    since, until = _timestamp(body, "since"), _timestamp(body, "until")
    if until is None:
        until = now.replace(microsecond=0)
    if since is None:
        since = until - DEFAULT_LOOKBACK
    if until <= since:
        raise InvalidInputError("until", f"{format_timestamp(until)} is not after since {format_timestamp(since)}")
    window = TimeWindow(since, until)
    if window.exceeds_months(MAX_WINDOW_MONTHS):
        raise InvalidInputError("until", f"the window {window} is longer than PagerDuty's {MAX_WINDOW_MONTHS} months")
    return window


def coerce_body(event) -> dict:
    """The request body as a dict: an object as is, a JSON string parsed, nothing as ``{}``."""
    if event is None or event == "":
        return {}
    if isinstance(event, str):
        try:
            event = json.loads(event)
        except json.JSONDecodeError:
            raise InvalidInputError("body", "is not valid JSON") from None
    if not isinstance(event, dict):
        raise InvalidInputError("body", f"must be a JSON object, got {type(event).__name__}")
    return event


def parse_run_request(body, now: datetime) -> RunRequest:
    """Validate the request body; defaults: the 24 hours before ``now``, every status, every service.

    A typo such as "service_id" is an error: it would otherwise silently widen the query.
    """
    body = checked_request(body, REQUEST)
    return RunRequest(window=_window(body, now), statuses=_statuses(body), service_ids=_service_ids(body))


def resolved_request(event: dict) -> RunRequest:
    """The RunRequest a previous step resolved (``to_event`` form); InvalidInputError if mangled."""
    for name in ("since", "until"):
        if not isinstance(event.get(name), str):
            raise InvalidInputError(name, "missing from the step input; pass fetch_initial's output on unchanged")
    resolved = {k: event[k] for k in KNOWN_FIELDS if k in event}
    return parse_run_request(resolved, now=datetime.now().astimezone())
