"""SummaryTable.store_days_on: every store's summary of a date by the byDate GSI (what daily-analysis reads)."""

from __future__ import annotations

from pipelines.uploads.handlers import process_upload
from pipelines.uploads.layout import DATE_INDEX
from pipelines.uploads.store import SummaryTable
from tests.pipelines.uploads.conftest import TABLE
from tests.pipelines.uploads.test_handlers import independent, put, sample


def test_one_query_per_date_returns_every_store_with_all_its_products(aws, lambda_context):
    first, _ = sample(seed=11, lines=3000)
    second, _ = sample(seed=12, lines=3000)
    process_upload(put(aws, "uploads/a.json", first), lambda_context)
    process_upload(put(aws, "uploads/b.json", second), lambda_context)
    expected = independent(first, second)
    table = SummaryTable(TABLE)
    for date in sorted({d for _, d in expected}):
        days = table.store_days_on(date)
        assert sorted(days) == sorted(store for store, d in expected if d == date)
        for store, day in days.items():
            want = expected[(store, date)]
            assert (day.revenue, day.units, day.transactions) == (want["revenue"], want["units"], want["transactions"])
            assert {p: r for p, (_, r) in day.products.items() if r} == want["products"]


def test_a_date_without_uploads_has_no_store(aws):
    assert SummaryTable(TABLE).store_days_on("1999-01-01") == {}


def test_pages_are_followed(aws, lambda_context, monkeypatch):
    body, _ = sample(seed=13, lines=2000)
    process_upload(put(aws, "uploads/a.json", body), lambda_context)
    table = SummaryTable(TABLE)
    date = sorted({d for _, d in independent(body)})[0]
    whole = table.store_days_on(date)
    calls = []
    real = table._call

    def one_item_pages(operation, **kwargs):
        calls.append((operation, kwargs.get("IndexName")))
        return real(operation, Limit=1, **kwargs)

    monkeypatch.setattr(table, "_call", one_item_pages)
    assert table.store_days_on(date) == whole
    assert len(calls) > len(whole)  # a page per item: the pagination was followed
    assert set(calls) == {("query", DATE_INDEX)}  # every page a Query of the byDate index, never a Scan
