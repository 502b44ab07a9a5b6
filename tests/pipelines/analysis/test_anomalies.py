"""The anomaly rule: planted spikes and drops found, noise, flat series, short and tiny histories left alone."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest

from pipelines.analysis.anomalies import (
    PRODUCT_RULE,
    STORE_RULE,
    AnomalyRule,
    detect,
    product_anomalies,
    robust_z,
    store_anomalies,
)

RULE = AnomalyRule()


def store_row(store: str, revenue: int, currency: str = "EUR") -> dict:
    return {"storeId": store, "currency": currency, "revenue": revenue}


def noisy_stores(seed: int, stores: int = 20, weeks: int = 4, noise: float = 0.10) -> tuple[list, list[list]]:
    """Today's and ``weeks`` earlier weeks' store rows, every revenue its store's level ± ``noise``."""
    rng = random.Random(seed)
    levels = {f"S{n:03d}": rng.randint(50_000, 500_000) for n in range(stores)}

    def day() -> list[dict]:
        return [store_row(s, round(level * rng.uniform(1 - noise, 1 + noise))) for s, level in levels.items()]

    return day(), [day() for _ in range(weeks)]


def test_robust_z_is_the_modified_z_score_of_iglewicz_and_hoaglin():
    median, mad, z = robust_z(20, [10, 12, 11, 13, 9])
    assert (median, mad) == (11, 1)
    assert z == pytest.approx(0.6745 * 9)


def test_robust_z_equals_a_numpy_median_and_mad_on_random_series():
    rng = np.random.default_rng(5)
    for _ in range(100):
        history = rng.integers(0, 1000, size=int(rng.integers(3, 9))).tolist()
        value = int(rng.integers(0, 2000))
        median = float(np.median(history))
        mad = float(np.median(np.abs(np.array(history) - median)))
        if mad == 0:
            continue
        assert robust_z(value, history) == pytest.approx((median, mad, 0.6745 * (value - median) / mad))


def test_with_mad_zero_z_falls_back_to_the_mean_absolute_deviation():
    median, mad, z = robust_z(160, [100, 100, 100, 130])
    assert (median, mad) == (100, 0)
    assert z == pytest.approx(60 / (1.253314 * 7.5))


def test_a_perfectly_flat_history_gives_z_zero_for_the_same_value_and_infinity_otherwise():
    assert robust_z(100, [100, 100, 100]) == (100, 0, 0.0)
    assert robust_z(101, [100, 100, 100])[2] == math.inf
    assert robust_z(99, [100, 100, 100])[2] == -math.inf
    with pytest.raises(ValueError, match="at least one history point"):
        robust_z(1, [])


def test_a_planted_spike_of_five_times_a_stores_usual_revenue_is_the_one_finding():
    today, weeks = noisy_stores(seed=1)
    today = [store_row(r["storeId"], r["revenue"] * 5) if r["storeId"] == "S007" else r for r in today]
    findings = store_anomalies(today, weeks, STORE_RULE)
    assert [(f["id"], f["direction"], f["kind"], f["metric"]) for f in findings] == [
        ("S007", "spike", "store", "revenue")
    ]
    finding = findings[0]
    assert finding["currency"] == "EUR" and 4 < finding["ratio"] < 6 and finding["zScore"] > 3.5
    assert finding["history"] == [next(r["revenue"] for r in w if r["storeId"] == "S007") for w in weeks]
    assert list(finding) == [
        "kind",
        "id",
        "currency",
        "metric",
        "value",
        "median",
        "mad",
        "zScore",
        "ratio",
        "direction",
        "history",
    ]
    assert json.loads(json.dumps(findings, allow_nan=False)) == findings


def test_a_planted_drop_is_found_with_direction_drop():
    today, weeks = noisy_stores(seed=2)
    today = [store_row(r["storeId"], r["revenue"] // 5) if r["storeId"] == "S012" else r for r in today]
    findings = store_anomalies(today, weeks)
    assert [(f["id"], f["direction"]) for f in findings] == [("S012", "drop")]
    assert findings[0]["zScore"] < -3.5 and findings[0]["ratio"] < 0.25


@pytest.mark.parametrize("weeks", [4, 8])
def test_two_hundred_series_of_ten_percent_noise_raise_nothing(weeks):
    today, history = noisy_stores(seed=3, stores=200, weeks=weeks)
    assert store_anomalies(today, history) == []
    # The same data with one planted spike: the rule is not simply blind.
    today[0] = store_row(today[0]["storeId"], today[0]["revenue"] * 3)
    assert [f["id"] for f in store_anomalies(today, history)] == [today[0]["storeId"]]


def test_a_perfectly_flat_series_with_today_equal_raises_nothing():
    assert detect({"A": 500}, [{"A": 500}] * 6, RULE, "product", "units") == []


def test_a_flat_series_with_small_noise_raises_nothing_though_its_z_is_large():
    history = [{"A": 500}, {"A": 500}, {"A": 501}, {"A": 500}, {"A": 499}]
    assert abs(robust_z(560, [500, 500, 501, 500, 499])[2]) > 3.5
    assert detect({"A": 560}, history, RULE, "product", "units") == []
    assert detect({"A": 440}, [{"A": 500}] * 5, RULE, "product", "units") == []


def test_a_flat_series_that_moves_beyond_min_change_is_a_finding_with_a_null_z():
    findings = detect({"A": 700, "B": 300}, [{"A": 500, "B": 500}] * 4, RULE, "product", "units")
    assert [(f["id"], f["direction"], f["zScore"], f["mad"], f["ratio"]) for f in findings] == [
        ("A", "spike", None, 0, 1.4),
        ("B", "drop", None, 0, 0.6),
    ]


def test_a_history_shorter_than_min_history_raises_nothing_even_for_a_tenfold_spike():
    assert detect({"A": 5000}, [{"A": 500}, {"A": 510}], RULE, "product", "units") == []
    assert len(detect({"A": 5000}, [{"A": 500}, {"A": 510}, {"A": 490}], RULE, "product", "units")) == 1


def test_a_baseline_under_min_baseline_raises_nothing():
    tiny = [{"A": 4}, {"A": 5}, {"A": 6}, {"A": 5}]
    assert detect({"A": 50}, tiny, RULE, "product", "units") == []
    assert len(detect({"A": 50}, tiny, AnomalyRule(min_baseline=5), "product", "units")) == 1


def test_a_large_z_on_a_change_under_min_change_raises_nothing():
    history = [{"A": 1000}, {"A": 1002}, {"A": 998}, {"A": 1001}]
    assert abs(robust_z(1200, [1000, 1002, 998, 1001])[2]) > 50
    assert detect({"A": 1200}, history, RULE, "product", "units") == []
    assert len(detect({"A": 1200}, history, AnomalyRule(min_change=0.1), "product", "units")) == 1


def test_a_store_missing_from_a_week_is_no_data_point_not_a_zero():
    weeks = [[store_row("S1", 100_000)], [], [store_row("S1", 101_000)], []]
    assert store_anomalies([store_row("S1", 500_000)], weeks) == []
    # Had the missing weeks been zeros, there would be four points and a finding.
    as_zero = detect({"S1": 500_000}, [{"S1": 100_000}, {}, {"S1": 101_000}, {}], STORE_RULE, "store", "revenue", True)
    assert [(f["history"], f["median"]) for f in as_zero] == [([100_000, 0, 101_000, 0], 50_000)]
    weeks.append([store_row("S1", 99_000)])
    finding = store_anomalies([store_row("S1", 500_000)], weeks)[0]
    assert finding["history"] == [100_000, None, 101_000, None, 99_000] and finding["median"] == 100_000


def test_a_store_is_compared_with_weeks_in_its_own_currency_only():
    weeks = [[store_row("S1", 100_000, "GBP")] for _ in range(4)]
    assert store_anomalies([store_row("S1", 500_000, "EUR")], weeks) == []
    weeks[1:] = [[store_row("S1", 100_000, "EUR")] for _ in range(3)]
    finding = store_anomalies([store_row("S1", 500_000, "EUR")], weeks)[0]
    assert (finding["currency"], finding["history"]) == ("EUR", [None, 100_000, 100_000, 100_000])


def product(product_id: str, units: int, currency: str = "EUR") -> dict:
    return {"productId": product_id, "currency": currency, "units": units, "revenue": units * 100}


def test_product_units_are_summed_over_currencies_before_judging():
    weeks = [[product("A", 50, "EUR"), product("A", 50, "USD")] for _ in range(4)]
    assert product_anomalies([product("A", 60, "EUR"), product("A", 45, "USD")], weeks) == []
    findings = product_anomalies([product("A", 400, "EUR"), product("A", 100, "USD")], weeks)
    assert [(f["id"], f["value"], f["median"], f["history"]) for f in findings] == [("A", 500, 100, [100] * 4)]


def test_a_product_missing_from_a_week_sold_zero_and_one_missing_today_stopped_selling():
    weeks = [[product("A", 100), product("B", 80)], [product("A", 100)], [product("A", 100), product("B", 80)]]
    weeks.append([product("A", 102), product("B", 78)])
    findings = product_anomalies([product("B", 400)], weeks, PRODUCT_RULE)
    assert [(f["id"], f["value"], f["direction"], f["median"], f["history"]) for f in findings] == [
        ("B", 400, "spike", 79, [80, 0, 80, 78]),
        ("A", 0, "drop", 100, [100, 100, 100, 102]),
    ]


def test_a_week_without_any_product_row_is_left_out_not_counted_as_zero():
    weeks = [[product("A", 100)], [], [product("A", 104)], [product("A", 98)]]
    findings = product_anomalies([product("A", 400)], weeks)
    assert findings[0]["history"] == [100, 104, 98]


def test_findings_are_ordered_by_absolute_z_then_id():
    history = [{"A": 100, "B": 100, "C": 100, "D": 100 + d} for d in (-4, 2, 0, 4)]
    history = [{**h, "A": 100 + d, "B": 100 - d, "C": 100 + d} for h, d in zip(history, (-4, 2, 0, 4), strict=True)]
    findings = detect({"A": 300, "B": 30, "C": 300, "D": 200}, history, RULE, "product", "units")
    assert [f["id"] for f in findings] == ["A", "C", "D", "B"]
    zs = [abs(f["zScore"]) for f in findings]
    assert zs == sorted(zs, reverse=True)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"z_threshold": 0}, "z_threshold"),
        ({"z_threshold": math.inf}, "z_threshold"),
        ({"min_change": -0.1}, "min_change"),
        ({"min_history": 1}, "min_history"),
        ({"min_history": 3.0}, "min_history"),
        ({"min_history": True}, "min_history"),
        ({"min_baseline": 0}, "min_baseline"),
        ({"min_baseline": math.nan}, "min_baseline"),
    ],
)
def test_a_rule_out_of_range_is_refused_naming_the_setting(settings, message):
    with pytest.raises(ValueError, match=f"^{message} must be"):
        AnomalyRule(**settings)


def test_detect_refuses_an_unknown_kind_or_metric():
    with pytest.raises(ValueError, match="kind must be one of store, product"):
        detect({}, [], RULE, "region", "units")
    with pytest.raises(ValueError, match="metric must be one of revenue, units"):
        detect({}, [], RULE, "store", "margin")
