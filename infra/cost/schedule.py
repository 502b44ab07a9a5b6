"""How many times a month an EventBridge Scheduler expression fires: ``cron(…)``, ``rate(…)`` or ``at(…)``.

A month is the average month (365.25 / 12 = 30.44 days): a daily schedule fires 30.44 times. A cron
expression is counted day by day over four calendar years (2025–2028, a leap year included) and
divided by 48, so day-of-month and day-of-week rules (``L``, ``W``, ``#``) count as they fall. The
expression is read by ``infra/sandbox/schedule_expressions.py``, the parser ``serve --schedules``
fires schedules by: one reading of Scheduler's syntax.
"""

from __future__ import annotations

import datetime

from infra.sandbox.schedule_expressions import At, Rate, ScheduleExpressionError, parse

DAYS_PER_MONTH = 365.25 / 12
_SPAN = (2025, 2028)  # inclusive: 1,461 days, 48 months


class ScheduleError(ValueError):
    """An expression this module cannot read; the message quotes it and says why."""


def runs_per_month(expression: str) -> float | None:
    """Average runs a month of ``expression``; None for a one-time ``at(…)`` schedule."""
    try:
        schedule = parse(expression)
    except ScheduleExpressionError as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from None
    if isinstance(schedule, At):
        return None
    if isinstance(schedule, Rate):
        return DAYS_PER_MONTH * 86400 / schedule.period.total_seconds()
    per_day = len(schedule.minutes) * len(schedule.hours)
    day, last = datetime.date(_SPAN[0], 1, 1), datetime.date(_SPAN[1], 12, 31)
    matching = 0
    while day <= last:
        matching += schedule.fires_on(day)
        day += datetime.timedelta(days=1)
    return matching * per_day / ((_SPAN[1] - _SPAN[0] + 1) * 12)
