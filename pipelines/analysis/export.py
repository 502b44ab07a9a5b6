"""The QuickSight export (pure): one flat record per row, one fixed column set per dataset.

QuickSight reads one schema per manifest, so every record of a dataset has every column (a
missing value is ``null``), nothing is nested, and each row carries its ``date`` (the folders
``date=<date>/`` partition the files; the column is what a dashboard filters on). Money stays
in integer minor units, as everywhere in stepworks: a dashboard divides by 100.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.analysis.categories import CategoryMap

STORE_COLUMNS = (
    "date", "storeId", "currency", "rank", "revenue", "transactions", "units", "averageBasket",
    "refundLines", "refundUnits", "refundAmount",
)  # fmt: skip
PRODUCT_COLUMNS = ("date", "productId", "category", "currency", "units", "revenue")
ANOMALY_COLUMNS = (
    "date", "kind", "id", "currency", "metric", "value", "median", "mad", "zScore", "ratio", "direction",
    "weeksCompared",
)  # fmt: skip


def store_records(date: str, stores: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each store's day with its revenue rank within its currency (1 = highest; ties by storeId)."""
    ranked = sorted(stores, key=lambda row: (row["currency"], -row["revenue"], row["storeId"]))
    records, rank, currency = [], 0, None
    for row in ranked:
        rank = rank + 1 if row["currency"] == currency else 1
        currency = row["currency"]
        record = {"date": date, "rank": rank, **{k: row.get(k) for k in STORE_COLUMNS if k not in ("date", "rank")}}
        records.append({column: record[column] for column in STORE_COLUMNS})
    return sorted(records, key=lambda r: r["storeId"])


def product_records(date: str, products: Sequence[Mapping[str, Any]], categories: CategoryMap) -> list[dict[str, Any]]:
    """Each product's day per currency, with its category."""
    return [
        {
            "date": date,
            "productId": row["productId"],
            "category": categories.category_of(row["productId"]),
            "currency": row["currency"],
            "units": row["units"],
            "revenue": row["revenue"],
        }
        for row in products
    ]


def anomaly_records(date: str, findings: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each finding of the rule (the history series as a count of weeks: QuickSight reads no arrays)."""
    return [
        {
            **{column: finding.get(column) for column in ANOMALY_COLUMNS if column not in ("date", "weeksCompared")},
            "date": date,
            "weeksCompared": sum(point is not None for point in finding.get("history", [])),
        }
        for finding in findings
    ]


def datasets(
    date: str,
    stores: Sequence[Mapping[str, Any]],
    products: Sequence[Mapping[str, Any]],
    findings: Sequence[Mapping[str, Any]],
    categories: CategoryMap,
) -> dict[str, list[dict[str, Any]]]:
    """Dataset name (``layout.DATASETS``) → its records for the date, columns in a fixed order."""
    anomalies = [{column: record[column] for column in ANOMALY_COLUMNS} for record in anomaly_records(date, findings)]
    return {
        "store-metrics": store_records(date, stores),
        "product-metrics": product_records(date, products, categories),
        "anomalies": anomalies,
    }
