"""Lambda entry points of daily-analysis (thin: read the day's objects, call pure logic, write results).

Every step gets ``{"date": "YYYY-MM-DD"}`` (the metrics steps also the snapshot's pointer,
CombineInsights the Bedrock sections' flags) and keeps its results in the bucket under keys of that
date (``layout``), so a re-run of a date overwrites and nothing large travels through the state
machine: each step answers what ``state`` makes of it (counts, flags, pointers; the e-mail cut to fit).

get_store_summaries    the date's summaries (byDate query) → snapshots/…; fills missing history days
                       → {"count", "snapshotKey", "backfilled": [dates]}
calc_company_metrics   {date, snapshotKey} → history/…/stores.json, analysis/…/company.json → counts
calc_product_metrics   {date, snapshotKey} → history/…/products.json, analysis/…/products.json → counts
detect_anomalies       history (same weekday, N weeks) → analysis/…/anomalies.json; Bedrock prose →
                       analysis/…/narratives/anomalies.json → {"section", "available", "narrativeKey", …}
analyze_trends         history (28 days) → analysis/…/trends.json; prose → narratives/trends.json
generate_recommendations  company + anomalies + trends → Bedrock → narratives/recommendations.json
combine_insights       the three flags (+ the narratives they point at) → analysis/…/insights.json
                       → {"bedrockFailed", "unavailable", "alert", "usage"}
generate_report        everything above → reports/…/report.txt → {"subject", "message" (≤ 32 KiB), …}
export_to_quicksight   history + anomalies → quicksight/<dataset>/date=…/<dataset>.ndjson

env     BUCKET_NAME; SUMMARY_TABLE_NAME (get_store_summaries); MODEL_ID, MAX_TOKENS,
        BEDROCK_ENDPOINT_URL (Bedrock steps); ANOMALY_WEEKS, ANOMALY_Z, ANOMALY_MIN_CHANGE,
        PRODUCT_MIN_UNITS, TOP_N
errors  InvalidInputError, SnapshotMissingError, ConfigurationError, UpstreamUnavailableError*,
        BedrockUnavailableError*, BedrockRequestError, NarrativeUnusableError,
        SummaryRequestRejectedError (the summaries query refused as invalid)         (* retryable)
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from pipelines.analysis import anomalies, export, layout, metrics, report, state, trends
from pipelines.analysis.answers import NARRATIVE, RECOMMENDATIONS
from pipelines.analysis.categories import CategoryMap
from pipelines.analysis.errors import SnapshotMissingError
from pipelines.analysis.history import history_dates, same_weekday_dates, snapshot_rows, trend_dates
from pipelines.analysis.insights import combine, resolve
from pipelines.analysis.narrator import Narrator
from pipelines.analysis.request import parse_date
from pipelines.analysis.storage import AnalysisBucket, ObjectMissing
from pipelines.common.errors import ConfigurationError, DataIntegrityError, InvalidInputError
from pipelines.common.logging import get_logger
from pipelines.common.settings import int_env, optional_env, require_env

logger = get_logger("daily-analysis")

PROMPT_VERSIONS = {"anomalies": "anomalies.v1", "trends": "trends.v1", "recommendations": "recommendations.v1"}
# What a narrative is given of the findings: the strongest ones (the stored document has them all).
NARRATED_FINDINGS = 20


def _date(event: Any) -> str:
    if not isinstance(event, Mapping) or not isinstance(event.get("date"), str):
        raise InvalidInputError("date", "every step needs the date ValidateInput answered")
    return parse_date(event["date"]).isoformat()


def _bucket() -> AnalysisBucket:
    return AnalysisBucket(require_env("BUCKET_NAME"))


def _float_env(name: str, default: float) -> float:
    raw = optional_env(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be a number, got {raw!r}") from None


def _rules() -> tuple[anomalies.AnomalyRule, anomalies.AnomalyRule]:
    z, change = _float_env("ANOMALY_Z", 3.5), _float_env("ANOMALY_MIN_CHANGE", 0.3)
    store = anomalies.AnomalyRule(z, change, min_baseline=anomalies.STORE_RULE.min_baseline)
    product = anomalies.AnomalyRule(z, change, min_baseline=max(1, int_env("PRODUCT_MIN_UNITS", 20)))
    return store, product


def _narrator() -> Narrator:
    return Narrator(
        model_id=require_env("MODEL_ID"),
        max_tokens=int_env("MAX_TOKENS", 1024),
        endpoint_url=os.environ.get("BEDROCK_ENDPOINT_URL") or None,
    )


def _require(bucket: AnalysisBucket, key: str, step: str) -> Any:
    document = bucket.get_json(key)
    if document is None:
        raise SnapshotMissingError(f"{step} needs s3://{bucket.name}/{key}, which is not there")
    return document


def _snapshot(bucket: AnalysisBucket, event: Mapping[str, Any], date: str):
    """The records of the snapshot the state points at (``snapshotKey``, GetStoreSummaries' answer)."""
    key = event.get("snapshotKey")
    if not isinstance(key, str) or not key.startswith(layout.snapshot_prefix(date)):
        raise InvalidInputError("snapshotKey", f"must be a snapshot of {date} (GetStoreSummaries' snapshotKey)")
    try:
        yield from bucket.iter_lines(key)
    except ObjectMissing:
        raise SnapshotMissingError(f"no snapshot s3://{bucket.name}/{key}") from None


def _categories(bucket: AnalysisBucket, step: str) -> CategoryMap:
    """The categories the program deployed (``config/categories.json``); a ConfigurationError if unusable."""
    where = f"s3://{bucket.name}/{layout.CATEGORIES_KEY}"
    try:
        return CategoryMap.from_setting(bucket.get_json(layout.CATEGORIES_KEY) or {})
    except (DataIntegrityError, ValueError) as exc:
        problem = str(exc).removeprefix(f"{where} ")
        raise ConfigurationError(
            f"{step}: the categories {where} are unusable ({problem}); `pulumi up` rewrites them from "
            "stepworks:daily-analysis.categories"
        ) from None


def _stored_days(bucket: AnalysisBucket, dates: list[str], kind: str) -> set[str]:
    """Which of ``dates`` have ``history/date=D/<kind>.json`` (one listing, not a request per day)."""
    first = min(dates)
    keys = bucket.keys(layout.HISTORY_PREFIX, start_after=f"{layout.HISTORY_PREFIX}date={first}")
    found = {key for key in keys if key.endswith(f"/{kind}.json")}
    return {date for date in dates if layout.history_key(date, kind) in found}


@logger.inject_lambda_context
def get_store_summaries(event, context):
    """GetStoreSummaries: the date's store summaries → one NDJSON snapshot; the missing history days filled."""
    from pipelines.uploads.store import SummaryTable  # only this step reads the uploads table

    date, bucket = _date(event), _bucket()
    table = SummaryTable(require_env("SUMMARY_TABLE_NAME"))
    count = bucket.put_lines(layout.snapshot_key(date), snapshot_rows(date, table.store_days_on(date)))
    wanted = history_dates(date, int_env("ANOMALY_WEEKS", 4))
    stored = _stored_days(bucket, wanted, "stores") & _stored_days(bucket, wanted, "products")
    backfilled = []
    for day in (d for d in wanted if d not in stored):
        rows = list(snapshot_rows(day, table.store_days_on(day)))
        if rows:  # a day without summaries stays a gap (a later upload can still fill it)
            bucket.put_json(layout.history_key(day, "stores"), metrics.store_rows(rows))
            bucket.put_json(layout.history_key(day, "products"), metrics.product_rows(rows))
            backfilled.append(day)
    logger.info("snapshot written", extra={"date": date, "stores": count, "backfilled": backfilled})
    return state.summaries(count, date, backfilled)


@logger.inject_lambda_context
def calc_company_metrics(event, context):
    """CalcCompanyMetrics: the day's store rows (stored as history) and the company metrics."""
    date, bucket = _date(event), _bucket()
    stores = metrics.store_rows(_snapshot(bucket, event, date))
    bucket.put_json(layout.history_key(date, "stores"), stores)
    previous, last_week = (bucket.get_json(layout.history_key(d, "stores")) for d in history_pair(date))
    company = metrics.company_metrics(stores, previous, last_week, ranking_limit=int_env("TOP_N", 10))
    bucket.put_json(layout.analysis_key(date, "company"), company)
    return state.company(company)


def history_pair(date: str) -> tuple[str, str]:
    """The previous day and the same weekday last week."""
    return trend_dates(date, 2)[0], same_weekday_dates(date, 1)[0]


@logger.inject_lambda_context
def calc_product_metrics(event, context):
    """CalcProductMetrics: the day's product rows (stored as history) and top/bottom sellers and categories."""
    date, bucket = _date(event), _bucket()
    totals = metrics.ProductTotals()
    for row in _snapshot(bucket, event, date):
        totals.add(row)
    rows = totals.rows()
    bucket.put_json(layout.history_key(date, "products"), rows)
    categories = _categories(bucket, "CalcProductMetrics")
    products = metrics.product_metrics(rows, categories, limit=int_env("TOP_N", 10))
    bucket.put_json(layout.analysis_key(date, "products"), products)
    return state.products(products)


def _weeks(bucket: AnalysisBucket, date: str, kind: str) -> list[list[dict[str, Any]]]:
    """The same weekday of the last ANOMALY_WEEKS weeks, oldest first (a week without history: [])."""
    dates = list(reversed(same_weekday_dates(date, int_env("ANOMALY_WEEKS", 4))))
    return [bucket.get_json(layout.history_key(d, kind)) or [] for d in dates]


def _section(bucket: AnalysisBucket, date: str, name: str, narrator: Narrator, answer: dict, **counts: int) -> dict:
    """Store the section's narrative (the model's answer, its token usage); answer the pointer to it."""
    narrative = {"section": name, "available": True, "answer": answer, "usage": narrator.usage.to_dict()}
    bucket.put_json(layout.narrative_key(date, name), {**narrative, "prompt": PROMPT_VERSIONS[name], **counts})
    return state.section(name, date, **counts)


@logger.inject_lambda_context
def detect_anomalies(event, context):
    """DetectAnomalies: the rule flags stores and products (stored first), then Bedrock explains them."""
    date, bucket = _date(event), _bucket()
    store_rule, product_rule = _rules()
    stores = _require(bucket, layout.history_key(date, "stores"), "DetectAnomalies")
    products = _require(bucket, layout.history_key(date, "products"), "DetectAnomalies")
    found = [
        *anomalies.store_anomalies(stores, _weeks(bucket, date, "stores"), store_rule),
        *anomalies.product_anomalies(products, _weeks(bucket, date, "products"), product_rule),
    ]
    rule = {"stores": dataclasses.asdict(store_rule), "products": dataclasses.asdict(product_rule)}
    document = {"date": date, "rule": rule, "findings": found}
    bucket.put_json(layout.analysis_key(date, "anomalies"), document)
    narrator = _narrator()
    answer = narrator.ask(PROMPT_VERSIONS["anomalies"], date, found[:NARRATED_FINDINGS], NARRATIVE)
    return _section(bucket, date, "anomalies", narrator, answer, findings=len(found))


@logger.inject_lambda_context
def analyze_trends(event, context):
    """AnalyzeTrends: moving averages and week-over-week (stored first), then Bedrock describes them."""
    date, bucket = _date(event), _bucket()
    daily = {d: rows for d in trend_dates(date) if (rows := bucket.get_json(layout.history_key(d, "stores")))}
    if date not in daily:
        raise SnapshotMissingError(f"AnalyzeTrends needs the stores of {date} (CalcCompanyMetrics writes them)")
    document = {"date": date, "company": trends.company_trends(daily, date), "movers": trends.store_movers(daily, date)}
    bucket.put_json(layout.analysis_key(date, "trends"), document)
    narrator = _narrator()
    answer = narrator.ask(PROMPT_VERSIONS["trends"], date, document, NARRATIVE)
    return _section(bucket, date, "trends", narrator, answer, days=len(daily))


@logger.inject_lambda_context
def generate_recommendations(event, context):
    """GenerateRecommendations: Bedrock over the day's metrics and the computed findings."""
    date, bucket = _date(event), _bucket()
    company = _require(bucket, layout.analysis_key(date, "company"), "GenerateRecommendations")
    found = bucket.get_json(layout.analysis_key(date, "anomalies")) or {"findings": []}
    computed = bucket.get_json(layout.analysis_key(date, "trends")) or {}
    data = {
        "company": report.headline(company),
        "anomalies": found["findings"][:NARRATED_FINDINGS],
        "trends": computed.get("company", {}),
    }
    narrator = _narrator()
    answer = narrator.ask(PROMPT_VERSIONS["recommendations"], date, data, RECOMMENDATIONS)
    return _section(bucket, date, "recommendations", narrator, answer)


@logger.inject_lambda_context
def combine_insights(event, context):
    """CombineInsights: the sections (available or why not) and the token usage → insights.json."""
    date, bucket = _date(event), _bucket()
    analysis, recommendations = event.get("analysis"), event.get("recommendations")
    if not isinstance(analysis, list) or not isinstance(recommendations, Mapping):
        raise InvalidInputError("analysis", "CombineInsights needs the two Bedrock branches and the recommendations")
    try:
        sections = resolve(date, [*analysis, recommendations], bucket.get_json)
    except ValueError as exc:
        raise SnapshotMissingError(f"CombineInsights: {exc}") from None
    insights = combine(date, str(event.get("execution", "")), sections, require_env("MODEL_ID"))
    bucket.put_json(layout.analysis_key(date, "insights"), insights)
    return state.insights(insights)


@logger.inject_lambda_context
def generate_report(event, context):
    """GenerateReport: the plain-text e-mail (kept as reports/…/report.txt) and its subject."""
    date, bucket = _date(event), _bucket()
    parts = {
        part: bucket.get_json(layout.analysis_key(date, part))
        for part in ("company", "products", "anomalies", "trends", "insights")
    }
    if parts["company"] is None or parts["insights"] is None:
        raise SnapshotMissingError(f"GenerateReport needs the company metrics and insights of {date}")
    subject, message = report.render(date, **parts)
    bucket.put_text(layout.report_key(date), f"Subject: {subject}\n\n{message}")
    return state.report_message(subject, message, bucket.name, date)


@logger.inject_lambda_context
def export_to_quicksight(event, context):
    """ExportToQuickSight: one NDJSON object per dataset for the date (the manifests are deployed)."""
    date, bucket = _date(event), _bucket()
    stores = _require(bucket, layout.history_key(date, "stores"), "ExportToQuickSight")
    products = _require(bucket, layout.history_key(date, "products"), "ExportToQuickSight")
    found = bucket.get_json(layout.analysis_key(date, "anomalies")) or {"findings": []}
    categories = _categories(bucket, "ExportToQuickSight")
    datasets = export.datasets(date, stores, products, found["findings"], categories)
    written = {name: bucket.put_lines(layout.export_key(name, date), rows) for name, rows in datasets.items()}
    return state.export(date, written)
