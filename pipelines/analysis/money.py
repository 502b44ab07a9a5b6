"""Amounts in minor units as people read them (every currency stepworks accepts has 2 decimals)."""

from __future__ import annotations


def money(minor: int, currency: str) -> str:
    """``123456, "USD"`` → ``1,234.56 USD``; negative amounts keep their sign."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(int(minor)), 100)
    return f"{sign}{whole:,}.{cents:02d} {currency}"


def percent(ratio: float | None) -> str:
    """A ratio after/before as a change: ``1.05`` → ``+5.0 %``; ``None`` → ``n/a``."""
    if ratio is None:
        return "n/a"
    return f"{(ratio - 1) * 100:+.1f} %"
