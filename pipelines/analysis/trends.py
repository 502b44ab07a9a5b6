"""Four weeks of company revenue per currency, and the stores that moved most week over week.

The input is the stored store rows of each day (``metrics.store_rows``), keyed by ISO date. A
day without rows in a currency is reported as missing (``null`` in the series), never filled
in: averages are over the days that have data, and ``daysWithData`` says how many that was, so
a reader can tell a quiet week from a week the pipeline did not see.

``direction`` compares the last 7 days' revenue with the 7 days before: ``up`` when it grew by
more than 2 % of the earlier week's revenue (in absolute value, so a net-negative week still has
a band), ``down`` when it fell by more than that, ``flat`` in between; ``null`` when either week
has no data. 2 % is about the week-to-week wobble of a steady chain: a smaller band calls noise
a trend, a wider one misses a real slide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from pipelines.analysis.metrics import average, comparison

Row = Mapping[str, Any]

WINDOW_DAYS = 28
WEEK = 7
FLAT_BAND = Fraction(2, 100)


def _day(as_of: str) -> date:
    """``as_of`` as a date; ValueError unless it is ``YYYY-MM-DD``."""
    try:
        if len(as_of) != 10:
            raise ValueError
        return date.fromisoformat(as_of)
    except (TypeError, ValueError):
        raise ValueError(f"as_of must be an ISO date YYYY-MM-DD, got {as_of!r}") from None


def _window(as_of: str, days: int) -> list[str]:
    """The ``days`` ISO dates ending at ``as_of``, oldest first."""
    end = _day(as_of)
    return [(end - timedelta(days=offset)).isoformat() for offset in range(days - 1, -1, -1)]


def _direction(before: int, after: int) -> str:
    """``up``/``down``/``flat``: the change against ±2 % of |before| (the module docstring's band)."""
    band = FLAT_BAND * abs(before)
    change = after - before
    return "up" if change > band else "down" if change < -band else "flat"


def _revenue_by_currency(rows: Iterable[Row]) -> dict[str, int]:
    """currency → summed revenue of one day's store rows."""
    revenue: dict[str, int] = {}
    for row in rows:
        revenue[row["currency"]] = revenue.get(row["currency"], 0) + row["revenue"]
    return revenue


def _week_sums(series: list[int | None]) -> tuple[int, int]:
    """(revenue, days with data) of a slice of a daily series."""
    points = [value for value in series if value is not None]
    return sum(points), len(points)


def _average(series: list[int | None]) -> int | None:
    """The half-even average over the days with data; None without any."""
    total, days = _week_sums(series)
    return average(total, days) if days else None


def company_trends(daily_store_rows: Mapping[str, Iterable[Row]], as_of: str) -> dict[str, Any]:
    """Per currency: 28 daily revenues to ``as_of`` (null when missing), 7- and 28-day averages, week over week.

    ``weekOverWeek`` compares the sums of the last 7 days and the 7 before (``daysBefore`` /
    ``daysAfter`` say how many days each sum covers; sums of weeks with different day counts are
    compared as they are, not scaled).
    """
    dates = _window(as_of, WINDOW_DAYS)
    daily = [_revenue_by_currency(daily_store_rows.get(day) or ()) for day in dates]
    currencies = sorted({currency for day in daily for currency in day})
    by_currency = {}
    for currency in currencies:
        series = [day.get(currency) for day in daily]
        before, days_before = _week_sums(series[-2 * WEEK : -WEEK])
        after, days_after = _week_sums(series[-WEEK:])
        week_over_week = None
        if days_before and days_after:
            week_over_week = {**comparison(before, after), "daysBefore": days_before, "daysAfter": days_after}
        by_currency[currency] = {
            "daily": [{"date": day, "revenue": value} for day, value in zip(dates, series, strict=True)],
            "missingDates": [day for day, value in zip(dates, series, strict=True) if value is None],
            "daysWithData": sum(value is not None for value in series),
            "movingAverage7": _average(series[-WEEK:]),
            "movingAverage28": _average(series),
            "weekOverWeek": week_over_week,
            "direction": None if week_over_week is None else _direction(before, after),
        }
    return {"asOf": as_of, "from": dates[0], "currencies": currencies, "byCurrency": by_currency}


def _store_weeks(daily_store_rows: Mapping[str, Iterable[Row]], dates: list[str]) -> dict[tuple[str, str], list[int]]:
    """(storeId, currency) → [revenue, days] for the given dates."""
    weeks: dict[tuple[str, str], list[int]] = {}
    for day in dates:
        for row in daily_store_rows.get(day) or ():
            entry = weeks.setdefault((row["storeId"], row["currency"]), [0, 0])
            entry[0] += row["revenue"]
            entry[1] += 1
    return weeks


def store_movers(daily_store_rows: Mapping[str, Iterable[Row]], as_of: str, limit: int = 5) -> dict[str, Any]:
    """The ``limit`` stores whose last-7-day revenue rose (``up``) and fell (``down``) most against the 7 days before.

    Only a store with data in both weeks in the same currency and a positive earlier week has a
    ratio to rank by; ``up`` holds ratios above 1 (largest first), ``down`` below 1 (smallest
    first), ties by storeId.
    """
    if limit < 0:
        raise ValueError(f"limit must be ≥ 0, got {limit}")
    dates = _window(as_of, 2 * WEEK)
    earlier, later = _store_weeks(daily_store_rows, dates[:WEEK]), _store_weeks(daily_store_rows, dates[WEEK:])
    movers = []
    for key in earlier.keys() & later.keys():
        (before, days_before), (after, days_after) = earlier[key], later[key]
        if before > 0:
            movers.append((Fraction(after, before), key, before, after, days_before, days_after))

    def entry(mover: tuple) -> dict[str, Any]:
        _, (store, currency), before, after, days_before, days_after = mover
        return {
            "storeId": store,
            "currency": currency,
            **comparison(before, after),
            "daysBefore": days_before,
            "daysAfter": days_after,
        }

    up = sorted((m for m in movers if m[0] > 1), key=lambda m: (-m[0], m[1]))[:limit]
    down = sorted((m for m in movers if m[0] < 1), key=lambda m: (m[0], m[1]))[:limit]
    return {"asOf": as_of, "up": [entry(m) for m in up], "down": [entry(m) for m in down]}
