"""The daily report e-mail, the Bedrock alert and the headline, from inputs the real statistics computed.

A small chain is built by hand so every figure can be checked by arithmetic: EUR stores S1 and S2
sell 2,000.00 EUR a day between them (S1 wobbling 980–1,020 EUR), USD store S3 sells 1,234.56 USD
every day; today S1 sells 5,000.00 EUR (a spike: five times its usual 1,000.00 EUR).

Malformed input: the report reads the pipeline's own documents (company metrics, insights); a
document missing a key it needs raises ``KeyError`` and the step fails, rather than sending a
report that silently leaves a part out.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from pipelines.analysis import anomalies, metrics, report, trends
from pipelines.analysis.answers import NARRATIVE as NARRATIVE_SCHEMA
from pipelines.analysis.answers import RECOMMENDATIONS, longest
from pipelines.analysis.categories import CategoryMap
from pipelines.analysis.insights import combine
from pipelines.analysis.money import money

D = "2026-11-20"
CATEGORIES = CategoryMap.from_setting({"bakery": ["BAK-"], "dairy": ["DAI-"]})


def day(back: int) -> str:
    return (date.fromisoformat(D) - timedelta(days=back)).isoformat()


def day_row(store, currency, revenue, *, on=D, transactions=10, refund_lines=0, refund_amount=0, products=()):
    """A store-day snapshot row; ``products`` as (productId, units, revenue)."""
    return {
        "storeId": store,
        "businessDate": on,
        "currency": currency,
        "revenue": revenue,
        "units": sum(units for _, units, _ in products),
        "transactions": transactions,
        "refundLines": refund_lines,
        "refundUnits": refund_lines,
        "refundAmount": refund_amount,
        "hourlyRevenue": [0] * 24,
        "productIds": [p for p, _, _ in products],
        "productUnits": [u for _, u, _ in products],
        "productRevenue": [r for _, _, r in products],
    }


def usual_day(back: int) -> list[dict]:
    s1 = 100_000 + 2_000 * ((back % 3) - 1)
    on = day(back)
    return [
        day_row("S1", "EUR", s1, on=on),
        day_row("S2", "EUR", 200_000 - s1, on=on),
        day_row("S3", "USD", 123_456, on=on),
    ]


TODAY_ROWS = [
    day_row("S1", "EUR", 500_000, transactions=100, products=[("BAK-001", 100, 300_000), ("DAI-002", 60, 200_000)]),
    day_row("S2", "EUR", 100_000, transactions=50, products=[("BAK-001", 20, 100_000)]),
    day_row(
        "S3", "USD", 123_456, transactions=20, refund_lines=2, refund_amount=4_321, products=[("BAK-001", 30, 123_456)]
    ),
]


@pytest.fixture(scope="module")
def stores_by_day() -> dict[str, list[dict]]:
    daily = {day(back): metrics.store_rows(usual_day(back)) for back in range(1, 29)}
    daily[D] = metrics.store_rows(TODAY_ROWS)
    return daily


@pytest.fixture(scope="module")
def company(stores_by_day):
    return metrics.company_metrics(stores_by_day[D], stores_by_day[day(1)], stores_by_day[day(7)])


@pytest.fixture(scope="module")
def products():
    return metrics.product_metrics(metrics.product_rows(TODAY_ROWS), CATEGORIES)


@pytest.fixture(scope="module")
def found(stores_by_day):
    weeks = [stores_by_day[day(7 * k)] for k in (4, 3, 2, 1)]
    return {"findings": anomalies.store_anomalies(stores_by_day[D], weeks)}


@pytest.fixture(scope="module")
def trend(stores_by_day):
    window = {d: rows for d, rows in stores_by_day.items() if d >= day(27)}
    return {"date": D, "company": trends.company_trends(window, D), "movers": trends.store_movers(window, D)}


NARRATIVE = {"summary": "Store S1 had an exceptional day.", "highlights": ["S1 sold five times its usual."]}
ADVICE = {
    "recommendations": [
        {"action": "Check S1's till records", "reason": "Revenue five times the usual Friday."},
        {"action": "Restock BAK-001 at S1", "reason": "100 units sold."},
    ]
}
CAUSES = {
    "anomalies": ("BedrockUnavailableError", "Bedrock ThrottlingException: Too many requests"),
    "trends": ("NarrativeUnusableError", "trends.v1: stopped at maxTokens=2048 (after one retry)"),
    "recommendations": ("BedrockRequestError", "Bedrock AccessDeniedException for model-a: m"),
}


def insights(*missing: str) -> dict:
    """The insights document with the sections ``missing`` unavailable (with the causes above)."""
    sections = []
    for name in ("anomalies", "trends", "recommendations"):
        if name in missing:
            error, cause = CAUSES[name]
            sections.append({"section": name, "available": False, "error": error, "cause": cause})
        else:
            answer = ADVICE if name == "recommendations" else NARRATIVE
            usage = {"calls": 1, "inputTokens": 1700, "outputTokens": 210}
            sections.append({"section": name, "available": True, "answer": answer, "usage": usage, "prompt": "p"})
    return combine(D, "arn:aws:states:eu-west-1:1:execution:daily-analysis:run-1", sections, "model-a")


@pytest.fixture
def render(company, products, found, trend):
    def run(*missing: str, **overrides) -> str:
        parts = {"company": company, "products": products, "anomalies": found, "trends": trend}
        parts.update(overrides)
        subject, body = report.render(D, insights=insights(*missing), **parts)
        assert subject == report.subject(D, parts["company"])
        return body

    return run


# --- the inputs really are what the statistics computed -------------------------------------------------


def test_the_planted_spike_is_the_only_finding(found):
    assert [(f["id"], f["currency"], f["ratio"], f["zScore"]) for f in found["findings"]] == [("S1", "EUR", 5.0, 269.8)]


# --- subject ------------------------------------------------------------------------------------------


def test_subject_names_the_date_and_each_currency_revenue_with_its_change_vs_last_week(company):
    assert report.subject(D, company) == (
        "Daily sales 2026-11-20: 6,000.00 EUR (+200.0 % vs last week), 1,234.56 USD (+0.0 % vs last week)"
    )


def test_subject_without_last_week_names_the_revenue_alone():
    company = metrics.company_metrics(metrics.store_rows(TODAY_ROWS), None, None)
    assert report.subject(D, company) == "Daily sales 2026-11-20: 6,000.00 EUR, 1,234.56 USD"


def test_subject_of_a_day_without_stores_says_no_sales():
    assert report.subject(D, metrics.company_metrics([], None, None)) == "Daily sales 2026-11-20: no sales"


def test_subject_shows_a_net_negative_currency_with_its_sign():
    rows = [day_row("S9", "GBP", -4_500, transactions=2)]
    assert report.subject(D, metrics.company_metrics(metrics.store_rows(rows), None, None)) == (
        "Daily sales 2026-11-20: -45.00 GBP"
    )


CODES = ("AUD", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "JPY", "NOK", "NZD", "PLN", "SEK", "SGD", "USD")


@pytest.mark.parametrize("count", [1, 2, 3, 4, 8, 15])
def test_subject_is_at_most_100_characters_however_many_currencies(count):
    today = [day_row(f"S{n}", code, 987_654_321_00) for n, code in enumerate(CODES[:count])]
    week = [day_row(f"S{n}", code, 123_456_789_00) for n, code in enumerate(CODES[:count])]
    company = metrics.company_metrics(metrics.store_rows(today), None, metrics.store_rows(week))
    text = report.subject(D, company)
    assert len(text) <= report.SUBJECT_LIMIT == 100
    assert text.startswith("Daily sales 2026-11-20: 987,654,321.00 AUD (+700.0 % vs last week)")


def test_subject_cut_to_100_characters_ends_with_an_ellipsis():
    today = [day_row(f"S{n}", code, 987_654_321_00) for n, code in enumerate(CODES)]
    text = report.subject(D, metrics.company_metrics(metrics.store_rows(today), None, None))
    assert len(text) == 100
    assert text.endswith("…")


# --- the body -----------------------------------------------------------------------------------------


def test_body_opens_with_the_date_and_ends_with_a_newline(render):
    body = render()
    assert body.startswith("stepworks daily sales report for 2026-11-20\n")
    assert body.endswith("Execution arn:aws:states:eu-west-1:1:execution:daily-analysis:run-1.\n")


def test_body_has_the_headline_figures_per_currency(render):
    body = render()
    assert "Stores reporting: 3" in body
    assert "EUR: revenue 6,000.00 EUR (+200.0 % vs the previous day, +200.0 % vs the same weekday last week)" in body
    assert "  150 transactions, 180 units, average basket 40.00 EUR, 0 refund lines (0.00 EUR)" in body
    assert "USD: revenue 1,234.56 USD (+0.0 % vs the previous day, +0.0 % vs the same weekday last week)" in body
    assert "  20 transactions, 30 units, average basket 61.73 USD, 2 refund lines (43.21 USD)" in body
    assert "  Top stores: 1. S1 5,000.00 EUR, 2. S2 1,000.00 EUR" in body


def test_body_without_earlier_days_shows_changes_as_not_available(render):
    company = metrics.company_metrics(metrics.store_rows(TODAY_ROWS), None, None)
    body = render(company=company)
    assert "EUR: revenue 6,000.00 EUR (n/a vs the previous day, n/a vs the same weekday last week)" in body


def test_body_lists_the_products_and_their_categories(render):
    body = render()
    assert "2 products sold" in body
    assert "Top sellers by units: BAK-001 (150), DAI-002 (60)" in body
    assert "Slowest sellers: DAI-002 (60), BAK-001 (150)" in body
    assert "  bakery: 150 units, 4,000.00 EUR, 1,234.56 USD" in body
    assert "  dairy: 60 units, 2,000.00 EUR" in body


def test_body_without_product_metrics_has_no_products_section(render):
    body = render(products=None)
    assert "Products\n" not in body
    assert "Top sellers" not in body


def test_body_anomalies_section_names_the_flagged_store_and_its_ratio(render):
    body = render()
    assert "- store S1: revenue 5,000.00 EUR is a spike (5.0x its usual 1,000.00 EUR, z 269.8)" in body
    assert "S2:" not in body
    assert NARRATIVE["summary"] in body
    assert f"  * {NARRATIVE['highlights'][0]}" in body


def test_body_product_finding_is_in_units_without_a_currency(render):
    today = [{"productId": "BAK-001", "currency": "EUR", "units": 150, "revenue": 450_000}]
    weeks = [[{"productId": "BAK-001", "currency": "EUR", "units": u, "revenue": u * 3000}] for u in (30, 28, 32, 30)]
    findings = anomalies.product_anomalies(today, weeks)
    body = render(anomalies={"findings": findings})
    assert "- product BAK-001: units sold 150 is a spike (5.0x its usual 30, z 80.9)" in body


def test_body_finding_without_a_z_score_leaves_it_out(render):
    # A perfectly flat history: the rule reports zScore null, the ratio still tells the size.
    findings = anomalies.store_anomalies(
        [{"storeId": "S1", "currency": "EUR", "revenue": 50_000}],
        [[{"storeId": "S1", "currency": "EUR", "revenue": 100_000}]] * 4,
    )
    assert findings[0]["zScore"] is None
    body = render(anomalies={"findings": findings})
    assert "- store S1: revenue 500.00 EUR is a drop (0.5x its usual 1,000.00 EUR)" in body


def test_body_lists_at_most_ten_findings_and_counts_the_rest(render, found):
    many = [{**found["findings"][0], "id": f"S{n:02d}"} for n in range(12)]
    body = render(anomalies={"findings": many})
    assert "- store S09:" in body
    assert "- store S10:" not in body
    assert "… and 2 more in the export" in body


def test_body_says_when_nothing_was_anomalous_or_not_computed(render):
    assert "None: every store and product was within its usual range." in render(anomalies={"findings": []})
    assert "The anomaly statistics were not computed." in render(anomalies=None)


def test_body_has_a_trends_line_per_currency(render):
    body = render()
    assert (
        "EUR: 7-day average 2,571.43 EUR, 28-day average 2,142.86 EUR, week over week +28.6 % "
        "(up; 28 of 28 days with data)"
    ) in body
    assert (
        "USD: 7-day average 1,234.56 USD, 28-day average 1,234.56 USD, week over week +0.0 % "
        "(flat; 28 of 28 days with data)"
    ) in body


def test_body_trends_line_with_a_short_history_says_not_available(render, stores_by_day):
    short = {D: stores_by_day[D]}
    body = render(trends={"company": trends.company_trends(short, D)})
    assert "EUR: 7-day average 6,000.00 EUR, 28-day average 6,000.00 EUR, week over week n/a (n/a; 1 of 28" in body


def test_body_recommendations_are_numbered_with_their_reasons(render):
    body = render()
    assert "1. Check S1's till records\n   Why: Revenue five times the usual Friday.\n" in body
    assert "2. Restock BAK-001 at S1\n   Why: 100 units sold.\n" in body


def test_body_unavailable_section_says_nothing_when_every_section_was_written(render):
    body = render()
    assert "Unavailable\n-----------\nNothing: every section was written.\n" in body
    assert "unavailable:" not in body


def test_unavailable_anomalies_narrative_is_marked_and_the_findings_still_listed(render):
    body = render("anomalies")
    assert (
        "[anomalies narrative unavailable: BedrockUnavailableError: Bedrock ThrottlingException: Too many requests]"
        in body
    )
    assert "- store S1: revenue 5,000.00 EUR is a spike (5.0x its usual 1,000.00 EUR, z 269.8)" in body
    assert "- anomalies: BedrockUnavailableError: Bedrock ThrottlingException: Too many requests" in body
    assert "Nothing: every section was written." not in body


def test_unavailable_trends_narrative_is_marked_and_the_trend_lines_still_listed(render):
    body = render("trends")
    assert "[trends narrative unavailable: NarrativeUnusableError: trends.v1: stopped at maxTokens=2048" in body
    assert "EUR: 7-day average 2,571.43 EUR" in body
    assert NARRATIVE["summary"] in body  # the anomalies narrative is still there


def test_unavailable_recommendations_are_marked(render):
    body = render("recommendations")
    assert "[unavailable: BedrockRequestError: Bedrock AccessDeniedException for model-a: m]" in body
    assert "1. Check S1's till records" not in body


def test_every_section_unavailable_keeps_every_computed_figure(render):
    body = render("anomalies", "trends", "recommendations")
    for name, (error, cause) in CAUSES.items():
        assert f"- {name}: {error}: {cause}" in body
    assert "EUR: revenue 6,000.00 EUR" in body
    assert "- store S1: revenue 5,000.00 EUR is a spike" in body
    assert "USD: 7-day average 1,234.56 USD" in body
    assert "Narrative by model-a: 0 calls, 0 input and 0 output tokens." in body


def test_body_footer_reports_the_token_usage(render):
    assert "Narrative by model-a: 3 calls, 5,100 input and 630 output tokens." in render()


def test_body_stays_small_with_many_stores_and_findings(render, found):
    rows = [day_row(f"S{n:04d}", "EUR", 100_000 + n) for n in range(1000)]
    company = metrics.company_metrics(metrics.store_rows(rows), None, None)
    many = [{**found["findings"][0], "id": f"S{n:04d}"} for n in range(500)]
    body = render(company=company, anomalies={"findings": many})
    assert len(body.encode("utf-8")) < 20_000


def test_render_with_an_insights_document_missing_a_section_raises_key_error(company):
    document = insights()
    del document["sections"]["trends"]
    with pytest.raises(KeyError):
        report.render(D, company=company, products=None, anomalies=None, trends=None, insights=document)


# --- bedrock_alert ------------------------------------------------------------------------------------


def test_bedrock_alert_is_empty_when_every_section_was_written():
    assert report.bedrock_alert(insights()) == {"subject": "", "message": ""}


def test_bedrock_alert_names_each_unavailable_section_with_its_error_and_cause():
    alert = report.bedrock_alert(insights("anomalies", "recommendations"))
    assert alert["subject"] == "stepworks daily-analysis 2026-11-20: Bedrock unavailable for anomalies, recommendations"
    for name in ("anomalies", "recommendations"):
        error, cause = CAUSES[name]
        assert f"- {name}: {error}: {cause}" in alert["message"]
    assert "- trends:" not in alert["message"]
    assert "execution arn:aws:states:eu-west-1:1:execution:daily-analysis:run-1" in alert["message"]
    assert "Model: model-a." in alert["message"]


@pytest.mark.parametrize("missing", [("trends",), ("anomalies", "trends", "recommendations")])
def test_bedrock_alert_subject_is_at_most_100_characters(missing):
    alert = report.bedrock_alert(insights(*missing))
    assert 0 < len(alert["subject"]) <= 100
    assert missing[0] in alert["subject"]


# --- headline -----------------------------------------------------------------------------------------


def test_headline_holds_the_figures_and_ratios_vs_previous_day_and_last_week(company):
    assert report.headline(company) == {
        "storeCount": 3,
        "currencies": [
            {
                "currency": "EUR",
                "stores": 2,
                "revenue": 600_000,
                "transactions": 150,
                "units": 180,
                "averageBasket": 4_000,
                "refunds": {"lines": 0, "units": 0, "amount": 0},
                "revenueVsPreviousDay": 3.0,
                "revenueVsLastWeek": 3.0,
            },
            {
                "currency": "USD",
                "stores": 1,
                "revenue": 123_456,
                "transactions": 20,
                "units": 30,
                "averageBasket": 6_173,
                "refunds": {"lines": 2, "units": 2, "amount": 4_321},
                "revenueVsPreviousDay": 1.0,
                "revenueVsLastWeek": 1.0,
            },
        ],
    }


def test_headline_ratios_are_none_without_earlier_days():
    company = metrics.company_metrics(metrics.store_rows(TODAY_ROWS), None, None)
    for item in report.headline(company)["currencies"]:
        assert item["revenueVsPreviousDay"] is None
        assert item["revenueVsLastWeek"] is None


def test_headline_holds_no_rankings_and_stays_small_with_many_stores():
    rows = [day_row(f"S{n:04d}", "EUR" if n % 2 else "USD", 100_000 + n) for n in range(1000)]
    company = metrics.company_metrics(metrics.store_rows(rows), None, None, ranking_limit=1000)
    head = report.headline(company)
    text = json.dumps(head)
    assert "ranking" not in text
    assert "bottom" not in text
    assert "S0001" not in text
    assert len(text) < 1000


def test_money_in_the_report_is_formatted_like_money():
    # The report's format for every amount: thousands separators, two decimals, the code after.
    assert money(123456, "USD") == "1,234.56 USD"


# --- bounded: the e-mail text in the state --------------------------------------------------------------

WHERE = "s3://bucket-1/reports/date=2026-11-20/report.txt"


def test_a_report_within_the_limit_is_sent_whole(render):
    body = render()
    assert report.bounded(body, WHERE) == body


def test_a_report_with_every_answer_at_its_longest_in_3_byte_characters_is_cut_to_the_limit_naming_the_object(
    company, products, found, trend
):
    sections = [
        {"section": name, "available": True, "answer": longest(schema), "usage": {}, "prompt": "p"}
        for name, schema in (("anomalies", NARRATIVE_SCHEMA), ("trends", NARRATIVE_SCHEMA))
    ] + [{"section": "recommendations", "available": True, "answer": longest(RECOMMENDATIONS), "prompt": "p"}]
    document = combine(D, "run-1", sections, "model-a")
    _, body = report.render(D, company=company, products=products, anomalies=found, trends=trend, insights=document)
    assert len(body.encode("utf-8")) > report.MESSAGE_LIMIT_BYTES  # the case the limit is for
    message = report.bounded(body, WHERE)
    assert len(message.encode("utf-8")) <= report.MESSAGE_LIMIT_BYTES
    assert message.endswith(f"the full report is at {WHERE}]\n")
    kept = message.rsplit("\n[…", 1)[0]
    assert body.startswith(kept) and body[len(kept)] == "\n"  # cut at a line end, whole characters
    assert "Headline figures" in message and "EUR: revenue" in message


def test_a_cut_never_splits_a_character_even_without_a_line_end_nearby():
    body = "語" * 20_000
    message = report.bounded(body, WHERE, limit=10_000)
    assert len(message.encode("utf-8")) <= 10_000 and message.startswith("語" * 3000)


def test_a_limit_too_small_for_the_pointer_line_is_refused():
    with pytest.raises(ValueError, match="no room"):
        report.bounded("x" * 100, WHERE, limit=40)
