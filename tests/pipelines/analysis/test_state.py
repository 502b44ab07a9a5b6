"""What the steps answer into the state: pointers, flags and counts whose size does not grow with the data."""

from __future__ import annotations

import json

from pipelines.analysis import report, state
from pipelines.analysis.answers import NARRATIVE, RECOMMENDATIONS, longest
from pipelines.analysis.insights import combine

D = "2026-11-20"


def size(value) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def test_get_store_summaries_answers_the_count_and_the_snapshots_pointer():
    assert state.summaries(1000, D, ["2026-11-13"]) == {
        "count": 1000,
        "snapshotKey": "snapshots/date=2026-11-20/summaries.ndjson",
        "backfilled": ["2026-11-13"],
    }


def test_the_metrics_answers_are_counts_however_many_currencies_stores_and_products():
    currencies = [f"C{n:02d}" for n in range(180)]
    company = {
        "storeCount": 100_000,
        "currencies": currencies,
        "byCurrency": {c: {"ranking": [1] * 50} for c in currencies},
    }
    assert state.company(company) == {"storeCount": 100_000, "currencies": 180}
    products = {"productCount": 2_000_000, "categories": {f"c{n}": {} for n in range(500)}, "topByUnits": [1] * 50}
    assert state.products(products) == {"productCount": 2_000_000, "categories": 500}


def test_a_bedrock_section_answers_a_pointer_to_its_narrative_not_the_narrative():
    assert state.section("trends", D, days=28) == {
        "section": "trends",
        "available": True,
        "narrativeKey": "analysis/date=2026-11-20/narratives/trends.json",
        "days": 28,
    }


def test_combine_insights_answers_flags_and_the_bounded_alert_never_the_answers():
    longest_sections = [
        {"section": "anomalies", "available": True, "answer": longest(NARRATIVE), "usage": {"calls": 1}},
        {"section": "trends", "available": False, "error": "E" * 256, "cause": "語" * 30_000},
        {"section": "recommendations", "available": True, "answer": longest(RECOMMENDATIONS)},
    ]
    answer = state.insights(combine(D, "run-1", longest_sections, "model-a"))
    assert answer["bedrockFailed"] is True and answer["unavailable"] == ["trends"]
    assert set(answer) == {"bedrockFailed", "unavailable", "alert", "usage"}
    assert longest(NARRATIVE)["summary"][:500] not in json.dumps(answer, ensure_ascii=False)
    assert size(answer) < 4_000  # the cause is cut to 400 characters in the alert


def test_generate_report_answers_the_e_mail_cut_to_its_limit_with_the_objects_address():
    body = "line 語語語\n" * 10_000
    answer = state.report_message("Daily sales", body, "bucket-1", D)
    assert answer["truncated"] is True and answer["reportKey"] == "reports/date=2026-11-20/report.txt"
    assert len(answer["message"].encode("utf-8")) <= report.MESSAGE_LIMIT_BYTES
    assert "s3://bucket-1/reports/date=2026-11-20/report.txt" in answer["message"]
    short = state.report_message("Daily sales", "all fine\n", "bucket-1", D)
    assert short["truncated"] is False and short["message"] == "all fine\n"
