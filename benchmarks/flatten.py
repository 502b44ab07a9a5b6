"""Per-document latency of radar's data.csv against data.json, for the real per-org document.

    PYTHONPATH=. python benchmarks/flatten.py [--runs 2000]

Production renders one document per organization (``files.render_files``): its data.json body
(``json.dumps`` + UTF-8) and its data.csv body (``flatten.to_csv([document])`` + UTF-8). The
documents here are built the way the pipeline builds them: the three queries (ranking,
device_type, asn) fetched by ``RadarClient`` from the loopback Radar fake, staged as JSON and
turned into the data document. Each run times both bodies of one document, alternately, so load
elsewhere on the machine hits both alike; the JSON body is the baseline because the same Lambda
renders it from the same document in the same call, so the ratio reads "data.csv costs N× data.json".
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import time

from infra.sandbox.fakes.radar import RadarFake
from pipelines.radar.cloudflare import OK, RadarClient
from pipelines.radar.files import data_document, staged_document
from pipelines.radar.flatten import flatten, to_csv
from pipelines.radar.transport import api_session

TIMESTAMP = "2026-11-22T06:00:00Z"
QUERY_NAMES = ("ranking", "device_type", "asn")
# A ranked domain with a known ASN, an unranked one with a stand-in ASN, and one in between.
ORGS = [
    {"orgId": "org-cloudflare", "connectorParams": {"domain": "cloudflare.com", "location": "US", "asn": "13335"}},
    {"orgId": "org-telekom", "connectorParams": {"domain": "telekom.de", "location": "DE", "asn": "3320"}},
    {"orgId": "org-example", "connectorParams": {"domain": "example.com", "location": "GB", "asn": "64500"}},
]
WARMUP_RUNS = 200


def org_documents() -> list[dict]:
    """Each org's data document, from the Radar fake's answers to all three queries."""
    token = "bench-token"
    documents = []
    with RadarFake(token=token) as fake:
        client = RadarClient(api_session(total=0, timeout=5.0), fake.base_url, token)
        for org in ORGS:
            results = client.run_all(QUERY_NAMES, org["connectorParams"])
            assert all(r.status == OK for r in results.values()), {n: r.status for n, r in results.items()}
            staged = json.loads(json.dumps(staged_document(org, TIMESTAMP, results)))
            documents.append(data_document(staged, org["orgId"], TIMESTAMP))
    return documents


def csv_body(document: dict) -> bytes:
    """data.csv as render_files makes it."""
    return to_csv([document]).encode("utf-8")


def json_body(document: dict) -> bytes:
    """data.json as render_files makes it (the baseline)."""
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def measure(documents: list[dict], runs: int) -> dict[str, list[int]]:
    """Nanoseconds per document for each body, ``runs`` times, cycling through ``documents``."""
    bodies = {"csv": csv_body, "json": json_body}
    samples: dict[str, list[int]] = {name: [] for name in bodies}
    clock = time.perf_counter_ns
    gc.collect()
    for run in range(WARMUP_RUNS + runs):
        document = documents[run % len(documents)]
        # Alternate which body goes first, so neither always runs with warmer caches.
        for name in bodies if run % 2 else reversed(bodies):
            start = clock()
            bodies[name](document)
            elapsed = clock() - start
            if run >= WARMUP_RUNS:
                samples[name].append(elapsed)
    return samples


def main(runs: int = 2_000) -> dict[str, dict[str, float]]:
    """Measure, print and return median and p95 (µs) per body."""
    documents = org_documents()
    samples = measure(documents, runs)
    figures = {
        name: {"median_us": statistics.median(ns) / 1e3, "p95_us": statistics.quantiles(ns, n=20)[-1] / 1e3}
        for name, ns in samples.items()
    }
    columns = sorted(len(flatten(d)) for d in documents)
    csv_sizes = sorted(len(csv_body(d)) for d in documents)
    json_sizes = sorted(len(json_body(d)) for d in documents)
    print(
        f"radar per-org document (ranking + device_type + asn), {len(documents)} orgs, {runs:,} runs each body: "
        f"{columns[0]}-{columns[-1]} columns, data.csv {csv_sizes[0]:,}-{csv_sizes[-1]:,} B, "
        f"data.json {json_sizes[0]:,}-{json_sizes[-1]:,} B"
    )
    labels = {"csv": "data.csv  flatten + csv + utf-8", "json": "data.json json.dumps + utf-8 (baseline)"}
    for name, figure in figures.items():
        print(f"  {labels[name]:<40} median {figure['median_us']:8.1f} µs   p95 {figure['p95_us']:8.1f} µs")
    csv_figures, json_figures = figures["csv"], figures["json"]
    print(
        f"  data.csv / data.json = {csv_figures['median_us'] / json_figures['median_us']:.2f}x median, "
        f"{csv_figures['p95_us'] / json_figures['p95_us']:.2f}x p95"
    )
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000, help="timed runs per body (default 2000)")
    main(parser.parse_args().runs)
