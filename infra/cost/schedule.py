"""How many times a month an EventBridge Scheduler expression fires: ``cron(…)``, ``rate(…)`` or ``at(…)``.

A month is the average month (365.25 / 12 = 30.44 days): a daily schedule fires 30.44 times. A cron
expression is counted day by day over four calendar years (2025–2028, a leap year included) and
divided by 48, so day-of-month and day-of-week rules (``L``, ``W``, ``#``) count as they fall. The
syntax is Scheduler's (and EventBridge's): six fields, minutes hours day-of-month month day-of-week
year, one of the two day fields ``?``, days of the week 1–7 = SUN–SAT.
"""

from __future__ import annotations

import calendar
import datetime
import re

DAYS_PER_MONTH = 365.25 / 12
_SPAN = (2025, 2028)  # inclusive: 1,461 days, 48 months
_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}  # Jan → 1
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE_UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class ScheduleError(ValueError):
    """An expression this module cannot read; the message quotes it and says why."""


def runs_per_month(expression: str) -> float | None:
    """Average runs a month of ``expression``; None for a one-time ``at(…)`` schedule."""
    text = expression.strip()
    match = re.fullmatch(r"(cron|rate|at)\((.*)\)", text)
    if not match:
        raise ScheduleError(f"{expression!r} is not cron(…), rate(…) or at(…)")
    kind, body = match.groups()
    if kind == "at":
        return None
    if kind == "rate":
        return _rate(expression, body)
    return _cron(expression, body)


def _rate(expression: str, body: str) -> float:
    match = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", body)
    if not match or match.group(2) not in _RATE_UNITS or int(match.group(1)) < 1:
        raise ScheduleError(f"{expression!r}: a rate is rate(<positive integer> minute(s)|hour(s)|day(s))")
    seconds = int(match.group(1)) * _RATE_UNITS[match.group(2)]
    return DAYS_PER_MONTH * 86400 / seconds


def _values(expression: str, field: str, lo: int, hi: int, names: dict[str, int] | None = None) -> set[int]:
    """The values a plain cron field (``*``, ``a-b``, ``a,b``, ``*/n``, ``a/n``, names) allows."""
    names = {k.upper(): v for k, v in (names or {}).items()}

    def number(token: str) -> int:
        token = token.upper()
        if token in names:
            return names[token]
        if not token.isdigit() or not lo <= int(token) <= hi:
            raise ScheduleError(f"{expression!r}: {token!r} is not in {lo}–{hi}")
        return int(token)

    allowed: set[int] = set()
    for part in field.split(","):
        base, _, step_text = part.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError(f"{expression!r}: bad step {part!r}")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = number(first), number(last)
        else:
            start = number(base)
            end = hi if step_text else start
        if start > end:
            raise ScheduleError(f"{expression!r}: range {part!r} runs backwards")
        allowed.update(range(start, end + 1, step))
    return allowed


def _day_of_month_rule(expression: str, field: str):
    if field == "?":
        return None
    if field == "L":
        return lambda day: day.day == calendar.monthrange(day.year, day.month)[1]
    weekday_near = re.fullmatch(r"(\d+)W", field)
    if weekday_near:
        target = int(weekday_near.group(1))

        def nearest_weekday(day: datetime.date) -> bool:
            last = calendar.monthrange(day.year, day.month)[1]
            wanted = datetime.date(day.year, day.month, min(target, last))
            if wanted.weekday() == 5:  # Saturday → Friday, unless that leaves the month
                wanted = wanted - datetime.timedelta(days=1) if wanted.day > 1 else wanted + datetime.timedelta(days=2)
            elif wanted.weekday() == 6:  # Sunday → Monday, unless that leaves the month
                wanted = (
                    wanted + datetime.timedelta(days=1) if wanted.day < last else wanted - datetime.timedelta(days=2)
                )
            return day == wanted

        return nearest_weekday
    days = _values(expression, field, 1, 31)
    return lambda day: day.day in days


def _cron_weekday(day: datetime.date) -> int:
    return (day.weekday() + 1) % 7 + 1  # Monday → 2 … Sunday → 1


def _day_of_week_rule(expression: str, field: str):
    if field == "?":
        return None
    last = re.fullmatch(r"(\w+)L", field)
    if last:
        weekday = _values(expression, last.group(1), 1, 7, _DAYS).pop()
        return lambda day: _cron_weekday(day) == weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    nth = re.fullmatch(r"(\w+)#([1-5])", field)
    if nth:
        weekday, which = _values(expression, nth.group(1), 1, 7, _DAYS).pop(), int(nth.group(2))
        return lambda day: _cron_weekday(day) == weekday and (day.day - 1) // 7 + 1 == which
    days = _values(expression, field, 1, 7, _DAYS)
    return lambda day: _cron_weekday(day) in days


def _cron(expression: str, body: str) -> float:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(f"{expression!r}: a cron expression has six fields (minutes hours day month weekday year)")
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if (day_of_month == "?") == (day_of_week == "?"):
        raise ScheduleError(f"{expression!r}: exactly one of day-of-month and day-of-week must be '?'")
    per_day = len(_values(expression, minutes, 0, 59)) * len(_values(expression, hours, 0, 23))
    months = _values(expression, month, 1, 12, _MONTHS)
    years = _values(expression, year, 1970, 2199)
    day_rule = _day_of_month_rule(expression, day_of_month) or _day_of_week_rule(expression, day_of_week)
    first, last = datetime.date(_SPAN[0], 1, 1), datetime.date(_SPAN[1], 12, 31)
    matching = 0
    day = first
    while day <= last:
        if day.month in months and day.year in years and day_rule(day):
            matching += 1
        day += datetime.timedelta(days=1)
    return matching * per_day / ((_SPAN[1] - _SPAN[0] + 1) * 12)
