"""Company trends and store movers against pandas rolling windows and sums, gaps in the series included."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from fractions import Fraction

import pandas as pd
import pytest

from pipelines.analysis.trends import company_trends, store_movers
from tests.pipelines.analysis.sample import ratio4

AS_OF = "2026-11-20"
STORES = {"S01": "EUR", "S02": "EUR", "S03": "GBP", "S04": "USD", "S05": "USD", "S06": "USD"}


def day(offset: int) -> str:
    """The ISO date ``offset`` days before AS_OF."""
    return (date.fromisoformat(AS_OF) - timedelta(days=offset)).isoformat()


def row(store: str, currency: str, revenue: int) -> dict:
    return {"storeId": store, "currency": currency, "revenue": revenue, "units": 1, "transactions": 1}


@pytest.fixture
def history() -> dict[str, list[dict]]:
    """40 days of store rows with gaps: two days missing outright, GBP absent on some days, CHF in the week
    before but not the last one, S02 switching to GBP in the last week, S06 closed all of the week before."""
    rng = random.Random(4)
    daily = {}
    for offset in range(40):
        if offset in (3, 17):
            continue
        rows = []
        for store, currency in STORES.items():
            if currency == "GBP" and offset % 5 == 0:
                continue
            if store == "S06" and 7 <= offset < 14:
                continue
            if store == "S02" and offset < 7:
                currency = "GBP"
            rows.append(row(store, currency, rng.randint(-2_000, 90_000)))
        if 10 <= offset < 25:
            rows.append(row("S07", "CHF", rng.randint(10_000, 20_000)))
        daily[day(offset)] = rows
    daily[day(45)] = [row("S01", "JPY", 10**9)]  # outside the window: ignored
    return daily


def frame_of(daily: dict[str, list[dict]]) -> pd.DataFrame:
    records = [{**r, "date": d} for d, rows in daily.items() for r in rows]
    return pd.DataFrame(records)


def test_company_trends_equal_pandas_rolling_means_and_weekly_sums(history):
    got = company_trends(history, AS_OF)
    frame = frame_of(history)
    index = pd.date_range(end=AS_OF, periods=28, freq="D").strftime("%Y-%m-%d")
    revenue = frame.pivot_table(index="date", columns="currency", values="revenue", aggfunc="sum").reindex(index)
    revenue = revenue.dropna(axis=1, how="all")
    assert got["currencies"] == sorted(revenue.columns) == ["CHF", "EUR", "GBP", "USD"]
    for currency in revenue.columns:
        series = revenue[currency]
        mine = got["byCurrency"][currency]
        assert [d["revenue"] for d in mine["daily"]] == [None if pd.isna(v) else int(v) for v in series]
        assert [d["date"] for d in mine["daily"]] == list(index)
        assert mine["missingDates"] == [d for d, v in series.items() if pd.isna(v)]
        assert mine["daysWithData"] == int(series.count())
        for window, name in ((7, "movingAverage7"), (28, "movingAverage28")):
            total = series.rolling(window, min_periods=1).sum().iloc[-1]
            count = series.rolling(window, min_periods=1).count().iloc[-1]
            assert mine[name] == (None if pd.isna(total) else round(Fraction(int(total), int(count))))
        weekly = series.rolling(7, min_periods=1).sum()
        counts = series.rolling(7).count()
        before, after = weekly.iloc[-8], weekly.iloc[-1]
        if pd.isna(before) or pd.isna(after):
            assert mine["weekOverWeek"] is None and mine["direction"] is None
        else:
            assert mine["weekOverWeek"] == {
                "before": int(before),
                "after": int(after),
                "change": int(after - before),
                "ratio": ratio4(after, before),
                "daysBefore": int(counts.iloc[-8]),
                "daysAfter": int(counts.iloc[-1]),
            }
    assert json.loads(json.dumps(got, allow_nan=False)) == got


def test_gaps_are_reported_not_invented(history):
    got = company_trends(history, AS_OF)
    eur, gbp, chf = (got["byCurrency"][c] for c in ("EUR", "GBP", "CHF"))
    assert eur["missingDates"] == [day(17), day(3)] and eur["daysWithData"] == 26
    # S03 (GBP) skips every fifth day; S02 sells in GBP in the last week, so only the older ones are gaps.
    assert gbp["missingDates"] == [day(25), day(20), day(17), day(15), day(10), day(3)]
    assert gbp["daily"][-1]["revenue"] == next(r["revenue"] for r in history[AS_OF] if r["storeId"] == "S02")
    assert chf["weekOverWeek"] is None and chf["movingAverage7"] is None and chf["direction"] is None
    assert chf["movingAverage28"] is not None and chf["daysWithData"] == 14
    assert got["from"] == day(27)


def test_a_currency_without_data_in_the_window_is_not_reported(history):
    assert "JPY" not in company_trends(history, AS_OF)["currencies"]
    assert company_trends({}, AS_OF) == {"asOf": AS_OF, "from": day(27), "currencies": [], "byCurrency": {}}


@pytest.mark.parametrize(
    ("after", "direction"),
    [(10_200, "flat"), (10_201, "up"), (9_800, "flat"), (9_799, "down"), (10_000, "flat")],
)
def test_direction_is_flat_within_two_percent_of_the_earlier_week(after, direction):
    daily = {day(10): [row("S1", "EUR", 10_000)], day(2): [row("S1", "EUR", after)]}
    trend = company_trends(daily, AS_OF)["byCurrency"]["EUR"]
    assert trend["direction"] == direction
    assert (trend["weekOverWeek"]["daysBefore"], trend["weekOverWeek"]["daysAfter"]) == (1, 1)


def test_direction_of_a_net_negative_earlier_week_uses_its_absolute_value_for_the_band():
    daily = {day(10): [row("S1", "EUR", -1_000)], day(2): [row("S1", "EUR", -990)]}
    trend = company_trends(daily, AS_OF)["byCurrency"]["EUR"]
    assert (trend["direction"], trend["weekOverWeek"]["ratio"]) == ("flat", None)
    daily[day(2)] = [row("S1", "EUR", -900)]
    assert company_trends(daily, AS_OF)["byCurrency"]["EUR"]["direction"] == "up"


def test_moving_averages_round_half_even_to_minor_units():
    daily = {day(0): [row("S1", "EUR", 5)], day(1): [row("S1", "EUR", 0)]}
    assert company_trends(daily, AS_OF)["byCurrency"]["EUR"]["movingAverage7"] == 2
    daily[day(1)] = [row("S1", "EUR", 2)]
    assert company_trends(daily, AS_OF)["byCurrency"]["EUR"]["movingAverage7"] == 4


@pytest.mark.parametrize("bad", ["2026-11-31", "20261120", "2026-11-20T00:00", "", None])
def test_as_of_must_be_an_iso_date(bad):
    with pytest.raises(ValueError, match="as_of must be an ISO date YYYY-MM-DD"):
        company_trends({}, bad)


def pandas_movers(daily: dict[str, list[dict]], limit: int) -> dict:
    frame = frame_of(daily)
    dates = {day(offset): ("after" if offset < 7 else "before") for offset in range(14)}
    frame["week"] = frame["date"].map(dates)
    weeks = frame.dropna(subset=["week"]).groupby(["storeId", "currency", "week"])["revenue"].agg(["sum", "count"])
    wide = weeks.unstack("week").dropna()
    wide = wide[wide[("sum", "before")] > 0]
    wide[("ratio", "")] = wide[("sum", "after")] / wide[("sum", "before")]
    wide = wide.reset_index()

    def entries(part: pd.DataFrame) -> list[dict]:
        return [
            {
                "storeId": r["storeId"].item(),
                "currency": r["currency"].item(),
                "before": int(r[("sum", "before")]),
                "after": int(r[("sum", "after")]),
                "change": int(r[("sum", "after")] - r[("sum", "before")]),
                "ratio": ratio4(r[("sum", "after")], r[("sum", "before")]),
                "daysBefore": int(r[("count", "before")]),
                "daysAfter": int(r[("count", "after")]),
            }
            for _, r in part.iterrows()
        ]

    ratio = wide[("ratio", "")]
    up = wide[ratio > 1].sort_values([("ratio", ""), ("storeId", "")], ascending=[False, True]).head(limit)
    down = wide[ratio < 1].sort_values([("ratio", ""), ("storeId", "")]).head(limit)
    return {"asOf": AS_OF, "up": entries(up), "down": entries(down)}


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_store_movers_equal_pandas_weekly_sums_in_the_same_currency_only(history, limit):
    got = store_movers(history, AS_OF, limit=limit)
    assert got == pandas_movers(history, limit)
    listed = [m["storeId"] for m in got["up"] + got["down"]]
    assert "S02" not in listed and "S06" not in listed, "S02 changed currency, S06 has no earlier week"
    if limit == 5:
        assert len(listed) == 4


def test_store_movers_break_equal_ratios_by_store_id_and_leave_out_a_store_without_earlier_revenue():
    daily = {
        day(9): [row("B", "EUR", 100), row("A", "USD", 200), row("C", "EUR", 100), row("D", "EUR", 0)],
        day(1): [row("B", "EUR", 150), row("A", "USD", 300), row("C", "EUR", 50), row("D", "EUR", 900)],
    }
    got = store_movers(daily, AS_OF)
    assert [(m["storeId"], m["ratio"]) for m in got["up"]] == [("A", 1.5), ("B", 1.5)]
    assert [(m["storeId"], m["ratio"]) for m in got["down"]] == [("C", 0.5)]
