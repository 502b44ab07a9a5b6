"""The upload format: a JSON document (or NDJSON) of sales transactions.

A ``.json`` upload is one object with one key, ``transactions``, an array of transactions::

    {"transactions": [
      {"storeId": "S001", "transactionId": "T-000123", "timestamp": "2026-11-20T14:03:07+01:00",
       "currency": "EUR",
       "lines": [{"productId": "P00042", "quantity": 2, "unitPrice": "3.49", "discount": "0.50"},
                 {"productId": "P00007", "quantity": -1, "unitPrice": 12.99}]}
    ]}

A ``.ndjson`` / ``.jsonl`` upload holds the same transaction objects, one per line (blank lines
are skipped). Any other key suffix is read as JSON. Text is UTF-8 (a leading BOM is ignored).
The machine-readable contract is ``upload.schema.json`` (JSON Schema draft 2020-12) beside this
module; ``validate`` enforces the same rules and is what the pipeline runs.

Transaction fields (no others are allowed):

- ``storeId``: 1–64 characters of ``A-Z a-z 0-9 . _ -``.
- ``transactionId``: 1–128 printable ASCII characters without spaces, unique per store within a file: a later
  transaction repeating a ``(storeId, transactionId)`` of the same file is rejected as a duplicate
  (the first one counts). Across files nothing is deduplicated: two files add up.
- ``timestamp``: ISO-8601 ``YYYY-MM-DDTHH:MM[:SS[.ffffff]]`` with a zone, ``Z`` or ``±HH:MM``.
  The **business date and hour are those written in the timestamp**, i.e. the store's local
  time as the till recorded it, offset included; no time-zone database is consulted.
- ``currency``: optional ISO 4217 code of a currency with 2 minor digits (``CURRENCIES``), default
  ``USD``. A store-day has one currency: a transaction in another currency than the one the file
  already used for that store-day is rejected.
- ``lines``: 1–1,000 line items, each with

  - ``productId``: 1–64 characters of ``A-Z a-z 0-9 . _ - /``;
  - ``quantity``: a non-zero integer, |quantity| ≤ 100,000; negative means a refund;
  - ``unitPrice``: ≥ 0, at most 2 decimals, ≤ 1,000,000: a JSON number (``3.49``, read as an exact
    decimal, never a binary float) or a decimal string (``"3.49"``);
  - ``discount``: optional, default 0, same money form, the line's total discount:
    0 ≤ discount ≤ |quantity| × unitPrice.

Unknown fields, a field given twice in one object, wrong types, lone surrogates (``\\ud800``) and
``NaN``/``Infinity`` reject the record; each rejection names the field and the record's position
(its index in ``transactions``, or its NDJSON line number).

Amounts are carried in **minor units** (cents) as integers. A line's net amount is
``sign(quantity) × (|quantity| × unitPrice − discount)``: a refund line returns what was paid.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

SCHEMA_PATH = Path(__file__).with_name("upload.schema.json")

TRANSACTION_FIELDS = ("storeId", "transactionId", "timestamp", "currency", "lines")
REQUIRED_TRANSACTION_FIELDS = ("storeId", "transactionId", "timestamp", "lines")
LINE_FIELDS = ("productId", "quantity", "unitPrice", "discount")
REQUIRED_LINE_FIELDS = ("productId", "quantity", "unitPrice")
DEFAULT_CURRENCY = "USD"
# ISO 4217 currencies with 2 minor digits that the summaries accept (JPY, KRW … would need 0).
CURRENCIES = frozenset("AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD INR MXN NOK NZD PLN SEK SGD USD ZAR".split())
MINOR_PER_UNIT = 100
MAX_LINES = 1_000
MAX_QUANTITY = 100_000
MAX_UNIT_PRICE_MINOR = 1_000_000 * MINOR_PER_UNIT
MAX_STORE_ID = 64
MAX_TRANSACTION_ID = 128
MAX_PRODUCT_ID = 64
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
# Default of ``stepworks:uploads.maxFileMb`` (the stack setting and the handler's MAX_FILE_MB both
# start here): a 200 MB upload must be processed, not quarantined, so the limit leaves it headroom.
DEFAULT_MAX_FILE_MB = 256


def is_ndjson(key: str) -> bool:
    """Whether an object key names an NDJSON upload (by its suffix, case-insensitively)."""
    return key.lower().endswith(NDJSON_SUFFIXES)


@cache
def schema() -> dict:
    """The upload's JSON Schema (draft 2020-12)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
