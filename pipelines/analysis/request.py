"""The daily-analysis execution input: which business date to analyse (pure).

    {}                                  the previous business day in the pipeline's time zone
    {"scheduledTime": ISO-8601}         what the schedule sends: the business day before that time
    {"date": "YYYY-MM-DD"}              a manual run (a backfill or a re-run): that date

A date in the future (in the pipeline's time zone) is refused: its summaries cannot be complete,
and a report on it would be wrong rather than late.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipelines.common.errors import InvalidInputError
from pipelines.common.inputs import RequestShape, checked_request, optional_string, quote
from pipelines.common.timestamps import normalise_timestamp

REQUEST = RequestShape.of(date=32, scheduledTime=64)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Older than this is a typo (or a date from another system), not a backfill.
EARLIEST = date(2000, 1, 1)


def previous_business_day(moment: datetime, timezone: str) -> date:
    """The calendar day before ``moment``'s day in ``timezone``."""
    return moment.astimezone(ZoneInfo(timezone)).date() - timedelta(days=1)


def parse_date(raw: str, field: str = "date") -> date:
    """An ISO calendar date (``2025-01-15``), or InvalidInputError naming ``field``."""
    if not _ISO_DATE.fullmatch(raw):
        raise InvalidInputError(field, f"must be a date as YYYY-MM-DD, got {quote(raw)}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInputError(field, f"is not a calendar date: {quote(raw)}") from None


def analysis_request(event: Any, *, now: datetime, timezone: str) -> dict[str, str]:
    """The checked input: ``{"date": "YYYY-MM-DD"}``, never after today in ``timezone``."""
    body = checked_request(event, REQUEST)
    raw_date, raw_time = optional_string(body, "date"), optional_string(body, "scheduledTime")
    if raw_date is not None and raw_time is not None:
        raise InvalidInputError("date", "give date or scheduledTime, not both")
    today = now.astimezone(ZoneInfo(timezone)).date()
    if raw_time is not None:
        scheduled = datetime.strptime(normalise_timestamp(raw_time, "scheduledTime"), "%Y-%m-%dT%H:%M:%SZ")
        day = previous_business_day(scheduled.replace(tzinfo=UTC), timezone)
    elif raw_date is not None:
        day = parse_date(raw_date)
    else:
        day = previous_business_day(now, timezone)
    field = "scheduledTime" if raw_time is not None else "date"
    if day > today:
        raise InvalidInputError(
            field, f"{day.isoformat()} is in the future (today is {today.isoformat()} in {timezone})"
        )
    if day < EARLIEST:
        raise InvalidInputError(field, f"{day.isoformat()} is before {EARLIEST.isoformat()}")
    return {"date": day.isoformat()}
