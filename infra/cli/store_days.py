"""``run uploads --file``: the store-day summaries an upload wrote, one readable line each.

Read from the ``landed`` snapshots taken before and after the run (the pipeline's table, every
item): a summary item (``sk = "summary"``) that is new or changed is a store-day the upload
touched; its products are counted over the part items of the same store-day.
"""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction

from infra.cli.landed import Snapshot
from pipelines.uploads.items import SUMMARY_SK


def _money(minor: int, currency: str) -> str:
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units:,}.{cents:02d} {currency}"


def summary_line(item: dict, products: int) -> str:
    """``S001 2026-11-20: revenue 1,234.56 EUR, 120 units, 40 transactions, basket 30.86 EUR, …``."""
    currency, transactions = item["currency"], int(item["transactions"])
    basket = round(Fraction(int(item["revenue"]), transactions)) if transactions else 0
    refunds = int(item["refundLines"])
    return (
        f"{item['storeId']} {item['businessDate']}: revenue {_money(int(item['revenue']), currency)}, "
        f"{int(item['units']):,} units, {transactions:,} transactions, average basket {_money(basket, currency)}, "
        f"{refunds:,} refund line{'' if refunds == 1 else 's'} ({_money(int(item['refundAmount']), currency)}), "
        f"{products:,} products"
    )


def written_store_days(before: Snapshot, after: Snapshot) -> list[str]:
    """A line per store-day summary new or changed between the snapshots, by store and date."""
    lines = []
    for table, items in after.items.items():
        old = before.items.get(table, {})
        parsed = [json.loads(text) for text in items.values()]
        products = Counter()
        for item in parsed:
            if str(item.get("sk", "")).startswith("products#"):
                products[item["pk"]] += len(item.get("products", {}))
        changed = [
            json.loads(text)
            for key, text in items.items()
            if old.get(key) != text and json.loads(text).get("sk") == SUMMARY_SK
        ]
        for item in sorted(changed, key=lambda i: (i["storeId"], i["businessDate"])):
            lines.append(summary_line(item, products[item["pk"]]))
    return lines
