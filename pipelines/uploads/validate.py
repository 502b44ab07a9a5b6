"""Validation of one parsed upload record into a ``Transaction``, or a rejection naming the field.

``validate(record)`` returns a ``Transaction`` with every amount in integer minor units, or raises
``RecordRejected`` whose ``reason`` names the first offending field by its path inside the
record (``lines[2].quantity: must be a non-zero integer``). The rules are those of ``format``.
Money is never a binary float: a ``float`` is rejected (the parser yields ``JsonNumber``, the
number's exact text; ``Decimal`` is accepted from other callers), and so is
any amount that is not a whole number of cents.

This is the reference: it checks every rule every time and alone words a rejection. The upload
pipeline's hot loop (``fast``) accepts the common well-formed record without it, and hands it
every record it is not sure of; tests hold the two to the same answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from pipelines.common.inputs import field_name, has_lone_surrogate, nearest, quote
from pipelines.uploads import format as fmt
from pipelines.uploads.parse import DuplicateKeys, JsonNumber, NonFinite, Unparsable

# The patterns of format's rules; ``fast`` checks with these same ones.
STORE_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{fmt.MAX_STORE_ID}}}")
TRANSACTION_ID = re.compile(rf"[\x21-\x7e]{{1,{fmt.MAX_TRANSACTION_ID}}}")
PRODUCT_ID = re.compile(rf"[A-Za-z0-9._/-]{{1,{fmt.MAX_PRODUCT_ID}}}")
TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
MONEY_TEXT = re.compile(r"(0|[1-9][0-9]{0,6})(?:\.([0-9]{1,2}))?")
_TRANSACTION_KEYS = frozenset(fmt.TRANSACTION_FIELDS)
_LINE_KEYS = frozenset(fmt.LINE_FIELDS)
_REQUIRED_TRANSACTION_KEYS = frozenset(fmt.REQUIRED_TRANSACTION_FIELDS)
_HUNDRED = Decimal(100)


class RecordRejected(Exception):
    """A record broke a rule; ``reason`` is ``<field path>: <problem>``."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class Line(NamedTuple):
    """One validated line item; ``net`` in minor units (negative for a refund)."""

    product_id: str
    quantity: int
    unit_price: int
    discount: int
    net: int


@dataclass(frozen=True, slots=True)
class Transaction:
    """One validated transaction; ``business_date``/``hour`` are the timestamp's own local date and hour."""

    store_id: str
    transaction_id: str
    timestamp: str
    business_date: str
    hour: int
    currency: str
    lines: tuple[Line, ...]


def _kind(value: Any) -> str:
    if isinstance(value, NonFinite):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, Decimal, JsonNumber)):
        text = str(value)
        return f"the number {text if len(text) <= 40 else text[:40] + '…'}"
    if isinstance(value, str):
        return f"the string {quote(value)}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _reject(path: str, problem: str) -> RecordRejected:
    return RecordRejected(f"{path}: {problem}")


def _check_keys(obj: dict, path: str, known: frozenset[str], required: tuple[str, ...]) -> None:
    if isinstance(obj, DuplicateKeys):
        raise _reject(f"{path}{field_name(obj.duplicates[0])}", "appears more than once in the object")
    extra = obj.keys() - known
    if extra:
        key = min(extra, key=str)
        hint = nearest(key, tuple(sorted(known))) if isinstance(key, str) else None
        raise _reject(f"{path}{field_name(key)}", "unknown field" + (f" (did you mean {hint!r}?)" if hint else ""))
    for key in required:
        if key not in obj:
            raise _reject(f"{path}{key}", "is required")


def _identifier(value: Any, path: str, pattern: re.Pattern, rule: str) -> str:
    if type(value) is not str:
        raise _reject(path, f"must be a string, not {_kind(value)}")
    if not pattern.fullmatch(value):
        if has_lone_surrogate(value):
            raise _reject(path, "contains a lone surrogate (e.g. \\ud800): text must be valid Unicode")
        raise _reject(path, f"must be {rule}, not {quote(value)}")
    return value


def money(value: Any, path: str) -> int:
    """An amount (JSON number, Decimal or decimal string) in minor units; RecordRejected if not exact."""
    if isinstance(value, bool) or value is None:
        raise _reject(path, f"must be an amount, not {_kind(value)}")
    if isinstance(value, int):
        cents = value * 100
    elif isinstance(value, (Decimal, JsonNumber)):
        value = Decimal(value)
        if not value.is_finite() or value > fmt.MAX_UNIT_PRICE_MINOR:
            raise _reject(path, f"must be at most {fmt.MAX_UNIT_PRICE_MINOR // 100:,}, not {_kind(value)}")
        scaled = value * _HUNDRED
        if scaled != scaled.to_integral_value():
            raise _reject(path, f"must have at most 2 decimals, not {_kind(value)}")
        cents = int(scaled)
    elif type(value) is str:
        match = MONEY_TEXT.fullmatch(value)
        if not match:
            raise _reject(path, f'must be a decimal string with at most 2 decimals like "3.49", not {quote(value)}')
        cents = int(match[1]) * 100 + (int(match[2].ljust(2, "0")) if match[2] else 0)
    elif isinstance(value, float):
        raise _reject(path, "must be an exact decimal, not a binary float")
    else:
        raise _reject(path, f"must be an amount, not {_kind(value)}")
    if cents < 0:
        raise _reject(path, f"must not be negative, not {_kind(value)}")
    if cents > fmt.MAX_UNIT_PRICE_MINOR:
        raise _reject(path, f"must be at most {fmt.MAX_UNIT_PRICE_MINOR // 100:,}, not {_kind(value)}")
    return cents


def _amount(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def check_line(item: Any, path: str) -> Line:
    """One line item as a ``Line``; RecordRejected naming the field under ``path`` (``lines[2]``)."""
    if not isinstance(item, dict):
        raise _reject(path, f"must be an object, not {_kind(item)}")
    _check_keys(item, f"{path}.", _LINE_KEYS, fmt.REQUIRED_LINE_FIELDS)
    product = _identifier(item["productId"], f"{path}.productId", PRODUCT_ID, "1–64 of A-Z a-z 0-9 . _ - /")
    quantity = item["quantity"]
    if type(quantity) is not int or not quantity or abs(quantity) > fmt.MAX_QUANTITY:
        limit = f"±{fmt.MAX_QUANTITY:,}"
        raise _reject(f"{path}.quantity", f"must be a non-zero integer within {limit}, not {_kind(quantity)}")
    price = money(item["unitPrice"], f"{path}.unitPrice")
    discount = money(item["discount"], f"{path}.discount") if "discount" in item else 0
    gross = abs(quantity) * price
    if discount > gross:
        raise _reject(f"{path}.discount", f"{_amount(discount)} is more than |quantity| × unitPrice ({_amount(gross)})")
    net = gross - discount
    return Line(product, quantity, price, discount, net if quantity > 0 else -net)


def validate(record: Any) -> Transaction:
    """``record`` as a ``Transaction``; RecordRejected naming the first field that breaks a rule."""
    if isinstance(record, Unparsable):
        raise RecordRejected(f"(record): {record.reason}")
    if not isinstance(record, dict):
        raise RecordRejected(f"(record): must be a transaction object, not {_kind(record)}")
    keys = record.keys()
    if type(record) is not dict or not keys <= _TRANSACTION_KEYS or not _REQUIRED_TRANSACTION_KEYS <= keys:
        _check_keys(record, "", _TRANSACTION_KEYS, fmt.REQUIRED_TRANSACTION_FIELDS)
    store = _identifier(record["storeId"], "storeId", STORE_ID, "1–64 of A-Z a-z 0-9 . _ -")
    transaction = _identifier(
        record["transactionId"], "transactionId", TRANSACTION_ID, "1–128 printable ASCII characters without spaces"
    )
    stamp = record["timestamp"]
    if type(stamp) is not str or not TIMESTAMP.fullmatch(stamp):
        shown = quote(stamp) if type(stamp) is str else _kind(stamp)
        raise _reject("timestamp", f"must be ISO-8601 with a zone like 2026-11-20T14:03:07+01:00, not {shown}")
    try:
        datetime.fromisoformat(stamp)
    except ValueError:
        raise _reject("timestamp", f"is not a real date and time: {quote(stamp)}") from None
    currency = record.get("currency", fmt.DEFAULT_CURRENCY)
    if type(currency) is not str or currency not in fmt.CURRENCIES:
        raise _reject("currency", f"must be a supported ISO 4217 code (USD, EUR, GBP …), not {_kind(currency)}")
    items = record["lines"]
    if not isinstance(items, list) or not items or len(items) > fmt.MAX_LINES:
        shown = f"{len(items):,} lines" if isinstance(items, list) else _kind(items)
        raise _reject("lines", f"must be an array of 1 to {fmt.MAX_LINES:,} line items, not {shown}")
    lines = tuple([check_line(item, f"lines[{index}]") for index, item in enumerate(items)])
    return Transaction(store, transaction, stamp, stamp[:10], int(stamp[11:13]), currency, lines)
