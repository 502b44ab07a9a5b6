"""The run's timestamp as a key-safe ISO-8601 UTC string (``2026-11-22T06:00:00Z``)."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import quote


def normalise_timestamp(raw: object, field: str = "timestamp") -> str:
    """``raw`` (ISO-8601 with a zone, e.g. a schedule time or $$.Execution.StartTime) in UTC, whole seconds.

    Fractions are dropped so the same scheduled run always maps to the same S3 keys; a time
    without a zone is refused rather than guessed.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidInputError(field, "must be an ISO-8601 date-time string")
    text = raw.strip()
    try:
        parsed = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1:] in "Zz" else text)
    except ValueError:
        raise InvalidInputError(field, f"not an ISO-8601 date-time: {quote(raw)}") from None
    if parsed.tzinfo is None:
        raise InvalidInputError(field, f"must carry a time zone (e.g. Z): {quote(raw)}")
    return parsed.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
