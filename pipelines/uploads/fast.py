"""The upload ETL's hot loop: a well-formed record checked and folded in one pass, any other to ``validate``.

Why: building a ``Transaction`` of ``Line`` objects for every record and then folding it cost
more than decoding the JSON. Here a record straight from ``Records.spans`` is checked in place,
against memos of the ids and amounts already found valid (a real file repeats a few thousand
products and prices), and each line is folded into its store-day as it is checked: no object per
line, one pass. ``Aggregator.add`` is the reference for that arithmetic; tests hold them equal.

It only ever accepts. A record is folded here only when ``validate`` would accept it as the same
``Transaction``; at the first doubt (a value not known yet and not plainly valid, a wrong type, a
key missing or extra, a limit crossed) it is re-decoded exactly (``parse.exact``) and goes through
``validate`` and ``Aggregator.add``, which alone decide a rejection and word it. A line whose
product or amounts are not known yet is checked by ``validate.check_line``, and remembered once
accepted. A line the reference rejects, after others of its record were folded, takes them back
out (``_undo``), so a record the fast path gives up on leaves no trace.

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
from pipelines.uploads.summary import StoreDay
from pipelines.uploads.validate import (
    MONEY_TEXT,
    STORE_ID,
    TIMESTAMP,
    TRANSACTION_ID,
    Line,
    RecordRejected,
    check_line,
    validate,
)

if TYPE_CHECKING:
    from pipelines.uploads.aggregate import Aggregator

# Bounded, and only ever holding values the reference accepted (a memo never widens what passes).
MEMO_LIMIT = 100_000
# Each id → itself: the one string of it that every store-day shares (a dict then matches by identity).
_STORES: dict[str, str] = {}
_PRODUCTS: dict[str, str] = {}
# An accepted amount → its minor units. Keys are ints, and texts that read the same as a decimal
# string and as a JSON number (``"3.49"``): a JsonNumber equals the str of its text, so both
# forms find one entry, and only texts both forms accept alike are stored (not ``"4.500"``).
_AMOUNTS: dict[Any, int] = {0: 0}
_MAX_QUANTITY = fmt.MAX_QUANTITY
_MAX_LINES = fmt.MAX_LINES
_CURRENCIES = fmt.CURRENCIES
_USD = fmt.DEFAULT_CURRENCY
_TID = TRANSACTION_ID.fullmatch
_STAMP = TIMESTAMP.fullmatch
_ISO = datetime.fromisoformat


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
    summaries, seen_by_store = aggregator.summaries, aggregator.seen
    for position, record, text, start, end in spans:
        records += 1
        if text is not None and (accepted := _accept(record, text, start, end)) is not None:
            store, transaction, date, hour, currency, items, pairs = accepted
            seen = seen_by_store.get(store)
            day = summaries.get(key := (store, date))
            # A duplicate, or another currency: ``Aggregator.add`` says so, after ``validate``.
            if (seen is None or transaction not in seen) and (day is None or day.currency == currency):
                new = day is None
                if new:
                    day = summaries[key] = StoreDay(currency)
                if (sums := _fold_lines(items, day.products, pairs)) is not None:
                    revenue, units, refund_lines, refund_units, refund_amount = sums
                    if seen is None:
                        seen = seen_by_store[store] = {}
                    seen[transaction] = position
                    day.transactions += 1
                    day.revenue += revenue
                    day.units += units
                    day.hourly[hour] += revenue
                    if refund_lines:
                        day.refund_lines += refund_lines
                        day.refund_units += refund_units
                        day.refund_amount += refund_amount
                    lines += len(items)
                    continue
                if new:
                    del summaries[key]
        try:
            txn = validate(record if text is None else exact(text, start))
            aggregator.add(position, txn)
            lines += len(txn.lines)
        except RecordRejected as rejection:
            reject(position, rejection.reason)
    return records, lines


def _accept(record: Any, text: str, start: int, end: int) -> tuple[str, str, str, int, str, list, int] | None:
    """``(store, transaction, date, hour, currency, lines, pairs)`` if ``validate`` surely accepts all but the lines.

    ``pairs`` is the number of key/value pairs the lines must hold between them for no key to repeat.
    """
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
        given, transaction = record["storeId"], record["transactionId"]
        stamp, items = record["timestamp"], record["lines"]
    except KeyError:
        return None
    if type(given) is not str:  # (a JsonNumber would find the str of its text below)
        return None
    if (store := _STORES.get(given)) is None and (store := _new_store(given)) is None:
        return None
    if (
        type(transaction) is not str
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
    except ValueError:
        return None
    pairs = text.count(":", start, end) - size - transaction.count(":") - stamp.count(":")
    return store, transaction, stamp[:10], int(stamp[11:13]), currency, items, pairs


def _fold_lines(items: list, products: dict[str, list[int]], pairs: int) -> tuple[int, int, int, int, int] | None:
    """Fold the lines into ``products``; their (revenue, units, refund lines, units, amount), or None if one is bad.

    None (one line not surely valid, or the lines not holding ``pairs`` key/value pairs between them)
    leaves ``products`` as it was.
    """
    revenue = units = refund_lines = refund_units = refund_amount = 0
    created: list[str] = []
    for index, item in enumerate(items):
        try:
            pairs -= (size := len(item))  # anything but a dict fails below (TypeError) or above
            product, quantity, price = item["productId"], item["quantity"], item["unitPrice"]
            if type(product) is not str or type(quantity) is not int:
                raise KeyError
            # product: the memo's own string, so that store-day dicts match it by identity and share it
            product, cents = _PRODUCTS[product], _AMOUNTS[price]
            if size == 3:
                discount = off = 0
            elif size == 4:
                off = _AMOUNTS[discount := item["discount"]]
            else:
                raise KeyError
            # Only the keys 0 and 1 (0 and 100 cents) equal a boolean: True must not pass for 1.
            if (cents <= 100 and (price is True or price is False)) or (
                off <= 100 and (discount is True or discount is False)
            ):
                raise KeyError
            if 0 < quantity <= _MAX_QUANTITY:
                if (net := cents * quantity - off) < 0:
                    raise KeyError
            elif -_MAX_QUANTITY <= quantity < 0:
                if (net := cents * quantity + off) > 0:
                    raise KeyError
            else:
                raise KeyError
        except (KeyError, TypeError):  # not surely valid (a key missing, a value not known, not hashable …)
            if (line := _learn(item)) is None:
                _undo(items[:index], products, created)
                return None
            product, quantity, _, _, net = line
        revenue += net
        units += quantity
        if quantity < 0:
            refund_lines += 1
            refund_units -= quantity
            refund_amount -= net
        entry = products.get(product)
        if entry is None:
            products[product] = [quantity, net]
            created.append(product)
        else:
            entry[0] += quantity
            entry[1] += net
    if pairs:  # a key repeated somewhere (see the module's docstring)
        _undo(items, products, created)
        return None
    return revenue, units, refund_lines, refund_units, refund_amount


def _undo(folded: list, products: dict[str, list[int]], created: list[str]) -> None:
    """Take the ``folded`` lines back out of ``products`` (the reference accepted each: it gives their values)."""
    for item in folded:
        product, quantity, _, _, net = check_line(item, "lines")
        entry = products[product]
        entry[0] -= quantity
        entry[1] -= net
    for product in created:  # added last, in this order: removing them restores the order too
        del products[product]


def _new_store(store: str) -> str | None:
    """``store`` if it is a valid storeId (remembered while there is room), else None."""
    if not STORE_ID.fullmatch(store):
        return None
    if len(_STORES) < MEMO_LIMIT:
        _STORES[store] = store
    return store


def _learn(item: Any) -> Line | None:
    """The reference's ``Line`` for ``item`` (its product and amounts remembered), or None if it rejects it."""
    try:
        line = check_line(item, "lines")
    except RecordRejected:
        return None
    product = line[0]
    if len(_PRODUCTS) < MEMO_LIMIT:
        product = _PRODUCTS.setdefault(product, product)
    _remember(item["unitPrice"], line[2])
    if "discount" in item:
        _remember(item["discount"], line[3])
    return line if product is line[0] else line._replace(product_id=product)


def _remember(value: Any, cents: int) -> None:
    if len(_AMOUNTS) < MEMO_LIMIT and (
        type(value) is int or (type(value) in (str, JsonNumber) and MONEY_TEXT.fullmatch(value))
    ):
        _AMOUNTS[value] = cents
