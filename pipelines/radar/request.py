"""The radar execution input: ``{}`` (run now) or ``{"scheduledTime": ISO-8601}`` (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, optional_string
from pipelines.common.timestamps import normalise_timestamp

REQUEST = RequestShape.of(scheduledTime=64)
# A schedule fires at its time; a manual run may name a past one (a backfill) but not a far future one.
MAX_AHEAD = timedelta(days=1)


def run_request(event: Any, now: datetime) -> dict[str, str]:
    """The checked input: ``scheduledTime`` normalised (UTC, whole seconds), or ``{}`` for "now"."""
    body = checked_request(event, REQUEST)
    raw = optional_string(body, "scheduledTime")
    if raw is None:
        return {}
    scheduled = normalise_timestamp(raw, "scheduledTime")
    if datetime.strptime(scheduled, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) > now + MAX_AHEAD:
        raise InvalidInputError("scheduledTime", f"{scheduled} is more than a day in the future")
    return {"scheduledTime": scheduled}
