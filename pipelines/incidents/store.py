"""PostgreSQL adapter: runs, the bulk upsert, the run snapshot and the validation report.

All SQL lives here. Every public method is one transaction, so an error (the database going
away included) leaves no half-written batch behind.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg import postgres
from psycopg.adapt import Dumper
from psycopg.pq import Format

from pipelines.common.errors import ConfigurationError
from pipelines.incidents.errors import DatabaseAuthError, DatabaseUnavailableError
from pipelines.incidents.records import INCIDENT_COLUMNS, IncidentRow, ServiceRow
from pipelines.incidents.request import RunRequest
from pipelines.incidents.rules import RuleResult, RunSnapshot, StoredIncident
from pipelines.incidents.schema import apply_migrations

_COLUMNS = ", ".join(INCIDENT_COLUMNS)
_UPDATES = ", ".join(f"{c} = EXCLUDED.{c}" for c in INCIDENT_COLUMNS if c != "id")
_COLUMN_TYPES = {
    "incident_number": "int8",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
    "resolved_at": "timestamptz",
    "assignments": "jsonb",
    "raw": "jsonb",
}
# Binary COPY types, in INCIDENT_COLUMNS order (the benchmark's floor uses them too). Timestamps
# and numbers travel without text formatting and parsing, and JSON text travels unescaped (see
# JsonTextAsJsonb). Measured in benchmarks/incident_load.py.
INCIDENT_COPY_TYPES = [_COLUMN_TYPES.get(c, "text") for c in INCIDENT_COLUMNS]


class JsonTextAsJsonb(Dumper):
    """Already-serialised JSON text as jsonb's binary input: a version byte, then the text."""

    format = Format.BINARY
    oid = postgres.types["jsonb"].oid

    def dump(self, obj: str) -> bytes:
        return b"\x01" + obj.encode()


# The stage lives for the session and empties at each commit, so a batch never sees another's rows
# and the catalog is not churned by a CREATE/DROP per batch.
_CREATE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS incident_stage ("
    + ", ".join(f"{c} {t}" for c, t in zip(INCIDENT_COLUMNS, INCIDENT_COPY_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)
_COPY_STAGE = f"COPY incident_stage ({_COLUMNS}) FROM STDIN (FORMAT BINARY)"
# Unchanged incidents (same updated_at) are not rewritten: a re-run costs index lookups, not writes.
_UPSERT_INCIDENTS = f"""
    INSERT INTO incidents AS t ({_COLUMNS})
    SELECT {_COLUMNS} FROM incident_stage
    ON CONFLICT (id) DO UPDATE SET {_UPDATES}, loaded_at = now()
    WHERE t.updated_at IS DISTINCT FROM EXCLUDED.updated_at
"""
_LINK_RUN = "INSERT INTO run_batches (run_id, incident_ids) SELECT %(run_id)s, array_agg(id) FROM incident_stage"
_UPSERT_SERVICES = """
    INSERT INTO services AS t (id, summary, html_url)
    SELECT * FROM unnest(%s::text[], %s::text[], %s::text[])
    ON CONFLICT (id) DO UPDATE SET summary = EXCLUDED.summary, html_url = EXCLUDED.html_url, updated_at = now()
    WHERE (t.summary, t.html_url) IS DISTINCT FROM (EXCLUDED.summary, EXCLUDED.html_url)
"""


@dataclass(frozen=True)
class ConnectionParams:
    """Where and how to connect; ``password`` comes from the database secret."""

    host: str
    port: int
    dbname: str
    user: str
    password: str
    sslmode: str = "verify-full"
    sslrootcert: str | None = None
    connect_timeout: int = 10

    def kwargs(self) -> dict:
        """Keyword arguments for ``psycopg.connect``."""
        kwargs = {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "password": self.password,
            "sslmode": self.sslmode,
            "connect_timeout": self.connect_timeout,
            "application_name": "stepworks-incidents",
            # Room for a whole load batch in the temp stage without spilling to disk.
            "options": "-c temp_buffers=64MB",
        }
        if self.sslrootcert:
            kwargs["sslrootcert"] = self.sslrootcert
        return kwargs


@contextlib.contextmanager
def database_errors() -> Iterator[None]:
    """Translate driver errors into the pipeline's typed errors (retryable when a retry can help)."""
    try:
        yield
    except psycopg.OperationalError as exc:
        # SQLSTATE class 28 is "invalid authorization": a retry sends the same wrong password.
        if (exc.sqlstate or "").startswith("28") or "password authentication failed" in str(exc):
            raise DatabaseAuthError(f"PostgreSQL refused the credentials: {exc}") from None
        if "certificate verify failed" in str(exc) or "server certificate" in str(exc):
            # The server is not the one DB_SSLROOTCERT vouches for: retrying cannot fix that.
            raise ConfigurationError(f"PostgreSQL server certificate not trusted: {exc}") from None
        raise DatabaseUnavailableError(f"PostgreSQL unavailable: {exc}") from None
    except psycopg.InterfaceError as exc:
        raise DatabaseUnavailableError(f"PostgreSQL connection lost: {exc}") from None


class IncidentStore:
    """The pipeline's tables, over one connection."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self._stage_ready = False

    def migrate(self) -> list[int]:
        """Bring the schema up to date; the versions applied now (empty when already current)."""
        return apply_migrations(self.conn)

    def start_run(self, request: RunRequest, execution_id: str | None) -> int:
        """Record a run and return its id; a retried step with the same execution id reuses its run."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                """
                INSERT INTO runs (execution_id, window_since, window_until, statuses, service_ids)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (execution_id) DO UPDATE SET state = 'started', updated_at = now()
                RETURNING id
                """,
                (
                    execution_id,
                    request.window.since,
                    request.window.until,
                    list(request.statuses),
                    list(request.service_ids),
                ),
            )
            return cur.fetchone()[0]

    def run_exists(self, run_id: int) -> bool:
        """True when a run with this id was recorded."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,))
            return cur.fetchone() is not None

    def record_expected_count(self, run_id: int, expected: int | None) -> None:
        """Store PagerDuty's total for the run's window."""
        self._update_run(run_id, "expected_count = %s, state = 'counted'", (expected,))

    def load_batch(self, run_id: int, rows: list[IncidentRow], services: list[ServiceRow]) -> None:
        """Upsert one batch of (already deduplicated) incidents and their services, and link
        them to the run, all in one transaction."""
        if not rows:
            return
        with self.conn.transaction(), self.conn.cursor() as cur:
            if not self._stage_ready:
                cur.execute(_CREATE_STAGE)
            if services:
                cur.execute(_UPSERT_SERVICES, [list(col) for col in zip(*services, strict=True)])
            # Registered by oid only: it applies where COPY's set_types says jsonb, nowhere else.
            cur.adapters.register_dumper(None, JsonTextAsJsonb)
            with cur.copy(_COPY_STAGE) as copy:
                copy.set_types(INCIDENT_COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
            cur.execute(_UPSERT_INCIDENTS)
            cur.execute(_LINK_RUN, {"run_id": run_id})
        self._stage_ready = True

    def finish_load(self, run_id: int) -> int:
        """Record how many incidents the run holds and return that count."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                """
                UPDATE runs SET loaded_count = (SELECT count(*) FROM run_incidents WHERE run_id = %s),
                       state = 'loaded', updated_at = now()
                WHERE id = %s RETURNING loaded_count
                """,
                (run_id, run_id),
            )
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"run {run_id} does not exist")
        return row[0]

    def snapshot(self, run_id: int) -> RunSnapshot:
        """What the database holds for the run, for the validation rules."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT expected_count FROM runs WHERE id = %s", (run_id,))
            run = cur.fetchone()
            if run is None:
                raise LookupError(f"run {run_id} does not exist")
            cur.execute(
                """
                SELECT i.id, i.incident_number, i.title, i.status, i.urgency, i.service_id,
                       i.created_at, i.resolved_at
                FROM run_incidents r JOIN incidents i ON i.id = r.incident_id
                WHERE r.run_id = %s
                """,
                (run_id,),
            )
            incidents = [StoredIncident(*row) for row in cur.fetchall()]
            cur.execute(
                "SELECT id FROM services WHERE id = ANY(%s)",
                (sorted({i.service_id for i in incidents if i.service_id}),),
            )
            known = frozenset(row[0] for row in cur.fetchall())
        return RunSnapshot(expected_count=run[0], incidents=incidents, known_service_ids=known)

    def save_report(self, run_id: int, results: list[RuleResult]) -> None:
        """Store one row per rule (replacing an earlier report for the run) and the run's verdict."""
        state = "validated" if all(r.passed for r in results) else "invalid"
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.executemany(
                """
                INSERT INTO validation_results (run_id, rule, passed, offending_ids, detail)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (run_id, rule) DO UPDATE SET passed = EXCLUDED.passed,
                    offending_ids = EXCLUDED.offending_ids, detail = EXCLUDED.detail, checked_at = now()
                """,
                [(run_id, r.rule, r.passed, r.offending_ids, r.detail) for r in results],
            )
            cur.execute("UPDATE runs SET state = %s, updated_at = now() WHERE id = %s", (state, run_id))

    def mark_failed(self, *, run_id: int | None, execution_id: str | None, error: str, cause: str) -> bool:
        """Mark the run failed (found by id, else by execution id); False when no run matched."""
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(
                """
                UPDATE runs SET state = 'failed', error = %s, cause = %s, updated_at = now()
                WHERE id = %s OR (%s::bigint IS NULL AND execution_id = %s)
                """,
                (error[:1000], cause[:32768], run_id, run_id, execution_id),
            )
            return cur.rowcount > 0

    def _update_run(self, run_id: int, assignments: str, params: tuple) -> None:
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(f"UPDATE runs SET {assignments}, updated_at = now() WHERE id = %s", (*params, run_id))
            if cur.rowcount == 0:
                raise LookupError(f"run {run_id} does not exist")


@contextlib.contextmanager
def open_store(params: ConnectionParams) -> Iterator[IncidentStore]:
    """An IncidentStore on a fresh connection, closed afterwards; driver errors become typed errors."""
    with database_errors():
        conn = psycopg.connect(**params.kwargs())
        try:
            yield IncidentStore(conn)
        finally:
            conn.close()
