"""The upload ETL's hot loop: a well-formed record checked and folded in one pass, any other to ``validate``.

Why: building a ``Transaction`` of ``Line`` objects for every record and then folding it cost
more than decoding the JSON. Here a record straight from ``Records.spans`` is checked in place,
against memos of the ids and amounts already found valid (a real file repeats a few thousand
products and prices), and its lines go to ``Aggregator.fold`` as plain tuples.

It only ever accepts. A record is folded here only when ``validate`` would accept it as the same
``Transaction``; at the first doubt (a value not known yet and not plainly valid, a wrong type, a
key missing or extra, a limit crossed) it is re-decoded exactly (``parse.exact``) and goes through
``validate`` and ``Aggregator.add``, which alone decide a rejection and word it. A line whose
product or amounts are not known yet is checked by ``validate.check_line``, and remembered once
accepted. ``Aggregator.fold`` is shared, so what a transaction adds up to is computed in one place.

Duplicate keys: ``Records.spans`` decodes without the object hook, so a dict does not show that
a key was repeated. The source text does. With no backslash in it (no escapes), every ``:`` of a
record either separates a key from its value or sits inside a string; of the strings in a record
accepted here (known keys, checked ids, amounts, currency code), only the transactionId and the
timestamp can hold one. So no key is repeated exactly when the record's ``:`` count is the
number of key/value pairs in its dicts plus those two strings' ``:``; otherwise the record goes
the reference way, where the parser's ``DuplicateKeys`` names the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipelines.uploads import format as fmt
from pipelines.uploads.parse import JsonNumber, exact
from pipelines.uploads.validate import (
    _MONEY_TEXT,
    _STORE_ID,
    _TIMESTAMP,
    _TRANSACTION_ID,
    RecordRejected,
    check_line,
    validate,
)

if TYPE_CHECKING:
    from pipelines.uploads.aggregate import Aggregator

# Bounded, and only ever holding values the reference accepted (a memo never widens what passes).
MEMO_LIMIT = 100_000
_STORES: set[str] = set()
_PRODUCTS: set[str] = set()
# An accepted amount → its minor units. Keys are ints, and texts that read the same as a decimal
# string and as a JSON number (``"3.49"``): a JsonNumber equals the str of its text, so both
# forms find one entry, and only texts both forms accept alike are stored (not ``"4.500"``).
_AMOUNTS: dict[Any, int] = {0: 0}
_MAX_QUANTITY = fmt.MAX_QUANTITY
_MAX_LINES = fmt.MAX_LINES
_CURRENCIES = fmt.CURRENCIES
_USD = fmt.DEFAULT_CURRENCY
_TID = _TRANSACTION_ID.fullmatch
_STAMP = _TIMESTAMP.fullmatch
_ISO = datetime.fromisoformat

Line = tuple[str, int, int, int, int]  # (productId, quantity, unitPrice, discount, net), as ``validate.Line``


def forget() -> None:
    """Empty the memos (a cold start; for tests)."""
    _STORES.clear()
    _PRODUCTS.clear()
    _AMOUNTS.clear()
    _AMOUNTS[0] = 0


def fold(
    spans: Iterable[tuple[Any, Any, str | None, int, int]],
    aggregator: Aggregator,
    reject: Callable[[Any, str], None],
) -> tuple[int, int]:
    """Check and fold each ``Records.spans`` record into ``aggregator``; ``reject`` each rejection; (records, lines)."""
    records = lines = 0
    add, fold_ = aggregator.add, aggregator.fold
    for position, record, text, start, end in spans:
        records += 1
        try:
            if text is not None and (accepted := _accept(record, text, start, end)) is not None:
                fold_(position, *accepted)  # only the file-wide checks can still reject it
                lines += len(accepted[-1])
            else:
                txn = validate(record if text is None else exact(text, start))
                add(position, txn)
                lines += len(txn.lines)
        except RecordRejected as rejection:
            reject(position, rejection.reason)
    return records, lines


def _accept(record: Any, text: str, start: int, end: int) -> tuple[str, str, str, int, str, list[Line]] | None:
    """``(store, transaction, date, hour, currency, lines)`` if ``validate`` surely accepts ``record``, else None."""
    if type(record) is not dict:
        return None
    size = len(record)
    try:
        if size == 5:
            currency = record["currency"]
        elif size == 4:
            currency = _USD
        else:
            return None
        store, transaction = record["storeId"], record["transactionId"]
        stamp, items = record["timestamp"], record["lines"]
    except KeyError:
        return None
    if (
        type(store) is not str
        or (store not in _STORES and not _new_store(store))
        or type(transaction) is not str
        or not _TID(transaction)
        or type(stamp) is not str
        or not _STAMP(stamp)
        or type(currency) is not str
        or currency not in _CURRENCIES
        or type(items) is not list
        or not 0 < len(items) <= _MAX_LINES
        or text.find("\\", start, end) >= 0
    ):
        return None
    try:
        _ISO(stamp)
        pairs = size + sum(map(len, items))
    except (ValueError, TypeError):
        return None
    if text.count(":", start, end) != pairs + transaction.count(":") + stamp.count(":"):
        return None
    lines = _lines(items)
    return None if lines is None else (store, transaction, stamp[:10], int(stamp[11:13]), currency, lines)


def _lines(items: list) -> list[Line] | None:
    """Each item as a ``Line`` tuple, or None as soon as one is not surely valid."""
    lines: list[Line] = []
    append = lines.append
    for item in items:
        try:
            size = len(item) if type(item) is dict else 0
            product, quantity, price = item["productId"], item["quantity"], item["unitPrice"]
            discount = 0 if size == 3 else item["discount"] if size == 4 else True  # True: never taken
            if (
                type(product) is str
                and product in _PRODUCTS
                and type(quantity) is int
                and price is not True  # True == 1 and False == 0: a boolean must not find an amount
                and price is not False
                and discount is not True
                and discount is not False
            ):
                price, discount = _AMOUNTS[price], _AMOUNTS[discount]
                if 0 < quantity <= _MAX_QUANTITY:
                    if (net := price * quantity - discount) >= 0:
                        append((product, quantity, price, discount, net))
                        continue
                elif -_MAX_QUANTITY <= quantity < 0 and (net := price * quantity + discount) <= 0:
                    append((product, quantity, price, discount, net))
                    continue
        except (KeyError, TypeError):  # a key missing, an amount not known (or not hashable)
            pass
        if (line := _learn(item)) is None:
            return None
        append(line)
    return lines


def _new_store(store: str) -> bool:
    if not _STORE_ID.fullmatch(store):
        return False
    if len(_STORES) < MEMO_LIMIT:
        _STORES.add(store)
    return True


def _learn(item: Any) -> Line | None:
    """The reference's ``Line`` for ``item`` (its product and amounts remembered), or None if it rejects it."""
    try:
        line = check_line(item, "lines")
    except RecordRejected:
        return None
    if len(_PRODUCTS) < MEMO_LIMIT:
        _PRODUCTS.add(line[0])
    _remember(item["unitPrice"], line[2])
    if "discount" in item:
        _remember(item["discount"], line[3])
    return tuple(line)


def _remember(value: Any, cents: int) -> None:
    if len(_AMOUNTS) < MEMO_LIMIT and (
        type(value) is int or (type(value) in (str, JsonNumber) and _MONEY_TEXT.fullmatch(value))
    ):
        _AMOUNTS[value] = cents
