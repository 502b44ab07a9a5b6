"""The rule that decides what is anomalous today; a language model only explains its findings later.

A value is compared with the same weekday of the previous weeks (weekly seasonality is the
strongest pattern in retail), using the modified z-score of Iglewicz and Hoaglin,
``0.6745 · (x − median) / MAD``: median and MAD are not dragged by the one bad week that a mean
and standard deviation would absorb, and with 4–8 points that matters. A finding needs all of:

- at least ``min_history`` history points (fewer is no baseline);
- a baseline median ≥ ``min_baseline``, in the metric's unit (minor units of revenue for stores,
  units for products), so a long-tail product going from 2 to 7 units does not alarm;
- a relative change ``|x − median| / median`` ≥ ``min_change``: a large z on a tiny change is a
  statistically unusual but commercially irrelevant day, typical of very steady histories;
- ``|z|`` ≥ ``z_threshold`` (3.5, Iglewicz and Hoaglin's recommendation).

When MAD is 0 (most of the history is one value), z falls back to the mean absolute deviation
around the median, ``(x − median) / (1.253314 · MeanAD)``, the common companion of the modified
z-score: 1.253314 = √(π/2) makes 1.253314 · MeanAD estimate σ under normality, as MAD / 0.6745
does, so the same threshold applies. When that is 0 too, the history is perfectly flat: today
equal to it has z = 0, anything else an infinite z, reported as ``zScore: null``, and then only
``min_change`` (with the baseline and history length) decides. So a flat series with today equal
to it never alarms, nor does small noise around a flat series (it stays under ``min_change``),
while a flat series that suddenly moves by 30 % or more does.

A key missing from a history day is no data point for stores (the store was closed or did not
report: counting it as 0 would fake a drop the next week), and 0 for products when the caller
says so (``missing_as_zero``: a product no store sold that day sold 0), in which case a product
of the history that is missing today is judged at 0 too: a product that stopped selling.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.analysis.metrics import ratio

Number = int | float
MODIFIED_Z = 0.6745
MEAN_AD_SCALE = 1.253314
KINDS = ("store", "product")
METRICS = ("revenue", "units")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class AnomalyRule:
    """When a value is anomalous against its history (module docstring); ValueError for a setting out of range."""

    z_threshold: float = 3.5
    min_change: float = 0.3
    min_history: int = 3
    # In the metric's unit; 20 suits product units. Stores use ``STORE_RULE`` (minor units).
    min_baseline: float = 20

    def __post_init__(self) -> None:
        if not _is_number(self.z_threshold) or self.z_threshold <= 0:
            raise ValueError(f"z_threshold must be a positive number, got {self.z_threshold!r}")
        if not _is_number(self.min_change) or self.min_change < 0:
            raise ValueError(f"min_change must be a number ≥ 0, got {self.min_change!r}")
        if not isinstance(self.min_history, int) or isinstance(self.min_history, bool) or self.min_history < 2:
            raise ValueError(
                f"min_history must be an integer ≥ 2 (a median and MAD need two points), got {self.min_history!r}"
            )
        # A positive baseline also keeps |x − median| / median defined.
        if not _is_number(self.min_baseline) or self.min_baseline <= 0:
            raise ValueError(f"min_baseline must be a positive number, got {self.min_baseline!r}")


# A store whose usual revenue is under 100.00 of its currency is too small to alarm on.
STORE_RULE = AnomalyRule(min_baseline=10_000)
PRODUCT_RULE = AnomalyRule(min_baseline=20)


def robust_z(value: Number, history: Sequence[Number]) -> tuple[Number, Number, float]:
    """``(median, MAD, modified z)`` of ``value`` against ``history``; MAD = 0 falls back as the module says."""
    if not history:
        raise ValueError("robust_z needs at least one history point")
    median = statistics.median(history)
    deviations = [abs(point - median) for point in history]
    mad = statistics.median(deviations)
    if mad:
        return median, mad, MODIFIED_Z * (value - median) / mad
    mean_ad = math.fsum(deviations) / len(deviations)
    if mean_ad:
        return median, mad, (value - median) / (MEAN_AD_SCALE * mean_ad)
    return median, mad, 0.0 if value == median else math.copysign(math.inf, value - median)


def _plain(value: Number) -> Number:
    """An integral float as an int: medians of ints are often whole, and JSON readers prefer 12 to 12.0."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def judge(value: Number, history: Sequence[Number | None], rule: AnomalyRule) -> tuple[Number, Number, float] | None:
    """``(median, MAD, z)`` if ``value`` is anomalous against ``history`` (None: no data point), else None."""
    points = [point for point in history if point is not None]
    if len(points) < rule.min_history:
        return None
    median, mad, z = robust_z(value, points)
    if median < rule.min_baseline or abs(value - median) < rule.min_change * median or abs(z) < rule.z_threshold:
        return None
    return median, mad, z


def detect(
    today: Mapping[str, Number],
    history: Sequence[Mapping[str, Number]],
    rule: AnomalyRule,
    kind: str,
    metric: str,
    missing_as_zero: bool = False,
) -> list[dict[str, Any]]:
    """Findings for the keys of ``today`` against ``history`` (oldest day first), by |z| descending then id."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    keys = set(today)
    if missing_as_zero:
        for day in history:
            keys.update(day)
    ranked = []
    for key in keys:
        series = [day.get(key) for day in history]
        if missing_as_zero:
            series = [0 if point is None else point for point in series]
            value = today.get(key, 0)
        else:
            value = today[key]
        verdict = judge(value, series, rule)
        if verdict is None:
            continue
        median, mad, z = verdict
        finding = {
            "kind": kind,
            "id": key,
            "metric": metric,
            "value": value,
            "median": _plain(median),
            "mad": _plain(mad),
            "zScore": round(z, 4) if math.isfinite(z) else None,
            "ratio": ratio(value, median),
            "direction": "spike" if value > median else "drop",
            "history": series,
        }
        ranked.append((-abs(z), key, finding))
    ranked.sort(key=lambda entry: entry[:2])
    return [finding for _, _, finding in ranked]


def store_anomalies(
    today_store_rows: Iterable[Mapping[str, Any]],
    history_store_rows_by_week: Sequence[Iterable[Mapping[str, Any]]],
    rule: AnomalyRule = STORE_RULE,
) -> list[dict[str, Any]]:
    """Store revenue findings against the same weekday of earlier weeks (oldest week first), same currency only.

    A week where the store is missing, or sold in another currency, is no data point (``null``
    in the finding's history); each finding carries the store's ``currency`` after its id.
    """
    revenue: dict[str, int] = {}
    currency: dict[str, str] = {}
    for row in today_store_rows:
        store = row["storeId"]
        if store in revenue:
            raise ValueError(f"today: store {store} appears twice")
        revenue[store], currency[store] = row["revenue"], row["currency"]
    history = [
        {row["storeId"]: row["revenue"] for row in week if currency.get(row["storeId"]) == row["currency"]}
        for week in history_store_rows_by_week
    ]
    findings = detect(revenue, history, rule, "store", "revenue")
    return [{"kind": f["kind"], "id": f["id"], "currency": currency[f["id"]], **f} for f in findings]


def _units_by_product(rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """productId → units summed over currencies."""
    units: dict[str, int] = {}
    for row in rows:
        units[row["productId"]] = units.get(row["productId"], 0) + row["units"]
    return units


def product_anomalies(
    today_product_rows: Iterable[Mapping[str, Any]],
    history_product_rows_by_week: Sequence[Iterable[Mapping[str, Any]]],
    rule: AnomalyRule = PRODUCT_RULE,
) -> list[dict[str, Any]]:
    """Product unit findings (summed over currencies) against the same weekday of earlier weeks (oldest first).

    A product missing from a week sold 0 that day; a week with no rows at all is a day without a
    snapshot, not a day nothing sold, and is left out rather than counted as 0 for every product.
    """
    history = [units for units in map(_units_by_product, history_product_rows_by_week) if units]
    return detect(_units_by_product(today_product_rows), history, rule, "product", "units", missing_as_zero=True)
