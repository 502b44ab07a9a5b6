"""Amounts in minor units and ratios as the report shows them."""

from __future__ import annotations

import pytest

from pipelines.analysis.money import money, percent


@pytest.mark.parametrize(
    ("minor", "currency", "shown"),
    [
        (0, "EUR", "0.00 EUR"),
        (5, "EUR", "0.05 EUR"),
        (50, "EUR", "0.50 EUR"),
        (100, "GBP", "1.00 GBP"),
        (99_999, "USD", "999.99 USD"),
        (100_000, "USD", "1,000.00 USD"),
        (123_456, "USD", "1,234.56 USD"),
        (123_456_789_012, "JPY", "1,234,567,890.12 JPY"),
    ],
)
def test_money_shows_two_decimals_thousands_separators_and_the_currency_after(minor, currency, shown):
    assert money(minor, currency) == shown


@pytest.mark.parametrize(
    ("minor", "shown"),
    [(-5, "-0.05 USD"), (-100, "-1.00 USD"), (-4_500, "-45.00 USD"), (-123_456, "-1,234.56 USD")],
)
def test_money_keeps_the_sign_of_a_negative_amount_before_the_digits(minor, shown):
    assert money(minor, "USD") == shown


def test_money_of_zero_has_no_sign():
    assert money(0, "USD") == "0.00 USD"
    assert money(-0, "USD") == "0.00 USD"


@pytest.mark.parametrize(
    ("ratio", "shown"),
    [
        (1.05, "+5.0 %"),
        (0.95, "-5.0 %"),
        (1.0, "+0.0 %"),
        (2.0348, "+103.5 %"),
        (3.0, "+200.0 %"),
        (0.0, "-100.0 %"),
        (0.5, "-50.0 %"),
        (1.2857, "+28.6 %"),
    ],
)
def test_percent_shows_a_ratio_as_a_signed_change_with_one_decimal(ratio, shown):
    assert percent(ratio) == shown


def test_percent_of_no_ratio_is_not_available():
    assert percent(None) == "n/a"
