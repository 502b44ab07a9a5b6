"""A day's metrics from its snapshot: store and product history rows, company and product summaries.

The snapshot is one store-day row per store, each carrying every product the store sold (up to
~1,000 stores × ~2,000 products a day), so rows are consumed one at a time and nothing is ever
kept per (store, product): ``store_rows`` keeps one small row per store, ``ProductTotals`` one
``[units, revenue]`` per (currency, product). The history rows they return are what the day is
stored as, and what later days compare against.

Money stays an exact int in minor units of its own currency: totals, rankings and changes are
per currency, never summed across currencies (only units and counts are). Averages are rounded
half-even to a minor unit (as ``StoreDay.average_basket``). Ratios are floats rounded half-even
to 4 decimals from the exact fraction, and ``None`` when the base is not positive: growth against
nothing, or against a net-negative (refund-heavy) day, has no meaning as a ratio.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from pipelines.analysis.categories import CategoryMap

Row = dict[str, Any]

# The totals of a store row, in their stored order; summed per currency for the company view.
TOTALS = ("revenue", "units", "transactions", "refundLines", "refundUnits", "refundAmount")
# What a day is compared on: the totals a reader looks at first, and the derived average basket.
COMPARED = ("stores", "revenue", "transactions", "units", "averageBasket")


def average(total: int, count: int) -> int:
    """``total / count`` rounded half-even to an int (0 when ``count`` is 0)."""
    return round(Fraction(total, count)) if count else 0


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """``numerator / denominator`` rounded half-even to 4 decimals; None unless the denominator is positive."""
    if denominator <= 0:
        return None
    return float(round(Fraction(numerator) / Fraction(denominator), 4))


def comparison(before: int, after: int) -> dict[str, Any]:
    """``{before, after, change, ratio}``: ``change`` is after − before, ``ratio`` after / before."""
    return {"before": before, "after": after, "change": after - before, "ratio": ratio(after, before)}


def store_row(day_row: Row) -> Row:
    """The store history row of one store-day row (``averageBasket`` derived, half-even)."""
    row = {"storeId": day_row["storeId"], "currency": day_row["currency"]}
    for name in TOTALS:
        row[name] = day_row[name]
    row["averageBasket"] = average(day_row["revenue"], day_row["transactions"])
    return row


def store_rows(day_rows: Iterable[Row]) -> list[Row]:
    """Store history rows of the day's store-day rows (streamed once), sorted by storeId."""
    rows: dict[str, Row] = {}
    date = None
    for day_row in day_rows:
        store = day_row["storeId"]
        if store in rows:
            raise ValueError(f"store {store} appears twice in the day's rows")
        # Rows of two dates mixed up (a second date's query pages) would be summed as one day.
        if date is None:
            date = day_row["businessDate"]
        elif day_row["businessDate"] != date:
            raise ValueError(f"store {store} is for {day_row['businessDate']}, the rows before it for {date}")
        rows[store] = store_row(day_row)
    return [rows[store] for store in sorted(rows)]


class ProductTotals:
    """Units and revenue per (product, currency), folded in one store-day row at a time."""

    def __init__(self) -> None:
        # currency → productId → [units, revenue]: one small list per product and currency.
        self.totals: dict[str, dict[str, list[int]]] = {}

    def add(self, day_row: Row) -> None:
        """Fold in the products of one store-day row; ValueError if its three product arrays differ in length."""
        ids, units, revenue = day_row["productIds"], day_row["productUnits"], day_row["productRevenue"]
        if not len(ids) == len(units) == len(revenue):
            raise ValueError(
                f"store {day_row.get('storeId')}: productIds, productUnits and productRevenue differ in length "
                f"({len(ids)}, {len(units)}, {len(revenue)})"
            )
        totals = self.totals.get(day_row["currency"])
        if totals is None:
            totals = self.totals[day_row["currency"]] = {}
        get = totals.get
        # Lengths are checked above, before anything is added: strict=True would fail half-way through.
        for product, product_units, product_revenue in zip(ids, units, revenue, strict=False):
            entry = get(product)
            if entry is None:
                totals[product] = [product_units, product_revenue]
            else:
                entry[0] += product_units
                entry[1] += product_revenue

    def rows(self) -> list[Row]:
        """Product history rows sorted by (productId, currency), leaving out totals of 0 units and 0 revenue."""
        keys = sorted((product, currency) for currency, totals in self.totals.items() for product in totals)
        rows = []
        for product, currency in keys:
            units, revenue = self.totals[currency][product]
            # Sold in one store and refunded in another: as ``StoreDay.prune``, nothing to keep.
            if units or revenue:
                rows.append({"productId": product, "currency": currency, "units": units, "revenue": revenue})
        return rows


def product_rows(day_rows: Iterable[Row]) -> list[Row]:
    """Product history rows of the day's store-day rows (streamed once)."""
    totals = ProductTotals()
    for day_row in day_rows:
        totals.add(day_row)
    return totals.rows()


def _by_currency(rows: Iterable[Row], what: str) -> dict[str, dict[str, Row]]:
    """currency → storeId → store row; ValueError for a store listed twice."""
    grouped: dict[str, dict[str, Row]] = {}
    seen: set[str] = set()
    for row in rows:
        store = row["storeId"]
        if store in seen:
            raise ValueError(f"{what}: store {store} appears twice")
        seen.add(store)
        grouped.setdefault(row["currency"], {})[store] = row
    return grouped


def _headline(stores: Iterable[Row]) -> dict[str, int]:
    """The summed totals of some store rows of one currency, with their store count and average basket."""
    sums = dict.fromkeys(TOTALS, 0)
    count = 0
    for row in stores:
        count += 1
        for name in TOTALS:
            sums[name] += row[name]
    return {"stores": count, **sums, "averageBasket": average(sums["revenue"], sums["transactions"])}


def _changes(today: dict[str, int], before: dict[str, Row] | None) -> dict[str, Any] | None:
    """Today's headline against another day's stores of the same currency; None when that day has none."""
    if not before:
        return None
    then = _headline(before.values())
    return {name: comparison(then[name], today[name]) for name in COMPARED}


def _store_entries(
    ordered: Sequence[Row], positions: Iterable[int], total: int, last_week: dict[str, Row]
) -> list[dict[str, Any]]:
    """Ranking entries of the stores at ``positions`` in ``ordered`` (revenue descending)."""
    entries = []
    for position in positions:
        row = ordered[position]
        before = last_week.get(row["storeId"])
        entries.append(
            {
                "rank": position + 1,
                "storeId": row["storeId"],
                "revenue": row["revenue"],
                "share": ratio(row["revenue"], total),
                "vsLastWeek": None if before is None else ratio(row["revenue"], before["revenue"]),
            }
        )
    return entries


def company_metrics(
    today: list[Row],
    previous_day: list[Row] | None,
    same_weekday_last_week: list[Row] | None,
    ranking_limit: int = 10,
) -> dict[str, Any]:
    """Per-currency headline, changes against the previous day and last week, top and bottom stores.

    ``ranking`` lists the ``ranking_limit`` stores of highest revenue (ties by storeId), ``bottom``
    the lowest ones from the lowest up; ``rank`` is always the position in the full descending
    order, so the lowest of 800 stores has rank 800. ``share`` is of the currency's revenue (None
    when that is not positive); ``vsLastWeek`` is the store's revenue over its revenue on the same
    weekday last week in the same currency (None without it). A ``changes`` entry is None when that
    day has no store in the currency; it compares all stores of each day, and its ``stores`` line
    tells how many that was.
    """
    if ranking_limit < 0:
        raise ValueError(f"ranking_limit must be ≥ 0, got {ranking_limit}")
    current = _by_currency(today, "today")
    previous = _by_currency(previous_day or (), "previous day")
    last_week = _by_currency(same_weekday_last_week or (), "same weekday last week")
    by_currency = {}
    for currency in sorted(current):
        stores = current[currency]
        headline = _headline(stores.values())
        ordered = sorted(stores.values(), key=lambda row: (-row["revenue"], row["storeId"]))
        count = len(ordered)
        top = range(min(ranking_limit, count))
        bottom = range(count - 1, max(count - ranking_limit, 0) - 1, -1)
        week = last_week.get(currency, {})
        by_currency[currency] = {
            "stores": headline["stores"],
            "revenue": headline["revenue"],
            "transactions": headline["transactions"],
            "units": headline["units"],
            "averageBasket": headline["averageBasket"],
            "refunds": {
                "lines": headline["refundLines"],
                "units": headline["refundUnits"],
                "amount": headline["refundAmount"],
            },
            "changes": {
                "previousDay": _changes(headline, previous.get(currency)),
                "sameWeekdayLastWeek": _changes(headline, week),
            },
            "ranking": _store_entries(ordered, top, headline["revenue"], week),
            "bottom": _store_entries(ordered, bottom, headline["revenue"], week),
        }
    return {
        "storeCount": sum(len(stores) for stores in current.values()),
        "currencies": sorted(current),
        "byCurrency": by_currency,
    }


def _product_entries(ordered: Sequence[tuple[str, int]], positions: Iterable[int], field: str, categories: CategoryMap):
    """Ranking entries of the (productId, value) pairs at ``positions`` in ``ordered`` (value descending)."""
    return [
        {
            "rank": position + 1,
            "productId": ordered[position][0],
            "category": categories.category_of(ordered[position][0]),
            field: ordered[position][1],
        }
        for position in positions
    ]


def _top_and_bottom(
    values: dict[str, int], limit: int, field: str, categories: CategoryMap
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``limit`` highest and lowest positive values (ties by productId), ranked in the full descending order."""
    ordered = sorted(((p, v) for p, v in values.items() if v > 0), key=lambda pair: (-pair[1], pair[0]))
    count = len(ordered)
    top = range(min(limit, count))
    bottom = range(count - 1, max(count - limit, 0) - 1, -1)
    return (
        _product_entries(ordered, top, field, categories),
        _product_entries(ordered, bottom, field, categories),
    )


def product_metrics(products: list[Row], categories: CategoryMap, limit: int = 10) -> dict[str, Any]:
    """Top and bottom products by units (all currencies) and by revenue (per currency), and category totals.

    The rankings hold products that sold (units, or that currency's revenue, > 0): a product
    only refunded today is in the refunds of ``company_metrics``, not the slowest seller. ``rank``
    is the position in the full descending order, as for stores. ``categories`` lists every
    configured category (sorted) and then ``uncategorised``, each with its products, units and
    revenue per currency, even when nothing sold in it: an empty category is news too.
    """
    if limit < 0:
        raise ValueError(f"limit must be ≥ 0, got {limit}")
    units: dict[str, int] = {}
    revenue: dict[str, dict[str, int]] = {}
    category_units = dict.fromkeys(categories.all_names, 0)
    category_products: dict[str, set[str]] = {name: set() for name in categories.all_names}
    category_revenue: dict[str, dict[str, int]] = {name: {} for name in categories.all_names}
    for row in products:
        product, currency = row["productId"], row["currency"]
        per_currency = revenue.setdefault(currency, {})
        if product in per_currency:
            raise ValueError(f"product {product} appears twice in {currency}")
        per_currency[product] = row["revenue"]
        units[product] = units.get(product, 0) + row["units"]
        category = categories.category_of(product)
        category_units[category] += row["units"]
        category_products[category].add(product)
        money = category_revenue[category]
        money[currency] = money.get(currency, 0) + row["revenue"]
    top_units, bottom_units = _top_and_bottom(units, limit, "units", categories)
    top_revenue, bottom_revenue = {}, {}
    for currency in sorted(revenue):
        top_revenue[currency], bottom_revenue[currency] = _top_and_bottom(
            revenue[currency], limit, "revenue", categories
        )
    return {
        "productCount": len(units),
        "topByUnits": top_units,
        "bottomByUnits": bottom_units,
        "topByRevenue": top_revenue,
        "bottomByRevenue": bottom_revenue,
        "categories": {
            name: {
                "products": len(category_products[name]),
                "units": category_units[name],
                "revenue": dict(sorted(category_revenue[name].items())),
            }
            for name in categories.all_names
        },
    }
