"""Which past days a run reads, and the day's summaries as snapshot rows (pure).

A run of date D compares D with D-1 and D-7 (company changes), with D-7·k for k = 1..weeks (the
anomaly rule's same weekday) and reads D-27..D (28-day trends). Each of those days is read from
``history/`` (what earlier runs stored); a day no run stored yet is computed once from the
summaries table by GetStoreSummaries (the backfill), so the first run after a deployment, or
after uploads loaded weeks of files at once, has its history too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

TREND_DAYS = 28


def _minus(day: str, days: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=days)).isoformat()


def same_weekday_dates(day: str, weeks: int) -> list[str]:
    """D-7, D-14, … D-7·weeks (newest first)."""
    return [_minus(day, 7 * k) for k in range(1, weeks + 1)]


def trend_dates(day: str, days: int = TREND_DAYS) -> list[str]:
    """D-(days-1) … D, oldest first."""
    return [_minus(day, back) for back in range(days - 1, -1, -1)]


def history_dates(day: str, weeks: int, days: int = TREND_DAYS) -> list[str]:
    """Every earlier day a run of ``day`` reads, oldest first."""
    wanted = {*trend_dates(day, days)[:-1], *same_weekday_dates(day, weeks), _minus(day, 1)}
    return sorted(wanted)


def snapshot_row(store_id: str, day: str, summary: Any) -> dict[str, Any]:
    """One store's summary (``uploads.summary.StoreDay``) as a snapshot line, products as parallel arrays."""
    products = sorted(summary.products.items())
    return {
        "storeId": store_id,
        "businessDate": day,
        "currency": summary.currency,
        "revenue": summary.revenue,
        "units": summary.units,
        "transactions": summary.transactions,
        "refundLines": summary.refund_lines,
        "refundUnits": summary.refund_units,
        "refundAmount": summary.refund_amount,
        "hourlyRevenue": list(summary.hourly),
        "productIds": [product for product, _ in products],
        "productUnits": [units for _, (units, _revenue) in products],
        "productRevenue": [revenue for _, (_units, revenue) in products],
    }


def snapshot_rows(day: str, summaries: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """Every store's snapshot line, by store id."""
    for store_id in sorted(summaries):
        yield snapshot_row(store_id, day, summaries[store_id])
