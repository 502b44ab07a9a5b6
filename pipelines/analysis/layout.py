"""Where daily-analysis keeps things in its bucket: one deterministic key per (kind, date).

A re-run of a date writes the same keys, so it overwrites rather than duplicates; history for
later days is a read of a few small objects (``history/``), not a re-query of the summaries.

    snapshots/date=D/summaries.ndjson     the day's store summaries, one store per line (GetStoreSummaries)
    history/date=D/stores.json            the day's store rows (CalcCompanyMetrics, or the backfill)
    history/date=D/products.json          the day's product rows (CalcProductMetrics, or the backfill)
    analysis/date=D/<part>.json           company, products, anomalies, trends, insights
    analysis/date=D/narratives/<section>.json   a Bedrock step's answer and token usage (anomalies, trends,
                                          recommendations): the state carries only a pointer to it
    reports/date=D/report.txt             the e-mail the report topic sent
    quicksight/<dataset>/date=D/<dataset>.ndjson   the export, one folder per dataset and date
    quicksight-manifests/<dataset>.json   the QuickSight S3 manifest over every date of a dataset (deployed)
"""

from __future__ import annotations

SNAPSHOT_PREFIX = "snapshots/"
HISTORY_PREFIX = "history/"
ANALYSIS_PREFIX = "analysis/"
REPORT_PREFIX = "reports/"
EXPORT_PREFIX = "quicksight/"
MANIFEST_PREFIX = "quicksight-manifests/"
# Every date's narratives, as an IAM pattern (``*`` spans the date).
NARRATIVES = f"{ANALYSIS_PREFIX}date=*/narratives/"
CONFIG_PREFIX = "config/"
CATEGORIES_KEY = f"{CONFIG_PREFIX}categories.json"
# The export's datasets: one column set each (QuickSight reads one schema per manifest).
DATASETS = ("store-metrics", "product-metrics", "anomalies")


def snapshot_prefix(date: str) -> str:
    return f"{SNAPSHOT_PREFIX}date={date}/"


def snapshot_key(date: str) -> str:
    return f"{snapshot_prefix(date)}summaries.ndjson"


def history_key(date: str, kind: str) -> str:
    """``kind`` is ``stores`` or ``products``."""
    return f"{HISTORY_PREFIX}date={date}/{kind}.json"


def analysis_key(date: str, part: str) -> str:
    return f"{ANALYSIS_PREFIX}date={date}/{part}.json"


def narrative_key(date: str, section: str) -> str:
    """``section`` is ``anomalies``, ``trends`` or ``recommendations``."""
    return f"{ANALYSIS_PREFIX}date={date}/narratives/{section}.json"


def report_key(date: str) -> str:
    return f"{REPORT_PREFIX}date={date}/report.txt"


def export_key(dataset: str, date: str) -> str:
    return f"{EXPORT_PREFIX}{dataset}/date={date}/{dataset}.ndjson"


def manifest_key(dataset: str) -> str:
    return f"{MANIFEST_PREFIX}{dataset}.json"
