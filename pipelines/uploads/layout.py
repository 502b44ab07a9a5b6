"""The intended DynamoDB layout of the summaries, and the split of per-product maps under 400 KB.

One table, keys ``pk`` (string) and ``sk`` (string); the items are built in ``items`` and written
by ``store`` (the write plan: one transaction per store-day, conditioned on a ``revision``).

- **Summary item**, one per store-day: ``pk = "<storeId>#<businessDate>"``, ``sk = "summary"``;
  attributes ``storeId``, ``businessDate``, ``currency``, ``revenue``, ``units``,
  ``transactions``, ``refundLines``, ``refundUnits``, ``refundAmount`` (numbers, minor units),
  ``hourlyRevenue`` (list of 24 numbers) and ``contributors`` (map: source id hash → version
  included; the condition of every write, see ``contributions``). The average basket is
  derived by readers (``revenue / transactions``, half-even), never stored.
- **Product part items**: ``sk = "products#<n>"`` for ``n`` in ``0 .. PRODUCT_PARTS-1``, each a
  map ``products`` of productId → [units, revenue] for the products that hash to part ``n``
  (``product_part``). A part item is written only when a change touches one of its products,
  so writes per file are proportional to the (store, date, part) items touched.
- **GSI ``byDate``**: partition ``gsiDate = businessDate``, sort ``gsiStore = "<storeId>#<sk>"``,
  projection ALL, present on the summary and part items: daily-analysis fetches every store's
  summary and products for a date with one paginated Query, no Scan.
- **An upload's own contribution** (its partial summaries, needed to subtract it when a
  corrected version arrives) can be far larger than one item: it is **spilled** to S3 as
  ``contributions/<source hash>/<version>.json`` and only its pointer and version live in the
  table (``pk = "source#<hash>"``, ``sk = "contribution"``).

Per-product maps are **split**, not spilled, so the totals stay queryable. The arithmetic, with
DynamoDB's item size rules (attribute names and strings count their UTF-8 bytes; a number is at
most 21 bytes; a map or list costs 3 bytes plus 1 per element): one product entry is at most
``PRODUCT_ENTRY_MAX_BYTES`` = 64 (id) + 1 + 3 + 2 + 2 × 21 = 112 bytes, so a part holding
``MAX_PRODUCTS_PER_PART`` = 3,000 products is at most ~336 KB, under 400 KB with room for the
keys. ``PRODUCT_PARTS`` = 8 hash parts take 10,000 products at ~1,250 per part (a binomial spread
of about ±35), and up to ~20,000 before any part nears its ceiling; ``split_products`` raises
rather than ever build an item over the limit.

The summary item's one unbounded attribute is ``contributors`` (~66 bytes per contributing
upload): past ~6,000 files for one store-day it would outgrow 400 KB. ``items.store_day_writes``
measures the summary it builds and raises ``TooManyContributorsError`` instead of sending it.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from pipelines.common.errors import NonRetryableError

# Where the pipeline's objects live in its bucket (the trigger's prefix; what ProcessUpload writes).
UPLOAD_PREFIX = "uploads/"
REJECTS_PREFIX = "rejects/"
QUARANTINE_PREFIX = "quarantine/"
CONTRIBUTIONS_PREFIX = "contributions/"
# The GSI daily-analysis queries: every store's summary and product parts of one date.
DATE_INDEX = "byDate"
DATE_INDEX_PARTITION = "gsiDate"
DATE_INDEX_SORT = "gsiStore"

ITEM_LIMIT_BYTES = 400 * 1024
PRODUCT_PARTS = 8
MAX_PRODUCT_ID_BYTES = 64
NUMBER_MAX_BYTES = 21
PRODUCT_ENTRY_MAX_BYTES = MAX_PRODUCT_ID_BYTES + 1 + 3 + 2 + 2 * NUMBER_MAX_BYTES
# The part item's keys and GSI attributes (pk, sk, gsiDate, gsiStore with a 64-byte store id).
PART_KEYS_MAX_BYTES = 512
MAX_PRODUCTS_PER_PART = 3_000
assert PART_KEYS_MAX_BYTES + 3 + MAX_PRODUCTS_PER_PART * PRODUCT_ENTRY_MAX_BYTES < ITEM_LIMIT_BYTES


class ProductPartFullError(NonRetryableError):
    """A store-day has more products in one part than an item can hold (~20,000 distinct products a day).

    Raised before that store-day's transaction, so its stored total is never truncated; a second
    try would fail the same way.
    """


class TooManyContributorsError(NonRetryableError):
    """So many uploads contribute to one store-day that its summary item would pass 400 KB.

    The summary names every contributing upload and the version it includes (``contributors``,
    ~66 bytes each): about 6,000 files for one store and date. Raised before that store-day's
    transaction, so nothing is truncated; a second try would fail the same way.
    """


def product_part(product_id: str) -> int:
    """The part (0 .. PRODUCT_PARTS-1) a product's totals live in; stable across processes."""
    digest = hashlib.blake2b(product_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % PRODUCT_PARTS


def split_products(products: dict[str, list[int]]) -> dict[int, dict[str, list[int]]]:
    """``products`` grouped by part (only non-empty parts); ProductPartFullError past the ceiling."""
    parts: dict[int, dict[str, list[int]]] = {}
    for product, totals in products.items():
        parts.setdefault(product_part(product), {})[product] = totals
    for number, part in parts.items():
        if len(part) > MAX_PRODUCTS_PER_PART:
            raise ProductPartFullError(
                f"product part {number} holds {len(part):,} products, more than {MAX_PRODUCTS_PER_PART:,}"
            )
    return parts


def _number_size(value: int | Decimal) -> int:
    # 1 byte per 2 significant digits (leading and trailing zeros trimmed), +1, +1 more if negative.
    sign, digits, _ = Decimal(value).as_tuple()
    significant = "".join(map(str, digits)).strip("0") or "0"
    return min(NUMBER_MAX_BYTES, (len(significant) + 1) // 2 + 1 + sign)


def item_size(value: Any) -> int:
    """DynamoDB's size of a value by its published rules (for an item, a dict, a few bytes over)."""
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, (int, Decimal)):
        return _number_size(value)
    if isinstance(value, dict):
        return 3 + sum(1 + len(k.encode("utf-8")) + item_size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 3 + sum(1 + item_size(v) for v in value)
    raise TypeError(f"no DynamoDB size for {type(value).__name__}")
