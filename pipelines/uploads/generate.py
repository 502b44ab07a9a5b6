"""Realistic, reproducible sample uploads (tests, the demo, the benchmark).

    python -m pipelines.uploads.generate --stores 5 --days 2 --lines 1000 --out sales.json \\
        [--ndjson | --indent 2] [--bad-ratio 0.005] [--seed N] [--start 2026-11-20] [--products 2000]

Stores each have a currency and a UTC offset (timestamps are the store's local time); a
catalogue of products has fixed prices; a transaction has 1–9 lines, some discounted, about 4 %
of lines refunds. Amounts alternate between JSON numbers and decimal strings, both allowed.
``--bad-ratio`` corrupts that share of transactions, one rule broken each (``CORRUPTIONS``);
``write`` returns which positions are bad and how, so a test knows what must be rejected.
The same arguments and seed give the same bytes.

A JSON document is written compact (one transaction per line, ~87 bytes per line item) or, with
``indent``, pretty-printed as ``json.dump(..., indent=2)`` would (and as many POS exporters write
it): the same records and positions, ~1.7 times the bytes, all of it insignificant whitespace.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, BinaryIO

START_DATE = date(2026, 11, 20)
CATALOGUE = 2000  # products P00000 … P01999
_OFFSETS = ("-08:00", "-05:00", "Z", "+01:00", "+05:30", "+09:00", "-03:00", "+02:00")
_CURRENCIES = ("USD", "USD", "EUR", "GBP", "USD", "CAD")


def _bad_missing(txn: dict, rng: random.Random) -> None:
    del txn[rng.choice(("storeId", "transactionId", "timestamp", "lines"))]


def _bad_unknown_key(txn: dict, rng: random.Random) -> None:
    txn["storeID"] = txn.pop("storeId")


def _bad_quantity(txn: dict, rng: random.Random) -> None:
    txn["lines"][0]["quantity"] = rng.choice(("2", 0, 1.5, None, True))


def _bad_decimals(txn: dict, rng: random.Random) -> None:
    txn["lines"][0]["unitPrice"] = rng.choice(("3.499", 0.125))


def _bad_negative_price(txn: dict, rng: random.Random) -> None:
    txn["lines"][-1]["unitPrice"] = "-1.00"


def _bad_discount(txn: dict, rng: random.Random) -> None:
    line = txn["lines"][0]
    line["unitPrice"], line["discount"] = "1.00", "1000.00"


def _bad_timestamp(txn: dict, rng: random.Random) -> None:
    txn["timestamp"] = rng.choice((txn["timestamp"][:19], "2026-02-30T10:00:00Z", "yesterday"))


def _bad_surrogate(txn: dict, rng: random.Random) -> None:
    txn["lines"][0]["productId"] = "P\ud800"


def _bad_currency(txn: dict, rng: random.Random) -> None:
    txn["currency"] = rng.choice(("XXX", "usd", 840))


def _bad_lines(txn: dict, rng: random.Random) -> None:
    txn["lines"] = rng.choice(([], {"productId": "P1"}, "none"))


CORRUPTIONS = {
    "missing_field": _bad_missing,
    "unknown_key": _bad_unknown_key,
    "bad_quantity": _bad_quantity,
    "too_many_decimals": _bad_decimals,
    "negative_price": _bad_negative_price,
    "excess_discount": _bad_discount,
    "bad_timestamp": _bad_timestamp,
    "lone_surrogate": _bad_surrogate,
    "bad_currency": _bad_currency,
    "bad_lines": _bad_lines,
    "duplicate_id": None,  # the transactionId of an earlier transaction of the same store
}


@dataclass
class Generated:
    """What ``write`` produced: positions (index or line number) of bad records → corruption kind."""

    transactions: int = 0
    lines: int = 0
    bad: dict[int, str] = field(default_factory=dict)


def _money(cents: int, as_text: bool) -> str | float:
    # cents / 100 is the double nearest the 2-decimal value, and json writes its shortest repr: "3.49".
    return f"{cents // 100}.{cents % 100:02d}" if as_text else cents / 100


def transactions(
    stores: int,
    days: int,
    lines: int,
    seed: int = 1,
    bad_ratio: float = 0.0,
    start: date = START_DATE,
    products: int = CATALOGUE,
) -> Iterator[tuple[dict[str, Any], str | None]]:
    """``(transaction, corruption kind or None)`` until about ``lines`` line items are made, dated
    ``start`` … ``start + days - 1``."""
    rng = random.Random(seed)
    store_ids = [f"S{n:03d}" for n in range(1, stores + 1)]
    offsets = {s: _OFFSETS[i % len(_OFFSETS)] for i, s in enumerate(store_ids)}
    currencies = {s: _CURRENCIES[i % len(_CURRENCIES)] for i, s in enumerate(store_ids)}
    catalogue = [
        (f"P{n:05d}", rng.choice((99, 149, 249, 349, 499, 799, 1299, 1999, 4999, 12999))) for n in range(products)
    ]
    # A few best sellers, a long tail. Cumulative once: ``choices`` would sum the weights again on
    # every call (O(catalogue) per transaction); the draws, and so the bytes, are the same.
    cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(catalogue))))
    issued: dict[str, list[str]] = {s: [] for s in store_ids}
    made, number = 0, 0
    kinds = list(CORRUPTIONS)
    while made < lines:
        number += 1
        store = rng.choice(store_ids)
        day = start + timedelta(days=rng.randrange(days))
        hour = min(23, max(0, int(rng.gauss(14, 3.5))))
        stamp = f"{day.isoformat()}T{hour:02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}{offsets[store]}"
        items = []
        for product, price in rng.choices(catalogue, cum_weights=cum_weights, k=min(lines - made, rng.randint(1, 9))):
            quantity = rng.choice((1, 1, 1, 1, 2, 2, 3, 6))
            if rng.random() < 0.04:
                quantity = -quantity
            item: dict[str, Any] = {"productId": product, "quantity": quantity, "unitPrice": _money(price, number % 2)}
            if rng.random() < 0.15:
                item["discount"] = _money(abs(quantity) * price * rng.choice((5, 10, 20, 50)) // 100, number % 3 == 0)
            items.append(item)
        made += len(items)
        txn: dict[str, Any] = {"storeId": store, "transactionId": f"T{number:08d}", "timestamp": stamp}
        if currencies[store] != "USD" or number % 4:
            txn["currency"] = currencies[store]
        txn["lines"] = items
        kind = None
        if bad_ratio and rng.random() < bad_ratio:
            kind = rng.choice(kinds)
            if kind == "duplicate_id":
                if issued[store]:
                    txn["transactionId"] = rng.choice(issued[store])
                else:
                    kind = None
            else:
                CORRUPTIONS[kind](txn, rng)
        if kind is None:
            issued[store].append(txn["transactionId"])
        yield txn, kind


def write(
    out: BinaryIO,
    stores: int,
    days: int,
    lines: int,
    *,
    ndjson: bool = False,
    bad_ratio: float = 0.0,
    seed: int = 1,
    start: date = START_DATE,
    products: int = CATALOGUE,
    indent: int | None = None,
) -> Generated:
    """Write a sample upload to ``out`` (JSON, or NDJSON with ``ndjson``); what it holds and which records are bad.

    ``indent``: pretty-print the JSON document with that many spaces per level (not for NDJSON,
    whose records are one line each).
    """
    if ndjson and indent:
        raise ValueError("an NDJSON record is one line: it cannot be indented")
    info = Generated()
    # Each transaction sits two levels deep: {"transactions": [ <here> ]}.
    margin = b"\n" + b" " * (2 * indent) if indent else b""
    if not ndjson:
        out.write(b'{\n%s"transactions": [\n' % (b" " * indent) if indent else b'{"transactions": [\n')
    for index, (txn, kind) in enumerate(transactions(stores, days, lines, seed, bad_ratio, start, products)):
        text = json.dumps(txn, ensure_ascii=False, indent=indent).encode("utf-8", "surrogatepass")
        if kind == "lone_surrogate":  # keep the surrogate as a JSON escape, as a broken exporter would write it
            text = json.dumps(txn, indent=indent).encode("ascii")
        if indent:  # (a JSON string holds no raw newline: every one here is between tokens)
            text = margin[1:] + text.replace(b"\n", margin)
        position = index + 1 if ndjson else index
        if ndjson:
            out.write(text + b"\n")
        else:
            out.write((b",\n" if index else b"") + text)
        if kind:
            info.bad[position] = kind
        info.transactions += 1
        info.lines += len(txn["lines"]) if isinstance(txn.get("lines"), list) else 0
    if not ndjson:
        out.write(b"\n%s]\n}\n" % (b" " * indent) if indent else b"\n]}\n")
    return info


def write_spike(
    out: BinaryIO,
    stores: int,
    days: int,
    lines: int,
    *,
    store: str,
    day: date,
    factor: int,
    seed: int = 1,
    start: date = START_DATE,
    products: int = CATALOGUE,
) -> int:
    """A second upload for ``store`` on ``day``: its transactions of the file ``write`` makes with the
    same arguments, ``factor - 1`` more times under new ids, so that day's summary is ``factor``
    times its usual (a planted anomaly). How many transactions it holds."""
    own = [
        txn
        for txn, kind in transactions(stores, days, lines, seed, 0.0, start, products)
        if kind is None and txn["storeId"] == store and txn["timestamp"].startswith(day.isoformat())
    ]
    copies = [{**txn, "transactionId": f"X{n}-{txn['transactionId']}"} for n in range(1, factor) for txn in own]
    out.write(json.dumps({"transactions": copies}).encode())
    return len(copies)


def main(argv: list[str] | None = None) -> int:
    """The command line: write one sample upload and say what is in it."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.uploads.generate", description=__doc__.split("\n")[0])
    parser.add_argument("--stores", type=int, default=5)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--lines", type=int, default=1000, help="line items in the file (about)")
    parser.add_argument("--out", required=True, help="the file to write")
    parser.add_argument("--ndjson", action="store_true", help="one transaction per line instead of one document")
    parser.add_argument("--indent", type=int, help="pretty-print the JSON document, this many spaces per level")
    parser.add_argument("--bad-ratio", type=float, default=0.0, help="share of transactions made invalid")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--products", type=int, default=CATALOGUE, help="size of the catalogue")
    parser.add_argument(
        "--start", type=date.fromisoformat, default=START_DATE, help=f"first business date (default {START_DATE})"
    )
    args = parser.parse_args(argv)
    if min(args.stores, args.days, args.lines, args.products) < 1 or not 0 <= args.bad_ratio <= 1:
        parser.error("--stores, --days, --lines and --products must be at least 1, --bad-ratio within 0..1")
    if args.indent is not None and (args.ndjson or not 1 <= args.indent <= 8):
        parser.error("--indent takes 1 to 8 spaces, and only for a JSON document (not with --ndjson)")
    with open(args.out, "wb") as out:
        info = write(
            out,
            args.stores,
            args.days,
            args.lines,
            ndjson=args.ndjson,
            bad_ratio=args.bad_ratio,
            seed=args.seed,
            start=args.start,
            products=args.products,
            indent=args.indent,
        )
    print(f"{args.out}: {info.transactions:,} transactions, {info.lines:,} line items, {len(info.bad):,} bad records")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
