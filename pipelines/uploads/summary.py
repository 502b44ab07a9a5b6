"""A (store, business date) summary: exact sums in minor units that add and subtract.

Summaries of parts of the data add up to the summary of the whole (``add``), and an upload's
contribution can be taken back out (``subtract``), which is what keeps stored totals the sum over
the latest version of every upload (``contributions``). The average basket is derived from the
sums when read, never stored as a sum of averages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

HOURS = 24


@dataclass(slots=True)
class StoreDay:
    """Totals of one store on one business date; money in minor units of ``currency``.

    ``revenue`` is net of discounts with refunds negative; ``units`` is net units (refunds
    negative); ``refund_*`` count refund lines, their units and the money returned (both ≥ 0);
    ``hourly`` is revenue per local hour; ``products`` maps productId → [units, revenue], leaving
    out a product whose net units and revenue are both 0 (sold and refunded in full, or a
    contribution taken back out).
    """

    currency: str
    revenue: int = 0
    units: int = 0
    transactions: int = 0
    refund_lines: int = 0
    refund_units: int = 0
    refund_amount: int = 0
    hourly: list[int] = field(default_factory=lambda: [0] * HOURS)
    products: dict[str, list[int]] = field(default_factory=dict)

    @property
    def average_basket(self) -> int:
        """Revenue per transaction in minor units, rounded half-even (0 without transactions)."""
        return round(Fraction(self.revenue, self.transactions)) if self.transactions else 0

    def add(self, other: StoreDay, sign: int = 1) -> None:
        """Add ``other`` (``sign=-1``: subtract it); a product whose totals reach zero is dropped."""
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {other.currency} with {self.currency}")
        self.revenue += sign * other.revenue
        self.units += sign * other.units
        self.transactions += sign * other.transactions
        self.refund_lines += sign * other.refund_lines
        self.refund_units += sign * other.refund_units
        self.refund_amount += sign * other.refund_amount
        self.hourly = [a + sign * b for a, b in zip(self.hourly, other.hourly, strict=True)]
        products = self.products
        for product, (units, revenue) in other.products.items():
            entry = products.setdefault(product, [0, 0])
            entry[0] += sign * units
            entry[1] += sign * revenue
            if entry == [0, 0]:
                del products[product]

    def prune(self) -> None:
        """Drop products whose units and revenue are both 0."""
        for product in [p for p, (units, revenue) in self.products.items() if not units and not revenue]:
            del self.products[product]

    def is_empty(self) -> bool:
        """No transaction, no product, nothing counted."""
        return not self.transactions and not self.products and self == StoreDay(self.currency)

    def copy(self) -> StoreDay:
        """An independent copy."""
        result = StoreDay(self.currency)
        result.add(self)
        return result

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (camelCase, ints only), with the derived ``averageBasket``."""
        return {
            "currency": self.currency,
            "revenue": self.revenue,
            "units": self.units,
            "transactions": self.transactions,
            "averageBasket": self.average_basket,
            "refunds": {"lines": self.refund_lines, "units": self.refund_units, "amount": self.refund_amount},
            "hourlyRevenue": list(self.hourly),
            "products": {p: {"units": u, "revenue": r} for p, (u, r) in sorted(self.products.items())},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StoreDay:
        """The inverse of ``to_dict`` (``averageBasket`` is recomputed, not read)."""
        refunds = data["refunds"]
        return cls(
            currency=data["currency"],
            revenue=data["revenue"],
            units=data["units"],
            transactions=data["transactions"],
            refund_lines=refunds["lines"],
            refund_units=refunds["units"],
            refund_amount=refunds["amount"],
            hourly=list(data["hourlyRevenue"]),
            products={p: [v["units"], v["revenue"]] for p, v in data["products"].items()},
        )
