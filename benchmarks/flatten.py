"""Benchmark: flattening radar-shaped records to CSV against pandas and against the I/O floor.

Run: ``.venv/bin/python -m benchmarks.flatten [records]`` (default 100,000). Each contender
starts from the same JSON lines and writes CSV to a discarding sink, in one process, one after
another, so the figures are comparable. Peak memory is traced per contender with tracemalloc
in a separate pass (tracing slows Python down and would distort the timings).
"""

from __future__ import annotations

import csv
import gc
import json
import random
import sys
import time
import tracemalloc

from pipelines.radar.flatten import Flattener, write_csv

CATEGORIES = [
    {"id": 81, "name": "Content Servers", "superCategoryId": 3},
    {"id": 26, "name": "Technology", "superCategoryId": 12},
    {"id": 89, "name": "Information Technology", "superCategoryId": 26},
    {"id": 155, "name": "Search Engines", "superCategoryId": 12},
]
LOCATIONS = ["US", "DE", "GB", "IN", "BR", "JP", "FR", "PT"]


def radar_record(rng: random.Random, index: int) -> dict:
    """One org's data.json document as prepare_files builds it: org envelope + ranking + summary + meta."""
    rank = rng.choice([None, rng.randint(1, 100_000)])
    annotations = (
        []
        if rng.random() < 0.8
        else [
            {
                "dataSource": "ALL",
                "eventType": "OUTAGE",
                "description": "Regional outage",
                "isInstantaneous": False,
            }
        ]
    )
    meta = {
        "dateRange": [{"startTime": "2026-11-15T06:00:00Z", "endTime": "2026-11-22T06:00:00Z"}],
        "normalization": "PERCENTAGE",
        "lastUpdated": "2026-11-22T05:45:00Z",
        "confidenceInfo": {"level": rng.choice([None, 3, 5]), "annotations": annotations},
    }
    return {
        "orgId": f"org-{index:06d}",
        "timestamp": "2026-11-22T06:00:00Z",
        "name": f"Example Org {index}",
        "connectorParams": {
            "domain": f"example{index}.com",
            "location": rng.choice(LOCATIONS),
            "asn": str(index),
        },
        "radarData": {
            "ranking": {
                "success": True,
                "errors": [],
                "result": {
                    "details_0": {
                        "rank": rank,
                        "bucket": rng.choice(["200", "500", "1000", ">200000"]),
                        "categories": rng.sample(CATEGORIES, rng.randint(1, 2)),
                        "top_locations": [
                            {"locationCode": code, "locationName": code, "rank": i + 1}
                            for i, code in enumerate(rng.sample(LOCATIONS, 5))
                        ],
                    },
                    "meta": {"dateRange": meta["dateRange"], "lastUpdated": meta["lastUpdated"]},
                },
            },
            "device_type": {
                "success": True,
                "errors": [],
                "result": {
                    "summary_0": {
                        "desktop": f"{rng.uniform(30, 70):.1f}",
                        "mobile": f"{rng.uniform(30, 70):.1f}",
                        "other": f"{rng.uniform(0, 1):.4f}",
                    },
                    "meta": meta,
                },
            },
        },
    }


def make_lines(count: int, seed: int = 7) -> list[str]:
    """``count`` records as JSON lines (the form they arrive in from S3)."""
    rng = random.Random(seed)
    return [json.dumps(radar_record(rng, i)) for i in range(count)]


class _Sink:
    """A text sink that discards what it gets, so disk speed does not enter the comparison."""

    def write(self, text: str) -> int:
        return len(text)

    def writelines(self, lines) -> None:
        for _ in lines:
            pass


def run_stepworks(lines: list[str]) -> int:
    """Parse + flatten + CSV with pipelines.radar.flatten."""
    return write_csv((json.loads(line) for line in lines), _Sink(), Flattener())


def run_pandas(lines: list[str]) -> int:
    """Parse + pandas.json_normalize + DataFrame.to_csv."""
    import pandas as pd

    frame = pd.json_normalize([json.loads(line) for line in lines])
    frame.to_csv(_Sink(), index=False)
    return len(frame)


def run_floor(lines: list[str], flat_rows: list[list[str]], header: list[str]) -> int:
    """Parse the same input + write already-flat rows with csv.writer: no flattening at all."""
    writer = csv.writer(_Sink())
    writer.writerow(header)
    for line, row in zip(lines, flat_rows, strict=True):
        json.loads(line)
        writer.writerow(row)
    return len(flat_rows)


def _timed(fn, *args) -> tuple[float, int]:
    gc.collect()
    start = time.perf_counter()
    count = fn(*args)
    return time.perf_counter() - start, count


def _peak_mib(fn, *args) -> float:
    gc.collect()
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main(count: int = 100_000, repeats: int = 3) -> dict:
    """Time each contender (best of ``repeats``), trace its peak memory, print and return the figures."""
    lines = make_lines(count)
    flattener = Flattener()
    header, rows = flattener.table(json.loads(line) for line in lines)
    flat_rows = [list(row) for row in rows]
    columns = len(header)
    shapes = flattener.plan_count
    contenders = {
        "stepworks": (run_stepworks, lines),
        "pandas": (run_pandas, lines),
        "floor": (run_floor, lines, flat_rows, header),
    }
    best = dict.fromkeys(contenders, float("inf"))
    # Rounds interleave the contenders so a burst of load elsewhere on the machine hits them all.
    for _ in range(repeats):
        for name, (fn, *args) in contenders.items():
            seconds, done = _timed(fn, *args)
            assert done == count, f"{name} wrote {done} records, expected {count}"
            best[name] = min(best[name], seconds)
    results = {
        name: {"seconds": best[name], "records_per_s": count / best[name], "peak_mib": _peak_mib(fn, *args)}
        for name, (fn, *args) in contenders.items()
    }
    print(f"{count:,} radar records, {columns} columns (union of {shapes} record shapes)")
    for name, figures in results.items():
        print(
            f"  {name:<10} {figures['records_per_s']:>10,.0f} records/s  {figures['seconds']:6.2f} s"
            f"  peak {figures['peak_mib']:7.1f} MiB"
        )
    ours, pandas, floor = (results[n]["records_per_s"] for n in ("stepworks", "pandas", "floor"))
    print(f"  stepworks / pandas = {ours / pandas:.2f}x (target >= 3x)")
    print(f"  floor / stepworks  = {floor / ours:.2f}x (target <= 2x)")
    return results


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
