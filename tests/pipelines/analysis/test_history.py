"""Which past days a run of date D reads, and the day's summaries as snapshot rows.

Malformed input: the date helpers raise ``ValueError`` for a string that is not an ISO date and
``TypeError`` for a non-string (the handlers only pass dates ``request.parse_date`` accepted).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from pipelines.analysis import metrics
from pipelines.analysis.history import (
    TREND_DAYS,
    history_dates,
    same_weekday_dates,
    snapshot_row,
    snapshot_rows,
    trend_dates,
)
from pipelines.uploads.summary import HOURS, StoreDay

D = "2025-03-05"  # a Wednesday; D-27 is in February, D-42 in January


def minus(days: int, day: str = D) -> str:
    return (date.fromisoformat(day) - timedelta(days=days)).isoformat()


# --- same_weekday_dates -------------------------------------------------------------------------------


def test_same_weekday_dates_are_whole_weeks_back_newest_first():
    assert same_weekday_dates(D, 4) == ["2025-02-26", "2025-02-19", "2025-02-12", "2025-02-05"]


def test_same_weekday_dates_all_fall_on_the_weekday_of_the_day():
    weekday = date.fromisoformat(D).weekday()
    assert {date.fromisoformat(d).weekday() for d in same_weekday_dates(D, 8)} == {weekday}


def test_same_weekday_dates_of_zero_weeks_are_none():
    assert same_weekday_dates(D, 0) == []


def test_same_weekday_dates_cross_a_leap_day_and_a_year_boundary():
    assert same_weekday_dates("2024-03-07", 1) == ["2024-02-29"]
    assert same_weekday_dates("2025-01-03", 1) == ["2024-12-27"]


# --- trend_dates --------------------------------------------------------------------------------------


def test_trend_dates_are_28_consecutive_days_ending_with_the_day_oldest_first():
    dates = trend_dates(D)
    assert len(dates) == TREND_DAYS == 28
    assert dates[0] == minus(27) == "2025-02-06"
    assert dates[-1] == D
    assert dates == [minus(back) for back in range(27, -1, -1)]


def test_trend_dates_of_two_days_are_the_previous_day_and_the_day():
    assert trend_dates(D, 2) == ["2025-03-04", D]


# --- history_dates ------------------------------------------------------------------------------------


def test_history_dates_of_four_weeks_are_the_28_days_before_the_day():
    # D-1..D-27 for the trends, and D-28 = D-7·4 for the anomaly rule's oldest week.
    assert history_dates(D, 4) == [minus(back) for back in range(28, 0, -1)]


def test_history_dates_add_the_same_weekday_of_weeks_beyond_the_trend_window():
    dates = history_dates(D, 6)
    assert dates == sorted([minus(back) for back in range(1, 28)] + [minus(28), minus(35), minus(42)])
    assert len(dates) == 30


@pytest.mark.parametrize("weeks", [0, 1, 3])
def test_history_dates_with_weeks_inside_the_window_are_the_27_trend_days(weeks):
    assert history_dates(D, weeks) == [minus(back) for back in range(27, 0, -1)]


@pytest.mark.parametrize("weeks", [0, 1, 4, 8])
def test_history_dates_are_sorted_unique_and_never_the_day_itself(weeks):
    dates = history_dates(D, weeks)
    assert dates == sorted(set(dates))
    assert D not in dates
    assert minus(1) in dates  # the previous day: the company metrics compare with it
    assert set(same_weekday_dates(D, weeks)) <= set(dates)


def test_history_dates_with_a_short_window_still_hold_the_previous_day_and_last_week():
    assert history_dates(D, 1, days=2) == [minus(7), minus(1)]


def test_history_dates_hold_the_previous_day_even_without_a_trend_window():
    # CalcCompanyMetrics compares with D-1 whatever the trend window is.
    assert history_dates(D, 1, days=1) == [minus(7), minus(1)]
    assert history_dates(D, 0, days=1) == [minus(1)]


@pytest.mark.parametrize("bad", ["2025-02-30", "15/01/2025", ""])
def test_date_helpers_refuse_a_string_that_is_not_an_iso_date_with_value_error(bad):
    for helper in (lambda: same_weekday_dates(bad, 1), lambda: trend_dates(bad), lambda: history_dates(bad, 4)):
        with pytest.raises(ValueError):
            helper()


def test_date_helpers_refuse_a_non_string_with_type_error():
    with pytest.raises(TypeError):
        history_dates(None, 4)  # type: ignore[arg-type]


# --- snapshot_row / snapshot_rows ---------------------------------------------------------------------


def store_day(currency: str = "EUR", **products: list[int]) -> StoreDay:
    hourly = [0] * HOURS
    hourly[9], hourly[17] = 1500, 2400
    return StoreDay(
        currency=currency,
        revenue=3900,
        units=7,
        transactions=3,
        refund_lines=1,
        refund_units=2,
        refund_amount=600,
        hourly=hourly,
        products=dict(products),
    )


def test_snapshot_row_carries_every_total_of_the_summary():
    summary = store_day(**{"BAK-001": [4, 2000]})
    row = snapshot_row("S01", D, summary)
    assert row == {
        "storeId": "S01",
        "businessDate": D,
        "currency": "EUR",
        "revenue": 3900,
        "units": 7,
        "transactions": 3,
        "refundLines": 1,
        "refundUnits": 2,
        "refundAmount": 600,
        "hourlyRevenue": summary.hourly,
        "productIds": ["BAK-001"],
        "productUnits": [4],
        "productRevenue": [2000],
    }


def test_snapshot_row_lists_products_as_parallel_arrays_sorted_by_product_id():
    summary = store_day(**{"FRZ-002": [1, 450], "BAK-010": [5, 2500], "DAI-001": [-2, -300], "BAK-002": [3, 900]})
    row = snapshot_row("S01", D, summary)
    assert row["productIds"] == ["BAK-002", "BAK-010", "DAI-001", "FRZ-002"]
    assert row["productUnits"] == [3, 5, -2, 1]
    assert row["productRevenue"] == [900, 2500, -300, 450]


def test_snapshot_row_of_a_store_without_products_has_empty_arrays():
    row = snapshot_row("S01", D, StoreDay("USD"))
    assert (row["productIds"], row["productUnits"], row["productRevenue"]) == ([], [], [])
    assert row["hourlyRevenue"] == [0] * HOURS


def test_snapshot_row_copies_the_hourly_series_rather_than_sharing_it():
    summary = store_day()
    row = snapshot_row("S01", D, summary)
    row["hourlyRevenue"][0] = 99
    assert summary.hourly[0] == 0


def test_snapshot_rows_are_ordered_by_store_id_each_with_its_own_summary_and_the_date():
    summaries = {"S10": store_day("USD", **{"A": [1, 100]}), "S02": store_day("EUR"), "S07": store_day("GBP")}
    rows = list(snapshot_rows(D, summaries))
    assert [r["storeId"] for r in rows] == ["S02", "S07", "S10"]
    assert [r["currency"] for r in rows] == ["EUR", "GBP", "USD"]
    assert {r["businessDate"] for r in rows} == {D}
    assert rows[2]["productIds"] == ["A"]


def test_snapshot_rows_of_no_summaries_are_none():
    assert list(snapshot_rows(D, {})) == []


def test_snapshot_rows_are_what_the_metrics_read():
    # The snapshot is consumed by metrics.store_rows and metrics.product_rows: the shapes must agree.
    summaries = {
        "S01": store_day("EUR", **{"BAK-001": [4, 2000], "DAI-001": [3, 1900]}),
        "S02": store_day("EUR", **{"BAK-001": [1, 500]}),
    }
    rows = list(snapshot_rows(D, summaries))
    stores = metrics.store_rows(rows)
    assert [s["storeId"] for s in stores] == ["S01", "S02"]
    assert stores[0]["averageBasket"] == 1300  # 3900 / 3
    assert metrics.product_rows(rows) == [
        {"productId": "BAK-001", "currency": "EUR", "units": 5, "revenue": 2500},
        {"productId": "DAI-001", "currency": "EUR", "units": 3, "revenue": 1900},
    ]
