"""Store rows, product totals, company and product metrics against an independent pandas computation."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipelines.analysis.categories import CategoryMap
from pipelines.analysis.metrics import ProductTotals, company_metrics, product_metrics, product_rows, store_rows
from tests.pipelines.analysis.sample import SETTING, day_rows, half_even, ratio4

TOTALS = ["revenue", "units", "transactions", "refundLines", "refundUnits", "refundAmount"]


def pandas_store_rows(rows: list[dict]) -> list[dict]:
    frame = pd.DataFrame(rows)[["storeId", "currency", *TOTALS]].sort_values("storeId")
    frame["averageBasket"] = [
        half_even(r, t) if t else 0 for r, t in zip(frame["revenue"], frame["transactions"], strict=True)
    ]
    return [
        {k: (v if isinstance(v, str) else int(v)) for k, v in record.items()} for record in frame.to_dict("records")
    ]


def pandas_product_rows(rows: list[dict]) -> list[dict]:
    frame = pd.DataFrame(rows)[["storeId", "currency", "productIds", "productUnits", "productRevenue"]]
    lines = frame.explode(["productIds", "productUnits", "productRevenue"]).dropna(subset=["productIds"])
    lines = lines.astype({"productUnits": "int64", "productRevenue": "int64"})
    sums = lines.groupby(["productIds", "currency"])[["productUnits", "productRevenue"]].sum().reset_index()
    sums = sums[(sums["productUnits"] != 0) | (sums["productRevenue"] != 0)]
    return [
        {"productId": p, "currency": c, "units": int(u), "revenue": int(r)}
        for p, c, u, r in sums.itertuples(index=False)
    ]


def test_store_rows_equal_pandas_with_half_even_baskets_and_a_store_without_transactions():
    rows = day_rows(seed=1)
    got = store_rows(iter(rows))
    assert got == pandas_store_rows(rows)
    assert [r["storeId"] for r in got] == sorted(r["storeId"] for r in rows)
    closed = next(r for r in got if r["storeId"] == "S004")
    assert (closed["transactions"], closed["averageBasket"]) == (0, 0)


def test_store_rows_round_the_average_basket_half_even():
    row = {**day_rows(seed=1)[0], "revenue": 250, "transactions": 100}
    assert store_rows([row])[0]["averageBasket"] == 2
    assert store_rows([{**row, "revenue": 350}])[0]["averageBasket"] == 4
    assert store_rows([{**row, "revenue": -250}])[0]["averageBasket"] == -2


def test_store_rows_refuse_a_store_twice_and_rows_of_two_dates():
    rows = day_rows(seed=1)
    with pytest.raises(ValueError, match=f"store {rows[0]['storeId']} appears twice"):
        store_rows([rows[0], rows[1], rows[0]])
    with pytest.raises(ValueError, match="is for 2026-11-21, the rows before it for 2026-11-20"):
        store_rows([rows[0], {**rows[1], "businessDate": "2026-11-21"}])


def test_product_totals_equal_pandas_explode_and_groupby_per_currency():
    rows = day_rows(seed=2)
    expected = pandas_product_rows(rows)
    assert product_rows(iter(rows)) == expected
    assert len({r["currency"] for r in expected}) == 3 and any(r["units"] < 0 for r in expected)


def test_product_totals_fold_one_row_at_a_time_and_drop_products_netting_to_zero():
    totals = ProductTotals()
    base = day_rows(seed=1)[0]
    totals.add(
        {**base, "currency": "EUR", "productIds": ["A", "B"], "productUnits": [2, 1], "productRevenue": [300, 50]}
    )
    totals.add({**base, "currency": "EUR", "productIds": ["A"], "productUnits": [-2], "productRevenue": [-300]})
    totals.add({**base, "currency": "USD", "productIds": ["A"], "productUnits": [1], "productRevenue": [120]})
    assert totals.rows() == [
        {"productId": "A", "currency": "USD", "units": 1, "revenue": 120},
        {"productId": "B", "currency": "EUR", "units": 1, "revenue": 50},
    ]


def test_product_totals_refuse_arrays_of_different_lengths_before_adding_anything():
    totals = ProductTotals()
    row = {**day_rows(seed=1)[0], "productIds": ["A", "B"], "productUnits": [1, 2], "productRevenue": [100]}
    with pytest.raises(ValueError, match=r"differ in length \(2, 2, 1\)"):
        totals.add(row)
    assert totals.rows() == []


def pandas_company(today: list[dict], previous: list[dict] | None, last_week: list[dict] | None, limit: int) -> dict:
    """The expected company metrics, from frames of the store rows."""
    frame = pd.DataFrame(today)
    before = {"previousDay": previous, "sameWeekdayLastWeek": last_week}
    by_currency = {}
    for currency, group in frame.groupby("currency"):
        sums = {name: int(group[name].sum()) for name in TOTALS}
        headline = {
            "stores": len(group),
            **sums,
            "averageBasket": half_even(sums["revenue"], sums["transactions"]) if sums["transactions"] else 0,
        }
        changes = {}
        for label, rows in before.items():
            other = pd.DataFrame(rows or [], columns=["storeId", "currency", *TOTALS])
            other = other[other["currency"] == currency]
            if other.empty:
                changes[label] = None
                continue
            then = {"stores": len(other), **{name: int(other[name].sum()) for name in TOTALS}}
            then["averageBasket"] = half_even(then["revenue"], then["transactions"]) if then["transactions"] else 0
            changes[label] = {
                name: {
                    "before": then[name],
                    "after": headline[name],
                    "change": headline[name] - then[name],
                    "ratio": ratio4(headline[name], then[name]),
                }
                for name in ("stores", "revenue", "transactions", "units", "averageBasket")
            }
        week = pd.DataFrame(last_week or [], columns=["storeId", "currency", "revenue"])
        week = week[week["currency"] == currency][["storeId", "revenue"]].rename(columns={"revenue": "lastWeek"})
        ordered = group.sort_values(["revenue", "storeId"], ascending=[False, True]).merge(week, "left", "storeId")
        ordered["rank"] = range(1, len(ordered) + 1)

        def entries(part: pd.DataFrame, total: int) -> list[dict]:
            return [
                {
                    "rank": int(r.rank),
                    "storeId": r.storeId,
                    "revenue": int(r.revenue),
                    "share": ratio4(r.revenue, total),
                    "vsLastWeek": None if pd.isna(r.lastWeek) else ratio4(r.revenue, r.lastWeek),
                }
                for r in part.itertuples()
            ]

        by_currency[currency] = {
            "stores": headline["stores"],
            "revenue": headline["revenue"],
            "transactions": headline["transactions"],
            "units": headline["units"],
            "averageBasket": headline["averageBasket"],
            "refunds": {"lines": sums["refundLines"], "units": sums["refundUnits"], "amount": sums["refundAmount"]},
            "changes": changes,
            "ranking": entries(ordered.head(limit), headline["revenue"]),
            "bottom": entries(ordered.tail(limit).iloc[::-1], headline["revenue"]),
        }
    return {"storeCount": len(frame), "currencies": sorted(by_currency), "byCurrency": by_currency}


@pytest.fixture
def three_days():
    today = store_rows(day_rows(seed=11, stores=40))
    # Yesterday: no GBP store reported and two EUR stores are missing; last week S001 sold in EUR, not GBP.
    previous = [r for r in store_rows(day_rows(seed=12, stores=40)) if r["currency"] != "GBP"]
    previous = [r for r in previous if r["storeId"] not in ("S000", "S003")]
    last_week = store_rows(day_rows(seed=13, stores=40))
    last_week = [{**r, "currency": "EUR"} if r["storeId"] == "S001" else r for r in last_week]
    return today, previous, last_week


@pytest.mark.parametrize("limit", [3, 10, 50])
def test_company_metrics_equal_pandas_per_currency_with_changes_and_rankings(three_days, limit):
    today, previous, last_week = three_days
    got = company_metrics(today, previous, last_week, ranking_limit=limit)
    assert got == pandas_company(today, previous, last_week, limit)
    assert json.loads(json.dumps(got, allow_nan=False)) == got


def test_company_metrics_null_a_change_when_that_day_has_no_store_in_the_currency(three_days):
    today, previous, last_week = three_days
    got = company_metrics(today, previous, last_week)
    assert got["byCurrency"]["GBP"]["changes"]["previousDay"] is None
    assert got["byCurrency"]["EUR"]["changes"]["previousDay"]["stores"]["before"] == 12
    none = company_metrics(today, None, [])
    assert all(c["changes"] == {"previousDay": None, "sameWeekdayLastWeek": None} for c in none["byCurrency"].values())


def test_company_rankings_break_revenue_ties_by_store_id_and_rank_the_bottom_in_the_full_order(three_days):
    today = three_days[0]
    eur = company_metrics(today, None, None, ranking_limit=20)["byCurrency"]["EUR"]
    tied = [e for e in eur["ranking"] if e["storeId"] in ("S000", "S003")]
    assert [e["storeId"] for e in tied] == ["S000", "S003"] and tied[1]["rank"] == tied[0]["rank"] + 1
    assert eur["bottom"][0]["rank"] == eur["stores"] == 14
    assert [e["revenue"] for e in eur["bottom"]] == sorted(e["revenue"] for e in eur["bottom"])


def test_company_vs_last_week_is_null_for_a_store_that_sold_in_another_currency(three_days):
    today, previous, last_week = three_days
    gbp = company_metrics(today, previous, last_week, ranking_limit=50)["byCurrency"]["GBP"]
    by_store = {e["storeId"]: e for e in gbp["ranking"]}
    assert by_store["S001"]["vsLastWeek"] is None
    assert by_store["S007"]["vsLastWeek"] is not None


def test_company_ratios_are_null_against_a_zero_or_negative_base():
    rows = store_rows(day_rows(seed=1, stores=6))
    usd_before = [{**r, "revenue": 0} if r["currency"] == "USD" else r for r in rows]
    usd = company_metrics(rows, usd_before, None)["byCurrency"]["USD"]
    assert usd["changes"]["previousDay"]["revenue"]["ratio"] is None
    assert usd["changes"]["previousDay"]["revenue"]["change"] == usd["revenue"]
    only_refunds = [r for r in rows if r["storeId"] == "S005"]
    assert company_metrics(only_refunds, None, None)["byCurrency"]["USD"]["ranking"][0]["share"] is None


def test_company_metrics_refuse_a_store_twice_and_a_negative_limit():
    rows = store_rows(day_rows(seed=1, stores=6))
    with pytest.raises(ValueError, match="previous day: store S000 appears twice"):
        company_metrics(rows, [rows[0], rows[0]], None)
    with pytest.raises(ValueError, match="ranking_limit"):
        company_metrics(rows, None, None, ranking_limit=-1)


def category_of(product: str) -> str:
    """The longest matching prefix of SETTING, written independently of CategoryMap."""
    matches = [(len(p), name) for name, prefixes in SETTING.items() for p in prefixes if product.startswith(p)]
    return max(matches)[1] if matches else "uncategorised"


def pandas_products(products: list[dict], limit: int) -> dict:
    frame = pd.DataFrame(products)
    frame["category"] = frame["productId"].map(category_of)

    def ranked(values: pd.DataFrame, field: str) -> tuple[list, list]:
        values = values[values[field] > 0].sort_values([field, "productId"], ascending=[False, True])
        values = values.assign(rank=range(1, len(values) + 1))

        def entries(part):
            return [
                {"rank": int(r["rank"]), "productId": r["productId"], "category": r["category"], field: int(r[field])}
                for _, r in part.iterrows()
            ]

        return entries(values.head(limit)), entries(values.tail(limit).iloc[::-1])

    units = frame.groupby(["productId", "category"], as_index=False)["units"].sum()
    top_units, bottom_units = ranked(units, "units")
    top_revenue, bottom_revenue = {}, {}
    for currency, group in frame.groupby("currency"):
        top_revenue[currency], bottom_revenue[currency] = ranked(group, "revenue")
    names = [*sorted(SETTING), "uncategorised"]
    per_category = frame.groupby("category").agg(products=("productId", "nunique"), units=("units", "sum"))
    per_category = per_category.reindex(names, fill_value=0)
    money = frame.groupby(["category", "currency"])["revenue"].sum()
    categories = {
        name: {
            "products": int(per_category.loc[name, "products"]),
            "units": int(per_category.loc[name, "units"]),
            "revenue": {c: int(v) for (cat, c), v in money.items() if cat == name},
        }
        for name in names
    }
    return {
        "productCount": int(frame["productId"].nunique()),
        "topByUnits": top_units,
        "bottomByUnits": bottom_units,
        "topByRevenue": top_revenue,
        "bottomByRevenue": bottom_revenue,
        "categories": categories,
    }


@pytest.mark.parametrize("limit", [3, 10, 100])
def test_product_metrics_equal_pandas_rankings_and_category_totals(limit):
    products = product_rows(day_rows(seed=21, stores=30))
    got = product_metrics(products, CategoryMap.from_setting(SETTING), limit=limit)
    assert got == pandas_products(products, limit)
    units = [e["units"] for e in got["topByUnits"]]
    assert len(units) > len(set(units)) or limit == 3, "the data has unit ties to break"
    assert got["categories"]["empty"] == {"products": 0, "units": 0, "revenue": {}}
    assert got["categories"]["uncategorised"]["products"] == 4


def test_product_rankings_break_ties_by_product_id_and_leave_out_products_that_did_not_sell():
    products = [
        {"productId": "DAI-002", "currency": "EUR", "units": 5, "revenue": 500},
        {"productId": "DAI-001", "currency": "EUR", "units": 3, "revenue": 300},
        {"productId": "DAI-001", "currency": "USD", "units": 2, "revenue": 250},
        {"productId": "BAK-001", "currency": "EUR", "units": -1, "revenue": -100},
        {"productId": "BAK-002", "currency": "EUR", "units": 0, "revenue": 40},
    ]
    got = product_metrics(products, CategoryMap.from_setting(SETTING), limit=2)
    assert [(e["productId"], e["units"]) for e in got["topByUnits"]] == [("DAI-001", 5), ("DAI-002", 5)]
    assert [(e["productId"], e["rank"]) for e in got["bottomByUnits"]] == [("DAI-002", 2), ("DAI-001", 1)]
    assert [e["productId"] for e in got["bottomByRevenue"]["EUR"]] == ["BAK-002", "DAI-001"]
    assert got["categories"]["bakery"] == {"products": 2, "units": -1, "revenue": {"EUR": -60}}
    assert got["productCount"] == 4


def test_product_metrics_refuse_a_product_twice_in_a_currency():
    row = {"productId": "A", "currency": "EUR", "units": 1, "revenue": 1}
    with pytest.raises(ValueError, match="product A appears twice in EUR"):
        product_metrics([row, row], CategoryMap.from_setting({}))
