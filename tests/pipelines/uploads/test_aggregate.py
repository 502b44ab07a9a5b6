"""Aggregation per (store, business date) against an independent pandas computation on generated files."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pandas as pd
import pytest

from pipelines.uploads.aggregate import Aggregator, run
from pipelines.uploads.generate import CORRUPTIONS, write
from pipelines.uploads.parse import parse
from pipelines.uploads.summary import StoreDay
from pipelines.uploads.validate import RecordRejected, validate


def generated(ndjson: bool = False, bad_ratio: float = 0.0, lines: int = 6000, seed: int = 7):
    out = io.BytesIO()
    info = write(out, stores=4, days=3, lines=lines, ndjson=ndjson, bad_ratio=bad_ratio, seed=seed)
    return out.getvalue(), info


def cents(value) -> int:
    return int(Decimal(str(value)) * 100)


def pandas_summaries(body: bytes, ndjson: bool, skip: set[int] = frozenset()) -> dict:
    """The expected summaries, computed with pandas from the raw file, independently of the pipeline."""
    if ndjson:
        records = [json.loads(line) for n, line in enumerate(body.splitlines(), 1) if line.strip() and n not in skip]
    else:
        records = [r for i, r in enumerate(json.loads(body)["transactions"]) if i not in skip]
    for record in records:
        record.setdefault("currency", "USD")
    lines = pd.json_normalize(records, "lines", ["storeId", "transactionId", "timestamp", "currency"])
    if "discount" not in lines:
        lines["discount"] = 0
    lines["price"] = lines["unitPrice"].map(cents)
    lines["disc"] = lines["discount"].fillna(0).map(cents)
    sign = lines["quantity"].where(lines["quantity"] > 0, -1).clip(upper=1)
    lines["net"] = sign * (lines["quantity"].abs() * lines["price"] - lines["disc"])
    lines["date"] = lines["timestamp"].str[:10]
    lines["hour"] = lines["timestamp"].str[11:13].astype(int)
    refund = lines[lines["quantity"] < 0]
    expected = {}
    for (store, day), group in lines.groupby(["storeId", "date"]):
        refunds = refund[(refund["storeId"] == store) & (refund["date"] == day)]
        revenue, count = int(group["net"].sum()), group["transactionId"].nunique()
        hourly = group.groupby("hour")["net"].sum()
        products = group.groupby("productId")[["quantity", "net"]].sum()
        expected[(store, day)] = {
            "currency": group["currency"].iloc[0],
            "revenue": revenue,
            "units": int(group["quantity"].sum()),
            "transactions": count,
            "averageBasket": int((Decimal(revenue) / count).quantize(Decimal(1), rounding="ROUND_HALF_EVEN")),
            "refunds": {
                "lines": len(refunds),
                "units": int(-refunds["quantity"].sum()),
                "amount": int(-refunds["net"].sum()),
            },
            "hourlyRevenue": [int(hourly.get(h, 0)) for h in range(24)],
            "products": {
                p: {"units": int(row["quantity"]), "revenue": int(row["net"])}
                for p, row in products.iterrows()
                if (row["quantity"], row["net"]) != (0, 0)
            },
        }
    return expected


@pytest.mark.parametrize("ndjson", [False, True])
def test_summaries_equal_an_independent_pandas_computation(ndjson):
    body, info = generated(ndjson)
    outcome = run(parse(io.BytesIO(body), "u.ndjson" if ndjson else "u.json"))
    assert (outcome.records, outcome.rejected, outcome.lines) == (info.transactions, 0, info.lines)
    got = {key: day.to_dict() for key, day in outcome.summaries.items()}
    assert got == pandas_summaries(body, ndjson)
    assert len(got) == 12 and any(d["refunds"]["lines"] for d in got.values())


@pytest.mark.parametrize("ndjson", [False, True])
def test_bad_records_are_rejected_at_their_positions_and_the_rest_still_sum(ndjson):
    body, info = generated(ndjson, bad_ratio=0.05, lines=8000, seed=3)
    assert set(info.bad.values()) == set(CORRUPTIONS), "every corruption kind is exercised"
    outcome = run(parse(io.BytesIO(body), "u.jsonl" if ndjson else "u.json"))
    assert {position for position, _ in outcome.rejects} == set(info.bad)
    assert outcome.rejected == len(info.bad) and 0.03 < outcome.reject_ratio < 0.07
    for position, reason in outcome.rejects:
        if info.bad[position] == "duplicate_id":
            assert reason.startswith("transactionId: duplicate of the transaction at position ")
    got = {key: day.to_dict() for key, day in outcome.summaries.items()}
    assert got == pandas_summaries(body, ndjson, skip=set(info.bad))


def test_the_generator_is_reproducible_and_seeded():
    assert generated(seed=5)[0] == generated(seed=5)[0] != generated(seed=6)[0]


def test_the_generator_command_line_writes_a_file(tmp_path, capsys):
    from pipelines.uploads.generate import main

    path = tmp_path / "s.ndjson"
    assert main(["--stores", "2", "--days", "1", "--lines", "50", "--out", str(path), "--ndjson", "--seed", "2"]) == 0
    assert "50 line items" in capsys.readouterr().out
    assert run(parse(path.open("rb"), path.name)).lines == 50


TXN = {"storeId": "S1", "transactionId": "T1", "timestamp": "2026-11-20T10:15:00Z", "lines": []}


def txn(tid: str, *lines, store="S1", stamp="2026-11-20T10:15:00Z", currency="USD"):
    items = [{"productId": p, "quantity": q, "unitPrice": price} for p, q, price in lines]
    return validate(
        {**TXN, "transactionId": tid, "storeId": store, "timestamp": stamp, "currency": currency, "lines": items}
    )


def test_a_repeated_transaction_id_is_rejected_and_only_the_first_counts():
    agg = Aggregator()
    agg.add(0, txn("T1", ("A", 1, "1.00")))
    with pytest.raises(RecordRejected, match="duplicate of the transaction at position 0"):
        agg.add(5, txn("T1", ("A", 9, "9.00")))
    agg.add(6, txn("T1", ("A", 2, "1.00"), store="S2"))  # the same id at another store is another transaction
    assert agg.summaries[("S1", "2026-11-20")].revenue == 100 and agg.summaries[("S2", "2026-11-20")].revenue == 200


def test_another_currency_for_a_store_day_is_rejected_but_another_day_may_differ():
    agg = Aggregator()
    agg.add(0, txn("T1", ("A", 1, "1.00"), currency="EUR"))
    with pytest.raises(RecordRejected, match="currency: USD, but store S1 already sold in EUR on 2026-11-20"):
        agg.add(1, txn("T2", ("A", 1, "1.00")))
    agg.add(2, txn("T2", ("A", 1, "1.00"), stamp="2026-11-21T00:00:00+01:00"))
    assert agg.summaries[("S1", "2026-11-20")].transactions == 1


def test_refunds_count_negative_in_revenue_and_positive_in_refunds():
    agg = Aggregator()
    agg.add(0, txn("T1", ("A", 3, "2.00"), ("B", -1, "5.00"), stamp="2026-11-20T23:59:59-08:00"))
    agg.add(1, txn("T2", ("B", -2, "5.00"), stamp="2026-11-20T00:00:00+14:00"))
    day = agg.summaries[("S1", "2026-11-20")].to_dict()
    assert (day["revenue"], day["units"], day["transactions"]) == (600 - 500 - 1000, 3 - 1 - 2, 2)
    assert day["refunds"] == {"lines": 2, "units": 3, "amount": 1500}
    assert day["hourlyRevenue"][23] == 100 and day["hourlyRevenue"][0] == -1000
    assert day["products"] == {"A": {"units": 3, "revenue": 600}, "B": {"units": -3, "revenue": -1500}}
    assert day["averageBasket"] == -450


@pytest.mark.parametrize(
    ("revenue", "transactions", "basket"),
    [(5, 2, 2), (7, 2, 4), (-5, 2, -2), (-7, 2, -4), (10, 3, 3), (20, 3, 7), (0, 0, 0)],
)
def test_the_average_basket_is_rounded_half_even(revenue, transactions, basket):
    assert StoreDay("USD", revenue=revenue, transactions=transactions).average_basket == basket


def test_summaries_round_trip_through_their_json_form():
    body, _ = generated(lines=500)
    for day in run(parse(io.BytesIO(body), "u.json")).summaries.values():
        again = StoreDay.from_dict(json.loads(json.dumps(day.to_dict())))
        assert again == day
