"""Incident load throughput: the pipeline's upsert against executemany and a plain COPY floor.

    python -m benchmarks.incident_load [--count 100000] [--batch-size 2000] [--fast]

Loads ``count`` PagerDuty-shaped incidents into a throwaway PostgreSQL server three ways, each
into its own fresh database, first as inserts (empty tables), then again as all-conflict
updates (every incident changed, so every row is rewritten):

* pipeline   — ``IncidentStore.load_batch``: COPY into a temp stage, INSERT … ON CONFLICT DO
               UPDATE, service upsert and run links, one transaction per batch;
* executemany — ``INSERT … ON CONFLICT DO UPDATE`` through psycopg's ``executemany``, one
               transaction per batch (the straightforward way);
* copy floor — plain ``COPY`` into an empty table of the same definition, one transaction per
               batch, in text and in binary format (JSON sent as jsonb's binary form); the
               faster of the two is the floor: what writing the rows costs at least. It cannot
               update anything, so in the update phase it is a floor the upsert cannot reach
               for free (rewriting a row also leaves the old version behind).

Every method starts from the same mapped rows (PagerDuty JSON → ``IncidentRow``; that mapping
is timed once, separately). The server runs with durable defaults (fsync and synchronous_commit
on) unless ``--fast``; its only tuning is a larger max_wal_size and shared_buffers, the same for
every method. Each method runs ``--repeat`` times (in rotating order, after an untimed
warm-up that pre-creates WAL segments); the best and the median run are reported, and the
targets are judged on the best (on a shared machine, interference only ever adds time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

# `make bench` runs this file as a script: make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.sandbox.fakes.pagerduty import generate_incidents
from infra.sandbox.postgres import FAST_SETTINGS, TemporaryPostgres
from pipelines.incidents.config import DEFAULT_LOAD_BATCH_SIZE
from pipelines.incidents.records import INCIDENT_COLUMNS, IncidentRow, ServiceRow, rows_for_batch
from pipelines.incidents.request import RunRequest
from pipelines.incidents.store import INCIDENT_COPY_TYPES, IncidentStore, JsonTextAsJsonb
from pipelines.incidents.window import TimeWindow

SINCE = datetime(2026, 1, 1, tzinfo=UTC)
UNTIL = datetime(2026, 6, 1, tzinfo=UTC)
SERVER_SETTINGS = {"max_wal_size": "8GB", "shared_buffers": "512MB", "checkpoint_timeout": "30min"}
TARGET_VS_FLOOR = 1.3
TARGET_VS_EXECUTEMANY = 1.3

_COLUMNS = ", ".join(INCIDENT_COLUMNS)
_EXECUTEMANY_UPSERT = (
    f"INSERT INTO incidents AS t ({_COLUMNS}) VALUES ({', '.join(['%s'] * len(INCIDENT_COLUMNS))}) "
    f"ON CONFLICT (id) DO UPDATE SET {', '.join(f'{c} = EXCLUDED.{c}' for c in INCIDENT_COLUMNS if c != 'id')} "
    "WHERE t.updated_at IS DISTINCT FROM EXCLUDED.updated_at"
)


@dataclass
class Batch:
    rows: list[IncidentRow]
    services: list[ServiceRow]


def _batches(incidents: list[dict], size: int) -> list[Batch]:
    return [Batch(*rows_for_batch(incidents[i : i + size])) for i in range(0, len(incidents), size)]


def _changed(incidents: list[dict]) -> list[dict]:
    """Every incident updated an hour later with a new title: each upsert must rewrite its row."""
    later = []
    for incident in incidents:
        updated = datetime.fromisoformat(incident["updated_at"]) + timedelta(hours=1)
        later.append(
            {
                **incident,
                "title": incident["title"] + " (updated)",
                "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        )
    return later


def _fresh_store(server: TemporaryPostgres, name: str) -> IncidentStore:
    server.create_database(name)
    conn = server.connect(name)
    store = IncidentStore(conn)
    store.migrate()
    return store


def _run_request() -> RunRequest:
    return RunRequest(window=TimeWindow(SINCE, UNTIL))


def load_pipeline(store: IncidentStore, batches: list[Batch]) -> None:
    run_id = store.start_run(_run_request(), execution_id=None)
    for batch in batches:
        store.load_batch(run_id, batch.rows, batch.services)


def load_executemany(store: IncidentStore, batches: list[Batch]) -> None:
    conn = store.conn
    for batch in batches:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(_EXECUTEMANY_UPSERT, batch.rows)


def _copy_floor(store: IncidentStore, batches: list[Batch], binary: bool) -> None:
    conn = store.conn
    with conn.transaction():
        conn.execute("TRUNCATE incidents")
    statement = f"COPY incidents ({_COLUMNS}) FROM STDIN" + (" (FORMAT BINARY)" if binary else "")
    for batch in batches:
        with conn.transaction(), conn.cursor() as cur:
            if binary:
                cur.adapters.register_dumper(None, JsonTextAsJsonb)
            with cur.copy(statement) as copy:
                if binary:
                    copy.set_types(INCIDENT_COPY_TYPES)
                for row in batch.rows:
                    copy.write_row(row)


def load_copy_text(store: IncidentStore, batches: list[Batch]) -> None:
    _copy_floor(store, batches, binary=False)


def load_copy_binary(store: IncidentStore, batches: list[Batch]) -> None:
    _copy_floor(store, batches, binary=True)


def _timed(action: Callable[[], None]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


LOADERS = {
    "pipeline": load_pipeline,
    "executemany": load_executemany,
    "copy text": load_copy_text,
    "copy binary": load_copy_binary,
}
PHASES = ("inserts", "all-conflict updates")
WAL_BYTES: dict[tuple[str, str], int] = {}


def _report(phase: str, count: int, runs: dict[str, list[float]]) -> list[str]:
    print(f"\n{phase}: {count:,} incidents ({len(runs['pipeline'])} runs each)")
    print(f"  {'method':<12} {'best s':>7} {'best rows/s':>12} {'median s':>9} {'WAL MB':>7}")
    for method, times in runs.items():
        wal = WAL_BYTES.get((phase, method), 0) / 1e6
        print(
            f"  {method:<12} {min(times):7.2f} {count / min(times):>12,.0f} {statistics.median(times):9.2f} {wal:7.0f}"
        )
    misses = []
    for label, pick in (("best", min), ("median", statistics.median)):
        chosen = {method: pick(times) for method, times in runs.items()}
        vs_floor = chosen["pipeline"] / min(chosen["copy text"], chosen["copy binary"])
        vs_many = chosen["executemany"] / chosen["pipeline"]
        print(
            f"  {label + ':':<8} pipeline / copy floor = {vs_floor:.2f}x (target <= {TARGET_VS_FLOOR}), "
            f"executemany / pipeline = {vs_many:.2f}x (target >= {TARGET_VS_EXECUTEMANY})"
        )
        # Judged on the best run: the machine may be shared, and interference only adds time.
        if label == "best" and vs_floor > TARGET_VS_FLOOR:
            misses.append(f"{phase}: pipeline is {vs_floor:.2f}x the COPY floor")
        if label == "best" and vs_many < TARGET_VS_EXECUTEMANY:
            misses.append(f"{phase}: pipeline is only {vs_many:.2f}x faster than executemany")
    return misses


def _one_run(server: TemporaryPostgres, name: str, tag: str, inserts, updates) -> tuple[float, float]:
    store = _fresh_store(server, f"bench_{tag}")
    try:
        timings = []
        for phase, batches in zip(PHASES, (inserts, updates), strict=True):
            # Each timing starts without earlier dirty pages and WAL left to flush. Updating after
            # a checkpoint logs each old page in full once (full_page_writes), as it would a day
            # after the first load; that is most of the update phase's extra WAL.
            with server.admin_connect() as admin:
                admin.execute("CHECKPOINT")
                start_lsn = admin.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
            timings.append(_timed(lambda b=batches: LOADERS[name](store, b)))
            with server.admin_connect() as admin:
                wal = admin.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), %s)", (start_lsn,)).fetchone()[0]
            WAL_BYTES[(phase, name)] = int(wal)
        count = store.conn.execute("SELECT count(*) FROM incidents").fetchone()[0]
        assert count == len({r.id for b in inserts for r in b.rows}), f"{name} holds {count} rows"
        return timings[0], timings[1]
    finally:
        store.conn.close()
        server.drop_database(f"bench_{tag}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_LOAD_BATCH_SIZE)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fast", action="store_true", help="fsync/synchronous_commit off (not durable)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="extra server setting")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    incidents = generate_incidents(args.count, SINCE, UNTIL, seed=7)
    generated = time.perf_counter() - started
    mapping = _timed(lambda: _batches(incidents, args.batch_size))
    inserts, updates = _batches(incidents, args.batch_size), _batches(_changed(incidents), args.batch_size)
    raw_bytes = sum(len(row.raw) for batch in inserts for row in batch.rows)
    print(
        f"{args.count:,} incidents, {raw_bytes / args.count:,.0f} bytes of JSON each on average "
        f"(generated in {generated:.1f} s; JSON → rows {mapping:.2f} s = {args.count / mapping:,.0f}/s, "
        f"not included below); batch size {args.batch_size}; {args.repeat} runs per method; "
        f"{'fsync and synchronous_commit off' if args.fast else 'durable server settings (fsync on)'}"
    )

    settings = {**SERVER_SETTINGS, **(FAST_SETTINGS if args.fast else {})}
    settings.update(item.split("=", 1) for item in args.set)
    if args.set:
        print(f"extra server settings: {', '.join(args.set)}")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in LOADERS}
    with TemporaryPostgres(settings=settings) as server:
        _one_run(server, "pipeline", "warmup", inserts, updates)
        names = list(LOADERS)
        for repeat in range(args.repeat):
            for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
                runs[name].append(_one_run(server, name, f"{repeat}_{name.replace(' ', '_')}", inserts, updates))
    misses: list[str] = []
    for index, phase in enumerate(PHASES):
        misses += _report(phase, args.count, {name: [r[index] for r in results] for name, results in runs.items()})
    print("\n" + ("all targets met" if not misses else "targets missed:\n  " + "\n  ".join(misses)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
