"""The QuickSight export: flat records, one fixed column set per dataset, read back as NDJSON with pandas.

Malformed input: ``datasets`` reads the pipeline's own history rows and findings; a store or
product row without ``currency`` (or a product row without ``productId``, ``units``,
``revenue``) raises ``KeyError``; any other column it lacks is exported as ``null``.
"""

from __future__ import annotations

import io
import math

import pandas as pd
import pytest

from pipelines.analysis import anomalies, metrics
from pipelines.analysis.categories import UNCATEGORISED, CategoryMap
from pipelines.analysis.export import ANOMALY_COLUMNS, PRODUCT_COLUMNS, STORE_COLUMNS, datasets
from pipelines.analysis.layout import DATASETS
from pipelines.common.jsontext import utf8_json
from tests.pipelines.analysis.sample import DATE, SETTING, day_rows

COLUMNS = {"store-metrics": STORE_COLUMNS, "product-metrics": PRODUCT_COLUMNS, "anomalies": ANOMALY_COLUMNS}
CATEGORIES = CategoryMap.from_setting(SETTING)


@pytest.fixture(scope="module")
def today():
    rows = day_rows(seed=7)
    return metrics.store_rows(rows), metrics.product_rows(rows)


@pytest.fixture(scope="module")
def findings(today):
    stores, products = today

    # Four earlier weeks where S001 sold a quarter of today (a spike), S002 three times today (a drop, and it
    # did not report one of the weeks), and BAK-001 five times today's units (a drop).
    def earlier(row: dict, week: int) -> dict:
        factor = {"S001": 0.25, "S002": 3}.get(row["storeId"], 1)
        return {**row, "revenue": round(row["revenue"] * factor) + week}

    week_stores, week_products = [], []
    for week in range(4):
        week_stores.append([earlier(row, week) for row in stores if not (row["storeId"] == "S002" and week == 2)])
        week_products.append(
            [{**row, "units": row["units"] * 5 + week} if row["productId"] == "BAK-001" else row for row in products]
        )
    found = [
        *anomalies.store_anomalies(stores, week_stores),
        *anomalies.product_anomalies(products, week_products),
    ]
    assert {f["kind"] for f in found} == {"store", "product"}
    return found


@pytest.fixture(scope="module")
def exported(today, findings):
    stores, products = today
    return datasets(DATE, stores, products, findings, CATEGORIES)


def ndjson(records: list[dict]) -> str:
    """The records as ``AnalysisBucket.put_lines`` writes them."""
    return b"".join(utf8_json(record) + b"\n" for record in records).decode("utf-8")


def test_datasets_are_the_three_the_layout_names(exported):
    assert tuple(exported) == DATASETS


@pytest.mark.parametrize("name", DATASETS)
def test_every_record_has_exactly_its_dataset_columns_in_order(exported, name):
    assert exported[name]
    for record in exported[name]:
        assert tuple(record) == COLUMNS[name]


@pytest.mark.parametrize("name", DATASETS)
def test_every_record_carries_the_date_and_nothing_nested(exported, name):
    for record in exported[name]:
        assert record["date"] == DATE
        assert not any(isinstance(value, (dict, list)) for value in record.values())


def test_store_records_are_one_per_store_sorted_by_store_id(today, exported):
    stores, _ = today
    assert [r["storeId"] for r in exported["store-metrics"]] == sorted(r["storeId"] for r in stores)


def test_store_records_keep_the_totals_of_the_history_rows(today, exported):
    stores, _ = today
    by_id = {r["storeId"]: r for r in stores}
    for record in exported["store-metrics"]:
        row = by_id[record["storeId"]]
        for column in STORE_COLUMNS:
            if column not in ("date", "rank"):
                assert record[column] == row[column], column


def test_store_rank_is_within_its_currency_as_the_company_ranking(today, exported):
    stores, _ = today
    company = metrics.company_metrics(stores, None, None, ranking_limit=len(stores))
    expected = {
        entry["storeId"]: entry["rank"]
        for currency in company["currencies"]
        for entry in company["byCurrency"][currency]["ranking"]
    }
    assert {r["storeId"]: r["rank"] for r in exported["store-metrics"]} == expected


def test_store_rank_starts_at_one_in_every_currency_and_ties_go_by_store_id(exported):
    records = exported["store-metrics"]
    for currency in {r["currency"] for r in records}:
        ranks = sorted(r["rank"] for r in records if r["currency"] == currency)
        assert ranks == list(range(1, len(ranks) + 1))
    # The sample makes S003 a copy of S000: equal revenue, S000 ranked first.
    rank = {r["storeId"]: r["rank"] for r in records}
    assert rank["S003"] == rank["S000"] + 1


def test_store_rank_puts_higher_revenue_first_even_when_negative():
    stores = [
        {"storeId": "A", "currency": "EUR", "revenue": -4500},
        {"storeId": "B", "currency": "EUR", "revenue": 0},
        {"storeId": "C", "currency": "GBP", "revenue": 10},
        {"storeId": "D", "currency": "EUR", "revenue": 700},
    ]
    records = datasets(DATE, stores, [], [], CATEGORIES)["store-metrics"]
    assert [(r["storeId"], r["rank"]) for r in records] == [("A", 3), ("B", 2), ("C", 1), ("D", 1)]


def test_product_records_are_one_per_product_and_currency_with_their_category(today, exported):
    _, products = today
    records = exported["product-metrics"]
    assert [(r["productId"], r["currency"], r["units"], r["revenue"]) for r in records] == [
        (r["productId"], r["currency"], r["units"], r["revenue"]) for r in products
    ]
    category = {r["productId"]: r["category"] for r in records}
    assert category["BAK-001"] == "bakery"
    assert category["BAK-GF-001"] == "gluten-free"  # the longest prefix wins
    assert category["DAI-001"] == "dairy"
    assert category["MISC-000"] == UNCATEGORISED


def test_product_categories_follow_the_category_map_given():
    products = [{"productId": "BAK-001", "currency": "EUR", "units": 1, "revenue": 100}]
    assert datasets(DATE, [], products, [], CategoryMap.from_setting({}))["product-metrics"][0]["category"] == (
        UNCATEGORISED
    )
    bread = CategoryMap.from_setting({"bread": ["BAK-0"]})
    assert datasets(DATE, [], products, [], bread)["product-metrics"][0]["category"] == "bread"


def test_anomaly_records_are_one_per_finding_with_its_values(findings, exported):
    records = exported["anomalies"]
    assert len(records) == len(findings)
    for record, finding in zip(records, findings, strict=True):
        for column in ANOMALY_COLUMNS:
            if column not in ("date", "weeksCompared", "currency"):
                assert record[column] == finding[column], column
        assert record["currency"] == finding.get("currency")


def test_store_anomaly_carries_its_currency_and_product_anomaly_none(exported):
    by_kind = {r["kind"]: r for r in exported["anomalies"]}
    assert by_kind["store"]["currency"] in ("EUR", "GBP", "USD")
    assert by_kind["product"]["currency"] is None


def test_weeks_compared_counts_the_history_points_that_are_not_null():
    finding = {"kind": "store", "id": "S002", "currency": "EUR", "history": [None, 120_000, None, 118_000]}
    (record,) = datasets(DATE, [], [], [finding], CATEGORIES)["anomalies"]
    assert record["weeksCompared"] == 2
    assert tuple(record) == ANOMALY_COLUMNS


def test_weeks_compared_of_the_real_findings(findings, exported):
    compared = {(r["kind"], r["id"]): r["weeksCompared"] for r in exported["anomalies"]}
    assert compared[("store", "S001")] == 4
    assert compared[("store", "S002")] == 3  # one week without the store: no data point
    assert compared[("product", "BAK-001")] == 4
    for finding in findings:
        assert compared[(finding["kind"], finding["id"])] == sum(p is not None for p in finding["history"])


def test_finding_without_history_or_optional_fields_exports_nulls_and_zero_weeks():
    (record,) = datasets(DATE, [], [], [{"kind": "product", "id": "X"}], CATEGORIES)["anomalies"]
    assert record["weeksCompared"] == 0
    assert record["zScore"] is None
    assert record["currency"] is None


def test_empty_day_exports_empty_datasets():
    assert datasets(DATE, [], [], [], CATEGORIES) == {name: [] for name in DATASETS}


def test_store_row_without_currency_raises_key_error():
    with pytest.raises(KeyError):
        datasets(DATE, [{"storeId": "S1", "revenue": 1}], [], [], CATEGORIES)


def test_store_row_missing_an_optional_total_exports_it_as_null():
    (record,) = datasets(DATE, [{"storeId": "S1", "currency": "EUR", "revenue": 1}], [], [], CATEGORIES)[
        "store-metrics"
    ]
    assert record["refundAmount"] is None
    assert tuple(record) == STORE_COLUMNS


# --- NDJSON read back with pandas -----------------------------------------------------------------------


@pytest.mark.parametrize("name", DATASETS)
def test_ndjson_reads_back_with_pandas_as_its_columns_and_rows(exported, name):
    records = exported[name]
    frame = pd.read_json(io.StringIO(ndjson(records)), lines=True)
    assert tuple(frame.columns) == COLUMNS[name]
    assert len(frame) == len(records)
    assert set(frame["date"].astype(str).str[:10]) == {DATE}


def test_ndjson_store_metrics_read_back_with_their_values(exported):
    records = exported["store-metrics"]
    frame = pd.read_json(io.StringIO(ndjson(records)), lines=True)
    assert frame["storeId"].tolist() == [r["storeId"] for r in records]
    assert frame["revenue"].tolist() == [r["revenue"] for r in records]
    assert frame["rank"].tolist() == [r["rank"] for r in records]
    assert str(frame["revenue"].dtype) == "int64"  # money stays integer minor units
    assert frame.groupby("currency")["rank"].min().eq(1).all()


def test_ndjson_product_metrics_read_back_with_their_categories(exported):
    records = exported["product-metrics"]
    frame = pd.read_json(io.StringIO(ndjson(records)), lines=True)
    assert frame["category"].tolist() == [r["category"] for r in records]
    assert frame["units"].sum() == sum(r["units"] for r in records)


def test_ndjson_anomalies_read_back_with_nulls_as_missing(exported):
    records = exported["anomalies"]
    frame = pd.read_json(io.StringIO(ndjson(records)), lines=True)
    assert frame["id"].tolist() == [r["id"] for r in records]
    assert frame["weeksCompared"].tolist() == [r["weeksCompared"] for r in records]
    product = frame[frame["kind"] == "product"].iloc[0]
    assert product["currency"] is None or (isinstance(product["currency"], float) and math.isnan(product["currency"]))
