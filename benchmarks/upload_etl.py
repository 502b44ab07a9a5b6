"""Upload ETL throughput and peak memory: the pipeline's streaming ETL beside pandas on the same file.

    python benchmarks/upload_etl.py [--lines 500000] [--stores 20] [--days 7] [--ndjson] [--repeat 3] [--keep FILE]

Generates one sample upload (``pipelines.uploads.generate``, seeded, 0.5 % bad records), then
processes it in two child processes, one per approach, so each one's peak RSS is its own:

* pipeline — ``parse`` (streaming, 64 KiB chunks) → ``validate`` every record → ``aggregate``
             into per (store, date) summaries: revenue, units, transactions, refunds, 24 hourly
             buckets, per-product units and revenue, all in exact minor units (``aggregate.run``
             checks well-formed records on ``fast``'s one-pass path, every other one with
             ``validate``: the same rules, the same rejections);
* pandas   — ``json.load`` of the whole file → ``json_normalize`` of the line items with their
             transaction fields → ``groupby`` (store, date) sums, hourly and per-product sums.
             It validates nothing and computes money in float; it is the baseline, not an equal.

Each approach runs ``--repeat`` times, alternating which goes first; on a shared machine
interference only ever adds time, so the best run is reported (and the median beside it).
Reported per approach: wall time of the work (after imports), line items per second, peak RSS
of the child (``ru_maxrss``) and that peak minus the RSS after imports (what the work added).
Also printed: the DynamoDB items one write of the file would touch (summary + product parts per
store-day), which grows with the store-days, not with the records.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# `make bench` runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _rss_kib() -> int:
    # Current RSS from /proc (Linux); ru_maxrss alone would only give the peak.
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_pipeline(path: str) -> dict:
    """The pipeline's ETL over ``path``; figures for the report."""
    from pipelines.uploads.aggregate import run
    from pipelines.uploads.layout import split_products
    from pipelines.uploads.parse import parse

    base = _rss_kib()
    start = time.perf_counter()
    with open(path, "rb") as stream:
        outcome = run(parse(stream, path), keep=100)
    elapsed = time.perf_counter() - start
    items = sum(1 + len(split_products(day.products)) for day in outcome.summaries.values())
    return {
        "seconds": elapsed,
        "lines": outcome.lines,
        "records": outcome.records,
        "rejected": outcome.rejected,
        "store_days": len(outcome.summaries),
        "items": items,
        "revenue": sum(day.revenue for day in outcome.summaries.values()),
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


def child(approach: str, path: str) -> None:
    """Run one approach and print its figures as JSON, with this process's peak RSS."""
    figures = {"pipeline": run_pipeline, "pandas": run_pandas}[approach](path)
    figures["peak_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(figures))


def measure(approach: str, path: str) -> dict:
    """Run ``approach`` in a fresh interpreter; its figures."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", approach, path], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


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


def main(lines: int, stores: int, days: int, ndjson: bool, keep: str | None, repeat: int = 3) -> dict:
    """Generate, measure both approaches, print and return the figures."""
    from pipelines.uploads.generate import write

    with tempfile.TemporaryDirectory() as tmp:
        path = keep or str(Path(tmp) / ("sales.ndjson" if ndjson else "sales.json"))
        with open(path, "wb") as out:
            info = write(out, stores, days, lines, ndjson=ndjson, bad_ratio=0.005, seed=2026)
        size = Path(path).stat().st_size
        print(
            f"upload: {size / 1e6:.1f} MB {'NDJSON' if ndjson else 'JSON'}, {info.transactions:,} transactions, "
            f"{info.lines:,} line items, {len(info.bad):,} bad records, {stores} stores x {days} days"
        )
        figures = best_of(path, repeat)
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
    print(
        f"  pipeline: {pipe['records']:,} records, {pipe['rejected']:,} rejected, {pipe['store_days']} store-days, "
        f"{pipe['items']:,} DynamoDB items touched (summary + product parts); "
        f"revenue {pipe['revenue'] / 100:,.2f} (pandas, float, unvalidated: {pandas['revenue']:,.2f})"
    )
    return figures


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        raise SystemExit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000, help="line items in the generated file")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--ndjson", action="store_true", help="generate NDJSON instead of one JSON document")
    parser.add_argument("--keep", help="write the generated file here and keep it")
    parser.add_argument("--repeat", type=int, default=3, help="runs per approach; the best is reported (default 3)")
    args = parser.parse_args()
    main(args.lines, args.stores, args.days, args.ndjson, args.keep, max(1, args.repeat))
