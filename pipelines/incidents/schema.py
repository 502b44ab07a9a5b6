"""Schema migrations, applied in order and recorded in ``schema_version`` (idempotent).

Each migration runs at most once per database: the version table says which have run, and
an advisory lock keeps two executions starting at once from applying the same one twice.
Append new migrations; never edit one that has shipped.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, services, incidents, run batches, validation results",
        """
        CREATE TABLE runs (
            id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            execution_id   text UNIQUE,
            window_since   timestamptz NOT NULL,
            window_until   timestamptz NOT NULL,
            statuses       text[] NOT NULL DEFAULT '{}',
            service_ids    text[] NOT NULL DEFAULT '{}',
            expected_count integer,
            loaded_count   integer,
            state          text NOT NULL DEFAULT 'started',
            error          text,
            cause          text,
            created_at     timestamptz NOT NULL DEFAULT now(),
            updated_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE services (
            id         text PRIMARY KEY,
            summary    text,
            html_url   text,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        -- No CHECK or foreign-key constraints on the PagerDuty fields: bad upstream data must
        -- load so the validation report can name it, rather than fail the load opaquely.
        CREATE TABLE incidents (
            id                        text PRIMARY KEY,
            incident_number           bigint,
            title                     text,
            status                    text,
            urgency                   text,
            service_id                text,
            escalation_policy_id      text,
            escalation_policy_summary text,
            priority_id               text,
            priority_summary          text,
            assignments               jsonb NOT NULL DEFAULT '[]',
            created_at                timestamptz,
            updated_at                timestamptz,
            resolved_at               timestamptz,
            raw                       jsonb NOT NULL,
            loaded_at                 timestamptz NOT NULL DEFAULT now()
        );
        -- A run's incidents, one row per committed load batch: linking costs one row per batch
        -- rather than one index entry per incident (a per-row link table was over a tenth of
        -- the load time). run_incidents is the per-incident view of it.
        CREATE TABLE run_batches (
            id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id       bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            incident_ids text[] NOT NULL,
            loaded_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX run_batches_run_id_idx ON run_batches (run_id);
        CREATE VIEW run_incidents AS
            SELECT DISTINCT b.run_id, u.incident_id
            FROM run_batches b CROSS JOIN LATERAL unnest(b.incident_ids) AS u (incident_id);
        CREATE TABLE validation_results (
            run_id        bigint NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            rule          text NOT NULL,
            passed        boolean NOT NULL,
            offending_ids text[] NOT NULL DEFAULT '{}',
            detail        text NOT NULL DEFAULT '',
            checked_at    timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (run_id, rule)
        );
        """,
    ),
    Migration(
        2,
        "incidents pages keep room for each row's next version",
        # A re-run rewrites every changed incident (~1.4 KB each). With pages half full the new
        # version fits on its own page: a HOT update, with no new primary-key entry and no other
        # page touched. Measured (benchmarks/incident_load.py): all-conflict updates 1.46x → about
        # 1.1x of the COPY floor, for twice the table's disk space. Applies to pages written from now on.
        "ALTER TABLE incidents SET (fillfactor = 50);",
    ),
)

# Any constant shared by every stepworks deployment works; it only has to be the same here.
_MIGRATION_LOCK_KEY = 0x5E9_1C1D


def apply_migrations(conn, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply the migrations this database lacks, in one transaction; the versions applied."""
    applied: list[int] = []
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK_KEY,))
        cur.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_version (
                version     integer PRIMARY KEY,
                description text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        cur.execute("SELECT version FROM schema_version")
        present = {row[0] for row in cur.fetchall()}
        for migration in sorted(migrations):
            if migration.version in present:
                continue
            cur.execute(migration.sql)
            cur.execute(
                "INSERT INTO schema_version (version, description) VALUES (%s, %s)",
                (migration.version, migration.description),
            )
            applied.append(migration.version)
    return applied
