"""Aggregation of validated transactions into per (store, business date) summaries.

``Aggregator.add`` folds one transaction in, after the checks that need the rest of the file:

- a repeated ``(storeId, transactionId)`` is rejected as a duplicate of the first one (the later
  one never counts; across files nothing is deduplicated);
- a store-day has one currency: a transaction in another one than the file already used for
  that store-day is rejected.

``run`` drives parse output through ``validate`` and the aggregator, counting and collecting
rejections as ``(position, reason)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipelines.uploads.summary import StoreDay
from pipelines.uploads.validate import RecordRejected, Transaction, validate

StoreDayKey = tuple[str, str]  # (storeId, businessDate)


class Aggregator:
    """Per (storeId, businessDate) summaries of the transactions added so far."""

    def __init__(self) -> None:
        self.summaries: dict[StoreDayKey, StoreDay] = {}
        self._seen: dict[tuple[str, str], Any] = {}

    def add(self, position: Any, txn: Transaction) -> None:
        """Fold ``txn`` in; RecordRejected (nothing changed) if it is a duplicate or in another currency."""
        seen = (txn.store_id, txn.transaction_id)
        if seen in self._seen:
            raise RecordRejected(f"transactionId: duplicate of the transaction at position {self._seen[seen]}")
        key = (txn.store_id, txn.business_date)
        day = self.summaries.get(key)
        if day is None:
            day = self.summaries[key] = StoreDay(txn.currency)
        elif day.currency != txn.currency:
            raise RecordRejected(
                f"currency: {txn.currency}, but store {txn.store_id} already sold in {day.currency} "
                f"on {txn.business_date} in this file"
            )
        self._seen[seen] = position
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
    for position, record in records:
        outcome.records += 1
        try:
            txn = validate(record)
            aggregator.add(position, txn)
        except RecordRejected as rejection:
            outcome.rejected += 1
            if keep is None or len(outcome.rejects) < keep:
                outcome.rejects.append((position, rejection.reason))
            if on_reject is not None:
                on_reject(position, rejection.reason)
            continue
        outcome.lines += len(txn.lines)
    for day in outcome.summaries.values():
        day.prune()
    return outcome
