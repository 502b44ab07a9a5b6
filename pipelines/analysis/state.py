"""What each daily-analysis step answers into the state machine's state (pure): small and bounded.

Whatever a step computes stays in the bucket under keys of the date (``layout``); its answer is a
few counts, flags and pointers whose size does not grow with the stores, the products, the model's
answers or the currencies of the day. The one text that must travel, the report e-mail SNS
publishes, is cut to ``report.MESSAGE_LIMIT_BYTES`` (UTF-8) with a line naming the full report's
object. ``benchmarks/daily_metrics.py`` measures the largest state these answers make at 1,000
stores x 2,000 products with every model answer at its longest in 3-byte characters.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.analysis import layout, report


def summaries(count: int, date: str, backfilled: Sequence[str]) -> dict[str, Any]:
    """GetStoreSummaries: how many stores, the snapshot's key (the pointer later steps read), the days filled in."""
    return {"count": count, "snapshotKey": layout.snapshot_key(date), "backfilled": list(backfilled)}


def company(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """CalcCompanyMetrics: counts (the figures are in ``analysis/…/company.json``, one entry per currency)."""
    return {"storeCount": metrics["storeCount"], "currencies": len(metrics["currencies"])}


def products(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """CalcProductMetrics: counts."""
    return {"productCount": metrics["productCount"], "categories": len(metrics["categories"])}


def section(name: str, date: str, **counts: int) -> dict[str, Any]:
    """A Bedrock step that wrote its section: a flag and the pointer to ``analysis/…/narratives/<name>.json``."""
    return {"section": name, "available": True, "narrativeKey": layout.narrative_key(date, name), **counts}


def insights(document: Mapping[str, Any]) -> dict[str, Any]:
    """CombineInsights: whether a section is unavailable, which, the alert to send (bounded) and the tokens."""
    return {
        "bedrockFailed": bool(document["unavailable"]),
        "unavailable": [item["section"] for item in document["unavailable"]],
        "alert": report.bedrock_alert(document),
        "usage": document["usage"]["total"],
    }


def report_message(subject: str, body: str, bucket: str, date: str) -> dict[str, Any]:
    """GenerateReport: the subject and the e-mail text SNS publishes (cut to fit, pointing at the object)."""
    key = layout.report_key(date)
    message = report.bounded(body, f"s3://{bucket}/{key}")
    return {"subject": subject, "message": message, "reportKey": key, "truncated": message != body}


def export(date: str, rows: Mapping[str, int]) -> dict[str, Any]:
    """ExportToQuickSight: rows written per dataset."""
    return {"date": date, "rows": dict(rows)}
