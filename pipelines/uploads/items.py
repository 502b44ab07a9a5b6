"""The DynamoDB items of ``layout`` built from and read back into summaries (pure; plain Python values).

Items here are plain dicts of str / int / list / dict, serialised by the adapter (``store``).
Numbers are ints on the way in (minor units, exact); on the way out DynamoDB hands back
``Decimal``s, which ``_int`` turns back into ints, refusing any that is not whole.

Every summary and part item carries ``revision``: the summary's goes up by one with each write
of the store-day, and each part written with it takes the same number. A write is conditioned on
the revision it read (or on the item not existing), so any concurrent change of an item in
between makes the write fail instead of overwriting it (``store``).
Contributions (an upload version's partial summaries) travel as JSON (``contribution_json``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from pipelines.uploads.contributions import Contribution, Source, StoreDayKey, StoreDayTotal
from pipelines.uploads.layout import (
    CONTRIBUTIONS_PREFIX,
    DATE_INDEX_PARTITION,
    DATE_INDEX_SORT,
    ITEM_LIMIT_BYTES,
    TooManyContributorsError,
    item_size,
    product_part,
    split_products,
)
from pipelines.uploads.summary import HOURS, StoreDay

SUMMARY_SK = "summary"
POINTER_SK = "contribution"


def part_sk(number: int) -> str:
    return f"products#{number}"


def store_day_pk(key: StoreDayKey) -> str:
    return f"{key[0]}#{key[1]}"


def source_hash(source: Source) -> str:
    """The contributor id of an upload in the table: 32 hex digits of SHA-256 of ``s3://bucket/key``."""
    return hashlib.sha256(source.id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def pointer_key(digest: str) -> dict[str, str]:
    return {"pk": f"source#{digest}", "sk": POINTER_SK}


def contribution_key(digest: str, version: str) -> str:
    """Where a version's contribution is spilled: ``contributions/<hash>/<version>.json``."""
    return f"{CONTRIBUTIONS_PREFIX}{digest}/{quote(version, safe='')}.json"


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)) or value != int(value):
        raise ValueError(f"stored number {value!r} is not a whole number of minor units")
    return int(value)


@dataclass
class StoreDaySnapshot:
    """A store-day as read: its summary item and the part items asked for (None: absent)."""

    key: StoreDayKey
    summary: dict[str, Any] | None
    parts: dict[int, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def revision(self) -> int:
        return _int(self.summary["revision"]) if self.summary else 0

    def total(self) -> StoreDayTotal | None:
        """The stored total, its products limited to the parts read (all a change can touch)."""
        if self.summary is None:
            return None
        item = self.summary
        day = StoreDay(
            currency=item["currency"],
            revenue=_int(item["revenue"]),
            units=_int(item["units"]),
            transactions=_int(item["transactions"]),
            refund_lines=_int(item["refundLines"]),
            refund_units=_int(item["refundUnits"]),
            refund_amount=_int(item["refundAmount"]),
            hourly=[_int(v) for v in item["hourlyRevenue"]],
        )
        for part in self.parts.values():
            for product, (units, revenue) in (part or {}).get("products", {}).items():
                day.products[product] = [_int(units), _int(revenue)]
        return StoreDayTotal(day, dict(item.get("contributors", {})))


def touched_parts(minus: StoreDay | None, plus: StoreDay | None) -> set[int]:
    """The product parts a change's products hash to."""
    products = set(minus.products if minus else ()) | set(plus.products if plus else ())
    return {product_part(p) for p in products}


def _common(key: StoreDayKey, sk: str, revision: int) -> dict[str, Any]:
    store, date = key
    return {
        "pk": store_day_pk(key),
        "sk": sk,
        "storeId": store,
        "businessDate": date,
        DATE_INDEX_PARTITION: date,
        DATE_INDEX_SORT: f"{store}#{sk}",
        "revision": revision,
    }


def summary_item(key: StoreDayKey, total: StoreDayTotal, revision: int) -> dict[str, Any]:
    day = total.summary
    return {
        **_common(key, SUMMARY_SK, revision),
        "currency": day.currency,
        "revenue": day.revenue,
        "units": day.units,
        "transactions": day.transactions,
        "refundLines": day.refund_lines,
        "refundUnits": day.refund_units,
        "refundAmount": day.refund_amount,
        "hourlyRevenue": list(day.hourly),
        "contributors": dict(total.contributors),
    }


def part_item(key: StoreDayKey, number: int, products: dict[str, list[int]], revision: int) -> dict[str, Any]:
    return {**_common(key, part_sk(number), revision), "products": {p: list(v) for p, v in products.items()}}


@dataclass(frozen=True)
class Write:
    """One item of a store-day's transaction: ``put`` (with ``item``) or ``delete``, conditioned on ``expect``."""

    action: str  # "put" | "delete"
    key: dict[str, str]
    item: dict[str, Any] | None
    expect: int | None  # the revision the item must have now; None: it must not exist


def checked_summary_item(key: StoreDayKey, total: StoreDayTotal, revision: int) -> dict[str, Any]:
    """``summary_item``, or TooManyContributorsError if it would pass DynamoDB's 400 KB item limit."""
    item = summary_item(key, total, revision)
    size = item_size(item)
    if size > ITEM_LIMIT_BYTES:
        raise TooManyContributorsError(
            f"{key[0]} {key[1]}: {len(total.contributors):,} uploads contribute to this store-day; its summary "
            f"item would be {size:,} bytes, over DynamoDB's {ITEM_LIMIT_BYTES:,}: send its sales in fewer files"
        )
    return item


def store_day_writes(snapshot: StoreDaySnapshot, result: StoreDayTotal | None) -> list[Write]:
    """The summary and the changed part items that turn ``snapshot`` into ``result`` (None: delete)."""
    key, pk = snapshot.key, store_day_pk(snapshot.key)
    expect = snapshot.revision if snapshot.summary else None
    revision = snapshot.revision + 1
    writes = []
    if result is None:
        writes.append(Write("delete", {"pk": pk, "sk": SUMMARY_SK}, None, expect))
    else:
        writes.append(Write("put", {"pk": pk, "sk": SUMMARY_SK}, checked_summary_item(key, result, revision), expect))
    new_parts = split_products(result.summary.products) if result else {}
    for number, old_item in sorted(snapshot.parts.items()):
        old = {p: [_int(u), _int(r)] for p, (u, r) in (old_item or {}).get("products", {}).items()}
        new = new_parts.get(number, {})
        if new == old:
            continue
        part_expect = _int(old_item["revision"]) if old_item else None
        part_key = {"pk": pk, "sk": part_sk(number)}
        if new:
            writes.append(Write("put", part_key, part_item(key, number, new, revision), part_expect))
        elif old_item is not None:
            writes.append(Write("delete", part_key, None, part_expect))
    return writes


def contribution_json(contribution: Contribution) -> dict[str, Any]:
    """A version's contribution as JSON (ints only): what ``contribution_from_json`` reads back."""
    return {
        "source": {"bucket": contribution.source.bucket, "key": contribution.source.key},
        "version": contribution.version,
        "sequencer": contribution.sequencer,
        "summaries": [
            {"storeId": store, "businessDate": date, "summary": day.to_dict()}
            for (store, date), day in sorted(contribution.summaries.items())
        ],
    }


def contribution_from_json(data: dict[str, Any]) -> Contribution:
    source = Source(data["source"]["bucket"], data["source"]["key"])
    summaries = {(s["storeId"], s["businessDate"]): StoreDay.from_dict(s["summary"]) for s in data["summaries"]}
    for day in summaries.values():
        if len(day.hourly) != HOURS:
            raise ValueError("a stored contribution's hourlyRevenue does not have 24 hours")
    return Contribution(source, data["version"], summaries, data.get("sequencer"))
