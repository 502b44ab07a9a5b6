"""Time windows for PagerDuty queries: parsing, the six-month limit and halving."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# PagerDuty answers with second resolution; a window narrower than this cannot be halved usefully.
MIN_SPLIT_WIDTH = timedelta(seconds=2)
MAX_WINDOW_MONTHS = 6


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp with an explicit offset (``Z`` allowed), as an aware UTC datetime.

    A naive timestamp is refused: PagerDuty would read it in the account's time zone, so the
    same request would mean different windows on different accounts.
    """
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("has no time zone offset")
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """``2026-01-02T03:04:05Z``: the form sent to PagerDuty and passed between steps."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_months(value: datetime, months: int) -> datetime:
    """``value`` moved by calendar months, clamping the day (31 Aug + 6 months → 28/29 Feb)."""
    month_index = value.month - 1 + months
    year, month = value.year + month_index // 12, month_index % 12 + 1
    day = min(value.day, calendar.monthrange(year, month)[1])
    return value.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class TimeWindow:
    """Incidents created in ``[since, until)``."""

    since: datetime
    until: datetime

    def __post_init__(self):
        if self.until <= self.since:
            raise ValueError("until must be after since")

    @property
    def width(self) -> timedelta:
        """How long the window is."""
        return self.until - self.since

    def exceeds_months(self, months: int = MAX_WINDOW_MONTHS) -> bool:
        """True when the window is longer than ``months`` calendar months."""
        return self.until > add_months(self.since, months)

    def can_split(self) -> bool:
        """True when halving gives two windows of at least one second each."""
        return self.width >= MIN_SPLIT_WIDTH

    def split(self) -> tuple[TimeWindow, TimeWindow]:
        """Two adjacent halves, cut on a whole second so PagerDuty sees exactly the same boundary."""
        if not self.can_split():
            raise ValueError(f"window {self} is too narrow to split")
        middle = self.since + self.width / 2
        middle = middle.replace(microsecond=0)
        if middle <= self.since:
            middle = self.since.replace(microsecond=0) + timedelta(seconds=1)
        return TimeWindow(self.since, middle), TimeWindow(middle, self.until)

    def as_params(self) -> dict[str, str]:
        """``since``/``until`` query parameters."""
        return {"since": format_timestamp(self.since), "until": format_timestamp(self.until)}

    def __str__(self) -> str:
        return f"[{format_timestamp(self.since)}, {format_timestamp(self.until)})"
