"""Seeded store-day rows in the snapshot's shape, and independent reference helpers for the analysis tests."""

from __future__ import annotations

import random
from decimal import ROUND_HALF_EVEN, Decimal

DATE = "2026-11-20"
CURRENCIES = ("EUR", "GBP", "USD")
SETTING = {"bakery": ["BAK-"], "gluten-free": ["BAK-GF-"], "dairy": ["DAI-"], "frozen": ["FRZ-"], "empty": ["ZZZ-"]}
CATALOGUE = sorted(
    [f"BAK-{n:03d}" for n in range(12)]
    + [f"BAK-GF-{n:03d}" for n in range(6)]
    + [f"DAI-{n:03d}" for n in range(10)]
    + [f"FRZ-{n:03d}" for n in range(8)]
    + [f"MISC-{n:03d}" for n in range(4)]
)


def split(total: int, parts: int, rng: random.Random) -> list[int]:
    """``total`` as ``parts`` ints that sum to it."""
    cuts = sorted(rng.randint(0, parts) for _ in range(parts - 1))
    weights = [b - a for a, b in zip([0, *cuts], [*cuts, parts], strict=True)]
    shares = [total * w // parts for w in weights]
    shares[-1] += total - sum(shares)
    return shares


def store_day(store: str, currency: str, rng: random.Random, date: str = DATE, products: int = 25) -> dict:
    """One store-day row: products sold (some refunded), refunds counted, revenue by hour."""
    ids = sorted(rng.sample(CATALOGUE, products))
    units, revenue = [], []
    refund_lines = refund_units = refund_amount = 0
    for product in ids:
        price = 100 + 37 * (CATALOGUE.index(product) % 11)
        sold = rng.randint(0, 30)
        returned = rng.choice([0, 0, 0, 0, 1, 2])
        if sold == returned:
            sold += 1
        units.append(sold - returned)
        revenue.append((sold - returned) * price)
        if returned:
            refund_lines += 1
            refund_units += returned
            refund_amount += returned * price
    total = sum(revenue)
    return {
        "storeId": store,
        "businessDate": date,
        "currency": currency,
        "revenue": total,
        "units": sum(units),
        "transactions": rng.randint(5, 120),
        "refundLines": refund_lines,
        "refundUnits": refund_units,
        "refundAmount": refund_amount,
        "hourlyRevenue": split(total, 24, rng),
        "productIds": ids,
        "productUnits": units,
        "productRevenue": revenue,
    }


def closed_store(store: str, currency: str, date: str = DATE) -> dict:
    """A store that reported a day without a transaction."""
    return {
        "storeId": store,
        "businessDate": date,
        "currency": currency,
        "revenue": 0,
        "units": 0,
        "transactions": 0,
        "refundLines": 0,
        "refundUnits": 0,
        "refundAmount": 0,
        "hourlyRevenue": [0] * 24,
        "productIds": [],
        "productUnits": [],
        "productRevenue": [],
    }


def refunds_only(store: str, currency: str, date: str = DATE) -> dict:
    """A store whose day is net negative: refunds and no sale."""
    row = closed_store(store, currency, date)
    row.update(
        revenue=-4500,
        units=-3,
        transactions=2,
        refundLines=2,
        refundUnits=3,
        refundAmount=4500,
        productIds=["BAK-001", "MISC-000"],
        productUnits=[-1, -2],
        productRevenue=[-1500, -3000],
    )
    row["hourlyRevenue"][10] = -4500
    return row


def day_rows(seed: int, stores: int = 14, date: str = DATE) -> list[dict]:
    """A day: ``stores`` stores over three currencies, S003 a copy of S000 (a revenue tie in EUR),
    S004 without transactions, S005 with refunds only."""
    rng = random.Random(seed)
    rows = []
    for n in range(stores):
        store, currency = f"S{n:03d}", CURRENCIES[n % len(CURRENCIES)]
        if n == 3:
            rows.append({**rows[0], "storeId": store})
        elif n == 4:
            rows.append(closed_store(store, currency, date))
        elif n == 5:
            rows.append(refunds_only(store, currency, date))
        else:
            rows.append(store_day(store, currency, rng, date))
    rng.shuffle(rows)
    return rows


def half_even(numerator, denominator) -> int:
    """``numerator / denominator`` rounded half-even, computed with Decimal."""
    return int((Decimal(int(numerator)) / Decimal(int(denominator))).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def ratio4(numerator, denominator) -> float | None:
    """``numerator / denominator`` to 4 decimals half-even with Decimal; None unless the denominator is positive."""
    if denominator <= 0:
        return None
    quotient = Decimal(int(numerator)) / Decimal(int(denominator))
    return float(quotient.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))
