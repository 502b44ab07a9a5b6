"""Idempotent contributions: same version twice, a replaced version, two files summed, refunds, conflicts."""

from __future__ import annotations

import io
import random

import pytest

from pipelines.uploads.aggregate import run
from pipelines.uploads.contributions import (
    Contribution,
    Source,
    apply,
    plan,
    sequencer_before,
)
from pipelines.uploads.errors import ContributionConflictError, CurrencyConflictError
from pipelines.uploads.generate import write
from pipelines.uploads.layout import (
    ITEM_LIMIT_BYTES,
    MAX_PRODUCTS_PER_PART,
    PRODUCT_PARTS,
    ProductPartFullError,
    item_size,
    product_part,
    split_products,
)
from pipelines.uploads.parse import parse
from pipelines.uploads.summary import StoreDay

A = Source("uploads-bucket", "uploads/a.json")
B = Source("uploads-bucket", "uploads/b.json")


def summaries(seed: int, lines: int = 3000) -> dict:
    out = io.BytesIO()
    write(out, stores=3, days=2, lines=lines, seed=seed)
    return run(parse(io.BytesIO(out.getvalue()), "u.json")).summaries


class Table:
    """The stored totals, applying each planned change as the conditional write would."""

    def __init__(self):
        self.totals: dict = {}
        self.stored: dict[Source, Contribution] = {}

    def process(self, contribution: Contribution) -> str:
        result = plan(self.stored.get(contribution.source), contribution)
        for change in result.changes:
            after = apply(self.totals.get(change.key), change)
            if after is None:
                self.totals.pop(change.key, None)
            else:
                self.totals[change.key] = after
        if result.outcome in ("new", "replaced"):
            self.stored[contribution.source] = contribution
        return result.outcome

    def dicts(self) -> dict:
        return {key: total.summary.to_dict() for key, total in self.totals.items()}


def expected(*parts: dict) -> dict:
    """The plain sum of partial summaries, computed directly."""
    result: dict = {}
    for part in parts:
        for key, day in part.items():
            result.setdefault(key, StoreDay(day.currency)).add(day)
    return {key: day.to_dict() for key, day in result.items()}


def test_a_first_upload_becomes_the_totals():
    table = Table()
    assert table.process(Contribution(A, "v1", summaries(1))) == "new"
    assert table.dicts() == expected(summaries(1))
    assert all(total.contributors == {A.id: "v1"} for total in table.totals.values())


def test_the_same_version_twice_changes_nothing():
    table = Table()
    table.process(Contribution(A, "v1", summaries(1)))
    before = table.dicts()
    assert table.process(Contribution(A, "v1", summaries(1))) == "unchanged"
    assert table.dicts() == before


def test_a_replayed_change_is_a_no_op_after_a_crash_half_way():
    table = Table()
    changes = plan(None, Contribution(A, "v1", summaries(1))).changes
    for change in changes[:2]:  # crashed after two store-days
        table.totals[change.key] = apply(table.totals.get(change.key), change)
    for change in changes:  # the rerun plans the same changes and applies them all
        table.totals[change.key] = apply(table.totals.get(change.key), change)
    assert table.dicts() == expected(summaries(1))


def test_a_corrected_upload_of_the_same_key_replaces_its_earlier_contribution():
    table = Table()
    table.process(Contribution(A, "v1", summaries(1)))
    table.process(Contribution(B, "b1", summaries(3)))
    assert table.process(Contribution(A, "v2", summaries(2, lines=2000))) == "replaced"
    assert table.dicts() == expected(summaries(2, lines=2000), summaries(3))


def test_a_store_day_only_the_old_version_had_is_removed():
    table = Table()
    old = summaries(1)
    dropped = sorted(old)[0]
    new = {key: day for key, day in old.items() if key != dropped}
    table.process(Contribution(A, "v1", old))
    table.process(Contribution(A, "v2", new))
    assert dropped not in table.totals and table.dicts() == expected(new)


def test_two_different_files_for_the_same_store_days_add_up():
    table = Table()
    table.process(Contribution(A, "v1", summaries(1)))
    table.process(Contribution(B, "v1", summaries(2)))
    assert table.dicts() == expected(summaries(1), summaries(2))
    assert all(set(total.contributors) == {A.id, B.id} for total in table.totals.values())


def test_refunds_are_subtracted_and_restored_exactly():
    sale = StoreDay("USD", revenue=1000, units=2, transactions=1, products={"P": [2, 1000]})
    sale.hourly[10] = 1000
    refund = StoreDay("USD", revenue=-400, units=-1, transactions=1, refund_lines=1, refund_units=1, refund_amount=400)
    refund.products = {"P": [-1, -400]}
    refund.hourly[11] = -400
    table = Table()
    table.process(Contribution(A, "v1", {("S1", "2026-11-20"): sale}))
    table.process(Contribution(B, "v1", {("S1", "2026-11-20"): refund}))
    day = table.dicts()[("S1", "2026-11-20")]
    assert (day["revenue"], day["units"], day["transactions"], day["averageBasket"]) == (600, 1, 2, 300)
    assert day["refunds"] == {"lines": 1, "units": 1, "amount": 400} and day["products"] == {
        "P": {"units": 1, "revenue": 600}
    }
    # the refund file is corrected to refund nothing for that day: its contribution leaves entirely
    table.process(Contribution(B, "v2", {}))
    assert table.dicts()[("S1", "2026-11-20")] == sale.to_dict()
    assert table.totals[("S1", "2026-11-20")].contributors == {A.id: "v1"}


def test_the_last_contributor_leaving_deletes_the_store_day():
    table = Table()
    table.process(Contribution(A, "v1", summaries(1)))
    table.process(Contribution(A, "v2", {}))
    assert table.totals == {}


def test_an_older_version_delivered_late_is_stale():
    table = Table()
    table.process(Contribution(A, "v2", summaries(2), sequencer="0062E99A88DC407460"))
    assert table.process(Contribution(A, "v1", summaries(1), sequencer="0062E99A88DC407450")) == "stale"
    assert table.dicts() == expected(summaries(2))


@pytest.mark.parametrize(
    ("first", "second", "before"),
    [("0A", "0B", True), ("0B", "0A", False), ("0A", "0A", False), ("0A", "0A01", True), ("0B", "0A01", False)],
)
def test_sequencers_compare_as_right_padded_hex(first, second, before):
    assert sequencer_before(first, second) is before


def test_a_concurrent_writer_makes_the_conditional_write_fail():
    first = plan(None, Contribution(A, "v1", summaries(1)))
    racing = plan(None, Contribution(A, "v2", summaries(2)))  # planned before v1 was stored
    key = first.changes[0].key
    total = apply(None, first.changes[0])
    change = next(c for c in racing.changes if c.key == key)
    with pytest.raises(ContributionConflictError, match="another execution wrote first"):
        apply(total, change)


def test_a_store_day_cannot_mix_currencies_across_uploads():
    usd, eur = StoreDay("USD", revenue=100, transactions=1), StoreDay("EUR", revenue=100, transactions=1)
    table = Table()
    table.process(Contribution(A, "v1", {("S1", "2026-11-20"): usd}))
    with pytest.raises(CurrencyConflictError, match=r"EUR cannot join the USD of s3://uploads-bucket/uploads/a\.json"):
        table.process(Contribution(B, "v1", {("S1", "2026-11-20"): eur}))
    # the only contributor may correct its own currency
    table.process(Contribution(A, "v2", {("S1", "2026-11-20"): eur}))
    assert table.dicts()[("S1", "2026-11-20")]["currency"] == "EUR"


def test_different_sources_never_replace_each_other():
    with pytest.raises(ValueError, match="add up, not replace"):
        plan(Contribution(A, "v1", {}), Contribution(B, "v2", {}))


def test_ten_thousand_products_with_the_longest_ids_and_numbers_fit_under_the_item_limit():
    rng = random.Random(4)
    products = {f"{n:05d}".ljust(64, "x"): [rng.choice((1, -1)) * 10**20, -(10**37)] for n in range(10_000)}
    parts = split_products(products)
    assert len(parts) == PRODUCT_PARTS and sum(map(len, parts.values())) == 10_000
    for number, part in parts.items():
        item = {
            "pk": "S" * 64 + "#2026-11-20",
            "sk": f"products#{number}",
            "gsiDate": "2026-11-20",
            "gsiStore": "S" * 64 + f"#products#{number}",
            "products": part,
        }
        assert item_size(item) < ITEM_LIMIT_BYTES * 0.45, (number, item_size(item))
    worst = {f"{n:05d}".ljust(64, "x"): [10**37, 10**37] for n in range(MAX_PRODUCTS_PER_PART)}
    assert item_size({"pk": "S" * 64 + "#2026-11-20", "sk": "products#0", "products": worst}) < ITEM_LIMIT_BYTES


def test_a_part_past_its_ceiling_raises_instead_of_building_an_oversized_item():
    same_part = [p for p in (f"P{n}" for n in range(60_000)) if product_part(p) == 0][: MAX_PRODUCTS_PER_PART + 1]
    with pytest.raises(ProductPartFullError):
        split_products({product: [1, 1] for product in same_part})


def test_product_parts_are_stable_and_spread():
    assert product_part("P00042") == product_part("P00042")
    counts = [0] * PRODUCT_PARTS
    for n in range(8000):
        counts[product_part(f"P{n:05d}")] += 1
    assert min(counts) > 850 and max(counts) < 1150


@pytest.mark.parametrize(
    ("value", "size"), [("abc", 3), ("é", 2), (0, 2), (12, 2), (123, 3), (10**37, 2), (-(10**37) - 1, 21)]
)
def test_item_sizes_follow_dynamodbs_rules(value, size):
    assert item_size(value) == size
