"""Upload ETL throughput and peak memory: the pipeline's streaming ETL beside pandas on the same file.

    python benchmarks/upload_etl.py [--lines 500000] [--stores 20] [--days 7] [--ndjson] [--repeat 2]
                                    [--keep DIR] [--with-200mb]

Generates one sample upload (``pipelines.uploads.generate``, seeded, 0.5 % bad records) twice: as
compact JSON (one transaction per line, ~87 bytes per line item) and as the same document
pretty-printed with ``indent=2``, as many POS exporters write it (~146 bytes per line item: the
500,000 line items the issue names come to ~73 MB, within its "about 60–80 MB"). Same records,
same positions, same summaries; only the whitespace differs. Each file is processed in child
processes, one per approach, so each one's peak RSS is its own:

* pipeline — ``parse`` (streaming, 64 KiB chunks) → ``validate`` every record → ``aggregate``
             into per (store, date) summaries: revenue, units, transactions, refunds, 24 hourly
             buckets, per-product units and revenue, all in exact minor units (``aggregate.run``
             checks well-formed records on ``fast``'s one-pass path, every other one with
             ``validate``: the same rules, the same rejections);
* pandas   — ``json.load`` of the whole file → ``json_normalize`` of the line items with their
             transaction fields → ``groupby`` (store, date) sums, hourly and per-product sums.
             It validates nothing and computes money in float; it is the baseline, not an equal.

Each approach runs ``--repeat`` times per file, alternating which goes first; on a shared machine
interference only ever adds time, so the best run is reported (and the median beside it).
Reported per approach: wall time of the work (after imports), line items per second, peak RSS
of the child (``ru_maxrss``) and that peak minus the RSS after imports (what the work added).

DynamoDB writes are counted, not computed: the file's summaries go through ``store_contribution``
(what ProcessUpload runs) against moto, and every write request the DynamoDB client sends is
counted at the SDK (items of each TransactWriteItems, each PutItem / DeleteItem). Done for the
file and for one of a tenth of its line items over the same stores and days: the count follows
the (store, date, part) items touched, not the records. The same version stored again writes nothing.

``--with-200mb`` also generates a ~200 MB compact upload and runs it the way ProcessUpload does,
once: with the handler's imports loaded (boto3, Powertools), parse → validate → aggregate, then
the contribution document it spills to S3 encoded (the largest thing it holds); its peak RSS
against the 1 GB target (a 1,769 MB Lambda), its time against ProcessUpload's 300 s timeout
scaled to a 256 MB upload (the default ``maxFileMb``), and its DynamoDB writes counted as above.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# `make bench` runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1024 * 1024
PEAK_TARGET_MIB = 1024  # the target for a 200 MB upload, so it runs in a 1,769 MB Lambda
LINES_200MB = 2_300_000  # ~200 MB of compact JSON


def _rss_kib() -> int:
    # Current RSS from /proc (Linux); ru_maxrss alone would only give the peak.
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_pipeline(path: str, as_lambda: bool = False) -> dict:
    """The pipeline's ETL over ``path``; figures for the report.

    ``as_lambda``: with the handler's imports loaded first, and the contribution document the
    handler spills to S3 encoded after the ETL, as ProcessUpload holds them.
    """
    if as_lambda:
        import pipelines.uploads.handlers  # noqa: F401  (boto3, Powertools: loaded before the first byte)
    from pipelines.uploads.aggregate import run
    from pipelines.uploads.parse import parse

    base = _rss_kib()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        outcome = run(parse(stream, path), keep=100)
    spilled = 0
    if as_lambda:
        from pipelines.common.jsontext import utf8_json
        from pipelines.uploads.contributions import Contribution, Source
        from pipelines.uploads.items import contribution_json

        contribution = Contribution(Source("bench", "uploads/sales.json"), "v1", outcome.summaries)
        spilled = len(utf8_json(contribution_json(contribution)))
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "lines": outcome.lines,
        "records": outcome.records,
        "rejected": outcome.rejected,
        "store_days": len(outcome.summaries),
        "revenue": sum(day.revenue for day in outcome.summaries.values()),
        "spilled_bytes": spilled,
        "base_kib": base,
    }


def run_pandas(path: str) -> dict:
    """pandas over ``path``: json.load, json_normalize, groupby; figures for the report."""
    import pandas as pd

    base = _rss_kib()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        if path.endswith((".ndjson", ".jsonl")):
            records = [json.loads(line) for line in stream if line.strip()]
        else:
            records = json.load(stream)["transactions"]
    # The bad records would break the frame (lines missing, not arrays): drop what cannot be normalised.
    records = [r for r in records if isinstance(r.get("lines"), list) and "timestamp" in r and "storeId" in r]
    frame = pd.json_normalize(records, "lines", ["storeId", "transactionId", "timestamp"], errors="ignore")
    del records
    price = pd.to_numeric(frame["unitPrice"], errors="coerce")
    discount = pd.to_numeric(frame.get("discount"), errors="coerce").fillna(0)
    quantity = pd.to_numeric(frame["quantity"], errors="coerce")
    frame["net"] = quantity.clip(-1, 1) * (quantity.abs() * price - discount)
    frame["quantity"] = quantity
    stamp = frame["timestamp"].astype(str)
    frame["date"], frame["hour"] = stamp.str[:10], stamp.str[11:13]
    frame["refund"] = frame["net"].where(quantity < 0, 0)
    by_day = frame.groupby(["storeId", "date"])
    summary = by_day.agg(
        revenue=("net", "sum"),
        units=("quantity", "sum"),
        transactions=("transactionId", "nunique"),
        refunds=("refund", "sum"),
    )
    hourly = frame.groupby(["storeId", "date", "hour"])["net"].sum()
    products = frame.groupby(["storeId", "date", "productId"])[["quantity", "net"]].sum()
    elapsed = time.perf_counter() - start
    return {
        "seconds": elapsed,
        "lines": len(frame),
        "store_days": len(summary),
        "hourly_cells": len(hourly),
        "product_rows": len(products),
        "revenue": float(summary["revenue"].sum()),
        "base_kib": base,
    }


def _writes_counter(counts: Counter):
    """A botocore ``before-parameter-build`` hook counting each DynamoDB request and the items it writes."""

    def count(params: dict, model, **_) -> None:
        operation = model.name
        counts[operation] += 1
        if operation == "TransactWriteItems":
            counts["written"] += len(params["TransactItems"])
        elif operation == "BatchWriteItem":
            counts["written"] += sum(len(requests) for requests in params["RequestItems"].values())
        elif operation in ("PutItem", "DeleteItem", "UpdateItem"):
            counts["written"] += 1

    return count


def run_writes(path: str) -> dict:
    """The file's summaries stored by ``store_contribution`` against moto; DynamoDB requests as sent."""
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION="eu-west-2", AWS_REGION="eu-west-2",
    )  # fmt: skip
    from moto import mock_aws

    from infra.sandbox import dynamodb_reads, dynamodb_transactions
    from pipelines.common.aws import client
    from pipelines.uploads.aggregate import run
    from pipelines.uploads.contributions import Contribution, Source
    from pipelines.uploads.layout import DATE_INDEX, DATE_INDEX_PARTITION, DATE_INDEX_SORT
    from pipelines.uploads.objects import ContributionArchive, UploadBucket
    from pipelines.uploads.parse import parse
    from pipelines.uploads.store import SummaryTable, store_contribution

    with open(path, "rb") as stream:
        outcome = run(parse(stream, path))
    contribution = Contribution(Source("bench-uploads", "uploads/sales.json"), "v1", outcome.summaries)
    # The sandbox's moto: TransactWriteItems as AWS runs it (not a copy of the table per item), and
    # read answers written as JSON directly (moto's serializer would be most of the time).
    undo = [dynamodb_transactions.install(), dynamodb_reads.install()]
    try:
        with mock_aws():
            s3, dynamodb = client("s3"), client("dynamodb")
            s3.create_bucket(Bucket="bench-uploads", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
            keys = ("pk", "sk", DATE_INDEX_PARTITION, DATE_INDEX_SORT)
            dynamodb.create_table(
                TableName="summaries",
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in keys],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": DATE_INDEX,
                        "KeySchema": [
                            {"AttributeName": DATE_INDEX_PARTITION, "KeyType": "HASH"},
                            {"AttributeName": DATE_INDEX_SORT, "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
            table, archive = SummaryTable("summaries"), ContributionArchive(UploadBucket("bench-uploads"))
            first, again = Counter(), Counter()
            event, hook = "before-parameter-build.dynamodb", _writes_counter(first)
            dynamodb.meta.events.register(event, hook)
            start = time.perf_counter()
            stored = store_contribution(contribution, table, archive)
            elapsed = time.perf_counter() - start
            dynamodb.meta.events.unregister(event, hook)
            dynamodb.meta.events.register(event, _writes_counter(again))
            replay = store_contribution(contribution, table, archive)
            pages = dynamodb.get_paginator("scan").paginate(TableName="summaries", Select="COUNT")
            items = sum(page["Count"] for page in pages)
    finally:
        for undo_patch in undo:
            undo_patch()
    return {
        "lines": outcome.lines,
        "store_days": len(outcome.summaries),
        "outcome": stored.outcome,
        "reported_writes": stored.writes,
        "requests": dict(first),
        "replay_outcome": replay.outcome,
        "replay_written": again["written"],
        "table_items": items,
        "seconds": elapsed,
    }


CHILDREN = {
    "pipeline": run_pipeline,
    "pandas": run_pandas,
    "lambda": lambda path: run_pipeline(path, as_lambda=True),
    "writes": run_writes,
}


def child(approach: str, path: str) -> None:
    """Run one approach and print its figures as JSON, with this process's peak RSS."""
    figures = CHILDREN[approach](path)
    figures["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(figures))


def measure(approach: str, path: str) -> dict:
    """Run ``approach`` in a fresh interpreter; its figures."""
    return measure_together([(approach, path)])[0]


def measure_together(runs: list[tuple[str, str]]) -> list[dict]:
    """Each ``(approach, path)`` in its own fresh interpreter, all at once; their figures, in order.

    Only for what is counted, not timed (the DynamoDB writes): the timed runs go one at a time.
    """
    children = [
        subprocess.Popen([sys.executable, __file__, "--child", approach, path], stdout=subprocess.PIPE, text=True)
        for approach, path in runs
    ]
    answers = []
    for (approach, _), process in zip(runs, children, strict=True):
        out, _ = process.communicate()
        if process.returncode:
            raise SystemExit(f"the {approach} child failed ({process.returncode})")
        answers.append(json.loads(out.strip().splitlines()[-1]))
    return answers


def best_of(path: str, repeat: int) -> dict[str, dict]:
    """Each approach ``repeat`` times, alternating order; per approach its fastest run, with the median time."""
    runs: dict[str, list[dict]] = {"pipeline": [], "pandas": []}
    for attempt in range(repeat):
        for approach in list(runs) if attempt % 2 == 0 else list(reversed(runs)):
            runs[approach].append(measure(approach, path))
    figures = {}
    for approach, results in runs.items():
        best = min(results, key=lambda r: r["seconds"])
        best["median_seconds"] = statistics.median(r["seconds"] for r in results)
        best["peak_kib"] = max(r["peak_kib"] for r in results)
        figures[approach] = best
    return figures


def generate_file(path: str, lines: int, stores: int, days: int, **options) -> str:
    """Write the benchmark's upload to ``path``; a line saying what it holds."""
    from pipelines.uploads.generate import write

    with open(path, "wb") as out:
        info = write(out, stores, days, lines, bad_ratio=0.005, seed=2026, **options)
    size = Path(path).stat().st_size
    return (
        f"{size / 1e6:.1f} MB ({size / max(1, info.lines):.0f} bytes per line item), {info.transactions:,} "
        f"transactions, {info.lines:,} line items, {len(info.bad):,} bad records, {stores} stores x {days} days"
    )


def report(figures: dict[str, dict]) -> None:
    """Print one file's pipeline and pandas figures and their ratios."""
    for name, f in figures.items():
        rate = f["lines"] / f["seconds"]
        print(
            f"  {name:<9} {f['seconds']:7.2f} s (median {f['median_seconds']:.2f})  {rate:>9,.0f} lines/s"
            f"  peak RSS {f['peak_kib'] / 1024:7.1f} MiB"
            f"  (+{(f['peak_kib'] - f['base_kib']) / 1024:.1f} MiB over its imports)"
        )
    pipe, pandas = figures["pipeline"], figures["pandas"]
    print(
        f"  pipeline / pandas: {pandas['seconds'] / pipe['seconds']:.2f}x throughput, "
        f"{pipe['peak_kib'] / pandas['peak_kib']:.2f}x peak RSS, "
        f"{(pipe['peak_kib'] - pipe['base_kib']) / max(1, pandas['peak_kib'] - pandas['base_kib']):.2f}x memory added"
    )


def report_writes(w: dict) -> None:
    """Print what one file's store_contribution sent to DynamoDB."""
    requests = w["requests"]
    written = requests.get("written", 0)
    transactions, puts = requests.get("TransactWriteItems", 0), requests.get("PutItem", 0)
    reads = requests.get("Query", 0) + requests.get("GetItem", 0)
    print(
        f"  {w['lines']:>9,} line items loaded, {w['store_days']} store-days: {written:,} items written "
        f"({transactions} TransactWriteItems + {puts} PutItem, the pointer), {reads} reads, "
        f"{w['seconds']:.1f} s; the same version again: {w['replay_written']} written ({w['replay_outcome']})"
    )
    if written != w["reported_writes"] or w["table_items"] != w["reported_writes"]:
        print(f"  !! store_contribution reported {w['reported_writes']:,} writes; the table holds {w['table_items']:,}")


def report_200mb(f: dict, size: int) -> None:
    """Print the ~200 MB upload's ProcessUpload path against the memory target and the timeout."""
    from infra.workflows.uploads import DEFAULT_FUNCTIONS
    from pipelines.uploads.format import DEFAULT_MAX_FILE_MB

    peak, added = f["peak_kib"] / 1024, (f["peak_kib"] - f["base_kib"]) / 1024
    print(
        f"  {f['seconds']:.2f} s, {f['lines'] / f['seconds']:,.0f} lines/s, peak RSS {peak:.1f} MiB "
        f"(target: within {PEAK_TARGET_MIB:,} MiB; +{added:.1f} MiB over the handler's imports; "
        f"contribution document {f['spilled_bytes'] / 1e6:.1f} MB)"
    )
    at_limit, timeout = f["seconds"] * DEFAULT_MAX_FILE_MB * MIB / size, DEFAULT_FUNCTIONS.timeout_s
    print(
        f"  at this rate a {DEFAULT_MAX_FILE_MB} MB upload (the default maxFileMb) takes ~{at_limit:.0f} s of ETL, "
        f"{at_limit / timeout:.0%} of ProcessUpload's {timeout} s timeout"
    )


FILES = [("compact JSON", "sales.json", {}), ("indented JSON (indent=2)", "sales-indented.json", {"indent": 2})]
NDJSON_FILES = [("NDJSON", "sales.ndjson", {"ndjson": True})]


def main(
    lines: int, stores: int, days: int, ndjson: bool, keep: str | None, repeat: int = 2, with_200mb: bool = False
) -> dict:
    """Generate, measure both approaches on each file, count the writes, print and return the figures."""
    results: dict = {}
    files = NDJSON_FILES if ndjson else FILES
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for label, name, options in files:
            path = str(folder / name)
            print(f"upload, {label}: {generate_file(path, lines, stores, days, **options)}")
            results[label] = figures = best_of(path, repeat)
            report(figures)
        pipe, pandas = results[files[0][0]]["pipeline"], results[files[0][0]]["pandas"]
        print(
            f"  pipeline: {pipe['records']:,} records, {pipe['rejected']:,} rejected, {pipe['store_days']} store-days; "
            f"revenue {pipe['revenue'] / 100:,.2f} (pandas, float, unvalidated: {pandas['revenue']:,.2f})"
        )
        print("DynamoDB writes per file, counted at the SDK (store_contribution against moto):")
        small = str(folder / f"small-{files[0][1]}")
        generate_file(small, max(1, lines // 10), stores, days, **files[0][2])
        counted = [small, str(folder / files[0][1])]
        if with_200mb:
            big = str(folder / "sales-200mb.json")
            described = generate_file(big, LINES_200MB, stores, days)
            counted.append(big)
        results["writes"] = measure_together([("writes", path) for path in counted])
        for writes in results["writes"]:
            report_writes(writes)
        first, last = results["writes"][0], results["writes"][-1]
        print(
            f"  {last['lines'] / first['lines']:.1f}x the line items → "
            f"{last['requests']['written'] / first['requests']['written']:.2f}x the writes"
        )
        if with_200mb:
            print(f"upload, compact JSON: {described}; the ProcessUpload path, once:")
            results["200mb"] = measure("lambda", big)
            report_200mb(results["200mb"], Path(big).stat().st_size)
    return results


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000, help="line items in the generated file")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--ndjson", action="store_true", help="generate NDJSON instead of the two JSON documents")
    parser.add_argument("--keep", help="write the generated files into this folder and keep them")
    parser.add_argument("--repeat", type=int, default=2, help="runs per approach and file; the best is reported")
    parser.add_argument(
        "--with-200mb", action="store_true", help="also run a ~200 MB upload the way ProcessUpload does (peak, time)"
    )
    args = parser.parse_args()
    main(args.lines, args.stores, args.days, args.ndjson, args.keep, max(1, args.repeat), args.with_200mb)
