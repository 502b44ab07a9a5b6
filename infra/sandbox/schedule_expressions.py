"""EventBridge Scheduler expressions evaluated as the scheduler evaluates them: when is the next invocation.

``parse(expression, timezone, anchor)`` returns an object whose ``next_after(moment)`` is the first
invocation strictly after ``moment`` (an aware datetime, returned in UTC), or None when there is
none left. What it follows (the Scheduler user guide, "Schedule types"):

- ``cron(minutes hours day-of-month month day-of-week year)``: six fields evaluated as wall-clock
  time in the schedule's time zone. ``, - * /`` in every field; ``?`` in day-of-month or
  day-of-week, one of which must be ``?``; month names ``JAN``–``DEC``; day-of-week ``1``–``7``
  with ``1`` Sunday, or ``SUN``–``SAT``; ``L`` (last day of the month; in day-of-week, Saturday,
  or ``5L`` the last Thursday), ``15W`` (the weekday nearest the 15th, within its month) and
  ``3#2`` (the second Tuesday). Daylight saving time: a wall time that does not exist (the
  spring gap) is skipped; one that happens twice (the autumn overlap) runs once, the first time.
- ``rate(n minutes|hours|days)``: every ``n`` units from the anchor (the schedule's StartDate, or
  when it was created: a rate schedule invokes its target at once); a day is 24 hours.
- ``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall time in the time zone.

Pure: no boto3, no clock; ``ScheduleExpressionError`` names what is wrong.
"""

from __future__ import annotations

import calendar
import datetime
import re
import zoneinfo
from dataclasses import dataclass

UTC = datetime.UTC
YEARS = (1970, 2199)
_MONTHS = {name: i for i, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_AT = re.compile(r"^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$")
_UNITS = {"minute": 60, "hour": 3600, "day": 86_400}


class ScheduleExpressionError(ValueError):
    """The expression is not one EventBridge Scheduler accepts (or this evaluator supports)."""


def _aws_weekday(day: datetime.date) -> int:
    """1 = Sunday … 7 = Saturday, as cron's day-of-week counts."""
    return (day.weekday() + 1) % 7 + 1


def _number(text: str, names: dict[str, int], field: str) -> int:
    upper = text.upper()
    if upper in names:
        return names[upper]
    if not text.isdigit():
        raise ScheduleExpressionError(f"cron {field}: {text!r} is not a number{' or a name' if names else ''}")
    return int(text)


def _values(text: str, field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The values a plain field (``*``, lists, ranges, steps) allows, each checked against its range."""
    names = names or {}
    allowed: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleExpressionError(f"cron {field}: {item!r} has no positive step")
        step = int(step_text) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, names, field), _number(last, names, field)
        else:
            start = _number(base, names, field)
            end = high if step_text else start  # ``5/15``: from 5, every 15, to the end of the range
        if not (low <= start <= high and low <= end <= high):
            raise ScheduleExpressionError(f"cron {field}: {item!r} is outside {low}-{high}")
        if start > end:
            raise ScheduleExpressionError(f"cron {field}: {item!r} is a range that runs backwards")
        allowed.update(range(start, end + 1, step))
    return frozenset(allowed)


@dataclass(frozen=True)
class _DayOfMonth:
    any: bool = False
    days: frozenset[int] = frozenset()
    last: bool = False
    nearest_weekday: int | None = None

    def matches(self, day: datetime.date) -> bool:
        if self.any:
            return True
        last_day = calendar.monthrange(day.year, day.month)[1]
        if self.last and day.day == last_day:
            return True
        if self.nearest_weekday is not None:
            target = datetime.date(day.year, day.month, min(self.nearest_weekday, last_day))
            one_day = datetime.timedelta(days=1)
            if target.weekday() == 5:  # Saturday: the Friday before, unless that leaves the month
                target = target - one_day if target.day > 1 else target + 2 * one_day
            elif target.weekday() == 6:  # Sunday: the Monday after, unless that leaves the month
                target = target + one_day if target.day < last_day else target - 2 * one_day
            return day == target
        return day.day in self.days


def _day_of_month(text: str) -> _DayOfMonth:
    if text in ("?", "*"):
        return _DayOfMonth(any=True)
    if text == "L":
        return _DayOfMonth(last=True)
    if text.endswith("W"):
        day = text[:-1]
        if not day.isdigit() or not 1 <= int(day) <= 31:
            raise ScheduleExpressionError(f"cron day-of-month: {text!r} is not <1-31>W")
        return _DayOfMonth(nearest_weekday=int(day))
    return _DayOfMonth(days=_values(text, "day-of-month", 1, 31))


@dataclass(frozen=True)
class _DayOfWeek:
    any: bool = False
    days: frozenset[int] = frozenset()
    last_of_month: int | None = None  # ``5L``: the last Thursday of the month
    nth: tuple[int, int] | None = None  # ``3#2``: (Tuesday, second)

    def matches(self, day: datetime.date) -> bool:
        if self.any:
            return True
        weekday = _aws_weekday(day)
        if self.last_of_month is not None:
            last_day = calendar.monthrange(day.year, day.month)[1]
            return weekday == self.last_of_month and day.day + 7 > last_day
        if self.nth is not None:
            wanted, nth = self.nth
            return weekday == wanted and (day.day - 1) // 7 + 1 == nth
        return weekday in self.days


def _day_of_week(text: str) -> _DayOfWeek:
    if text in ("?", "*"):
        return _DayOfWeek(any=True)
    if text == "L":
        return _DayOfWeek(days=frozenset({7}))
    if text.endswith("L"):
        day = _number(text[:-1], _DAYS, "day-of-week")
        if not 1 <= day <= 7:
            raise ScheduleExpressionError(f"cron day-of-week: {text!r} is outside 1-7")
        return _DayOfWeek(last_of_month=day)
    if "#" in text:
        day_text, _, nth_text = text.partition("#")
        day = _number(day_text, _DAYS, "day-of-week")
        if not 1 <= day <= 7 or not nth_text.isdigit() or not 1 <= int(nth_text) <= 5:
            raise ScheduleExpressionError(f"cron day-of-week: {text!r} is not <1-7>#<1-5>")
        return _DayOfWeek(nth=(day, int(nth_text)))
    return _DayOfWeek(days=_values(text, "day-of-week", 1, 7, _DAYS))


def _zone(timezone: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(timezone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleExpressionError(f"time zone {timezone!r} is not an IANA time zone") from exc


def _wall_to_utc(wall: datetime.datetime, zone: zoneinfo.ZoneInfo) -> datetime.datetime | None:
    """The instant a wall time of ``zone`` names (its first, in an overlap); None in a spring gap."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != wall:
        return None
    return instant


@dataclass(frozen=True)
class Cron:
    """``cron(...)`` in a time zone."""

    expression: str
    zone: zoneinfo.ZoneInfo
    minutes: frozenset[int]
    hours: frozenset[int]
    day_of_month: _DayOfMonth
    months: frozenset[int]
    day_of_week: _DayOfWeek
    years: frozenset[int]

    def fires_on(self, day: datetime.date) -> bool:
        """Whether the expression fires on ``day`` (its local calendar day), at its minutes and hours."""
        return (
            day.year in self.years
            and day.month in self.months
            and self.day_of_month.matches(day)
            and self.day_of_week.matches(day)
        )

    def next_after(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The first invocation strictly after ``moment``, in UTC; None if the years run out."""
        local = moment.astimezone(self.zone).replace(tzinfo=None)
        day = local.date()
        start = local.replace(second=0, microsecond=0)
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        last_year = max(self.years)
        while day.year <= last_year:
            if self.fires_on(day):
                for hour in hours:
                    for minute in minutes:
                        wall = datetime.datetime(day.year, day.month, day.day, hour, minute)
                        if wall < start:
                            continue
                        instant = _wall_to_utc(wall, self.zone)
                        # Wall order is instant order for the times that exist (fold 0), so the
                        # first one after ``moment`` is the answer.
                        if instant is not None and instant > moment:
                            return instant
            day += datetime.timedelta(days=1)
        return None


@dataclass(frozen=True)
class Rate:
    """``rate(n unit)`` from an anchor."""

    expression: str
    period: datetime.timedelta
    anchor: datetime.datetime

    def next_after(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The first ``anchor + k × period`` (k ≥ 0) strictly after ``moment``, in UTC."""
        anchor = self.anchor.astimezone(UTC)
        if moment < anchor:
            return anchor
        periods = (moment - anchor) // self.period + 1
        return anchor + periods * self.period


@dataclass(frozen=True)
class At:
    """``at(...)``: one invocation."""

    expression: str
    instant: datetime.datetime | None  # None: a wall time that does not exist in the zone

    def next_after(self, moment: datetime.datetime) -> datetime.datetime | None:
        """The one invocation if it is after ``moment``, else None."""
        return self.instant if self.instant is not None and self.instant > moment else None


def _cron(expression: str, body: str, zone: zoneinfo.ZoneInfo) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleExpressionError(f"{expression}: cron takes 6 fields, not {len(fields)}")
    minutes, hours, dom, months, dow, years = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleExpressionError(f"{expression}: one of day-of-month and day-of-week must be ?, not both")
    return Cron(
        expression=expression,
        zone=zone,
        minutes=_values(minutes, "minutes", 0, 59),
        hours=_values(hours, "hours", 0, 23),
        day_of_month=_day_of_month(dom),
        months=_values(months, "month", 1, 12, _MONTHS),
        day_of_week=_day_of_week(dow),
        years=_values(years, "year", *YEARS),
    )


def parse(expression: str, timezone: str = "UTC", anchor: datetime.datetime | None = None) -> Cron | Rate | At:
    """The schedule ``expression`` in ``timezone``; ``anchor`` (aware) starts a rate (default: now)."""
    zone = _zone(timezone)
    text = expression.strip()
    if text.startswith("cron(") and text.endswith(")"):
        return _cron(text, text[5:-1], zone)
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value == 0:
            raise ScheduleExpressionError(f"{text}: the rate must be positive")
        period = datetime.timedelta(seconds=value * _UNITS[unit.rstrip("s")])
        return Rate(text, period, anchor or datetime.datetime.now(UTC))
    at = _AT.match(text)
    if at:
        try:
            wall = datetime.datetime(*(int(part) for part in at.groups()))
        except ValueError as exc:
            raise ScheduleExpressionError(f"{text}: {exc}") from None
        return At(text, _wall_to_utc(wall, zone))
    raise ScheduleExpressionError(f"{text!r} is not cron(...), rate(...) or at(...)")
