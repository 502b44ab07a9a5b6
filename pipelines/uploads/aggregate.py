"""Aggregation of validated transactions into per (store, business date) summaries.

``Aggregator.add`` folds one transaction in, after the checks that need the rest of the file:

- a repeated ``(storeId, transactionId)`` is rejected as a duplicate of the first one (the later
  one never counts; across files nothing is deduplicated);
- a store-day has one currency: a transaction in another one than the file already used for
  that store-day is rejected.

``run`` drives parse output through ``validate`` and the aggregator, counting and collecting
rejections as ``(position, reason)``. Given what ``parse`` returns it takes the fast way
(``fast``), which folds the common well-formed record without building a ``Transaction`` and
hands every other one to ``validate``: the same outcome, rejections and reasons included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipelines.uploads import fast
from pipelines.uploads.parse import Records
from pipelines.uploads.summary import StoreDay
from pipelines.uploads.validate import RecordRejected, Transaction, validate

StoreDayKey = tuple[str, str]  # (storeId, businessDate)


class Aggregator:
    """Per (storeId, businessDate) summaries of the transactions added so far."""

    def __init__(self) -> None:
        self.summaries: dict[StoreDayKey, StoreDay] = {}
        # storeId → transactionId → position of the transaction that counted (a dict per store:
        # no (store, id) tuple kept per transaction). ``fast`` folds into both the same way.
        self.seen: dict[str, dict[str, Any]] = {}

    def add(self, position: Any, txn: Transaction) -> None:
        """Fold ``txn`` in; RecordRejected (nothing changed) if it is a duplicate or in another currency."""
        store = txn.store_id
        seen = self.seen.get(store)
        if seen is None:
            seen = self.seen[store] = {}
        elif txn.transaction_id in seen:
            raise RecordRejected(f"transactionId: duplicate of the transaction at position {seen[txn.transaction_id]}")
        key = (store, txn.business_date)
        day = self.summaries.get(key)
        if day is None:
            day = self.summaries[key] = StoreDay(txn.currency)
        elif day.currency != txn.currency:
            raise RecordRejected(
                f"currency: {txn.currency}, but store {store} already sold in {day.currency} "
                f"on {txn.business_date} in this file"
            )
        seen[txn.transaction_id] = position
        day.transactions += 1
        products = day.products
        revenue = 0
        units = 0
        for product, quantity, _, _, net in txn.lines:
            revenue += net
            units += quantity
            if quantity < 0:
                day.refund_lines += 1
                day.refund_units -= quantity
                day.refund_amount -= net
            entry = products.get(product)
            if entry is None:
                products[product] = [quantity, net]
            else:
                entry[0] += quantity
                entry[1] += net
        day.units += units
        day.revenue += revenue
        day.hourly[txn.hour] += revenue


@dataclass
class Outcome:
    """What ``run`` made of an upload: summaries, counts and (the first ``keep``) rejections."""

    summaries: dict[StoreDayKey, StoreDay]
    records: int = 0
    lines: int = 0
    rejected: int = 0
    rejects: list[tuple[Any, str]] = field(default_factory=list)

    @property
    def reject_ratio(self) -> float:
        """Rejected records over all records (0 for none)."""
        return self.rejected / self.records if self.records else 0.0


def run(
    records: Iterable[tuple[Any, Any]],
    keep: int | None = None,
    on_reject: Callable[[Any, str], None] | None = None,
) -> Outcome:
    """Validate and aggregate ``(position, record)`` pairs; each rejection is kept (up to ``keep``) and reported."""
    aggregator = Aggregator()
    outcome = Outcome(aggregator.summaries)

    def reject(position: Any, reason: str) -> None:
        outcome.rejected += 1
        if keep is None or len(outcome.rejects) < keep:
            outcome.rejects.append((position, reason))
        if on_reject is not None:
            on_reject(position, reason)

    if isinstance(records, Records):
        outcome.records, outcome.lines = fast.fold(records.spans(), aggregator, reject)
    else:
        for position, record in records:
            outcome.records += 1
            try:
                txn = validate(record)
                aggregator.add(position, txn)
            except RecordRejected as rejection:
                reject(position, rejection.reason)
                continue
            outcome.lines += len(txn.lines)
    for day in outcome.summaries.values():
        day.prune()
    return outcome
