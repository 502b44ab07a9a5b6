"""The PostgreSQL adapter against a real server: migrations, the bulk upsert, runs, reports."""

from datetime import timedelta

import psycopg
import pytest

from infra.sandbox.fakes.pagerduty import generate_incidents
from pipelines.incidents.records import rows_for_batch
from pipelines.incidents.request import RunRequest
from pipelines.incidents.rules import RuleResult
from pipelines.incidents.schema import MIGRATIONS, apply_migrations
from pipelines.incidents.store import IncidentStore
from pipelines.incidents.window import TimeWindow

from .conftest import SINCE, UNTIL

REQUEST = RunRequest(window=TimeWindow(SINCE, UNTIL))


@pytest.fixture
def store(conn):
    store = IncidentStore(conn)
    store.migrate()
    return store


def schema_fingerprint(conn) -> list:
    return (
        conn.execute(
            """
        SELECT table_name, column_name, data_type FROM information_schema.columns
        WHERE table_schema = 'public' ORDER BY table_name, ordinal_position
        """
        ).fetchall()
        + conn.execute("SELECT version, applied_at FROM schema_version ORDER BY version").fetchall()
    )


def test_migrations_apply_once_and_a_second_run_changes_nothing(conn):
    assert apply_migrations(conn) == [m.version for m in MIGRATIONS]
    before = schema_fingerprint(conn)
    assert apply_migrations(conn) == []
    assert schema_fingerprint(conn) == before
    assert conn.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_incident_pages_are_left_half_empty_so_rewrites_stay_on_their_page(conn):
    apply_migrations(conn)
    (options,) = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'incidents'").fetchone()
    assert options == ["fillfactor=50"]


def test_a_failing_migration_leaves_nothing_applied(conn):
    from pipelines.incidents.schema import Migration

    broken = (*MIGRATIONS, Migration(99, "broken", "CREATE TABLE half_done (id int); SELECT no_such_function()"))
    with pytest.raises(psycopg.Error):
        apply_migrations(conn, broken)
    assert conn.execute("SELECT to_regclass('half_done')").fetchone()[0] is None
    assert conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None


def load(store, run_id, incidents, batch_size=1000):
    for start in range(0, len(incidents), batch_size):
        store.load_batch(run_id, *rows_for_batch(incidents[start : start + batch_size]))


def test_upsert_loads_exactly_the_incidents_and_links_them_to_the_run(store, conn):
    incidents = generate_incidents(2_500, SINCE, UNTIL)
    run_id = store.start_run(REQUEST, execution_id=None)
    load(store, run_id, incidents)
    stored = conn.execute("SELECT id, incident_number, status, raw FROM incidents").fetchall()
    assert {r[0] for r in stored} == {i["id"] for i in incidents} and len(stored) == 2_500
    by_id = {i["id"]: i for i in incidents}
    assert all(
        raw == by_id[i] and number == by_id[i]["incident_number"] and status == by_id[i]["status"]
        for i, number, status, raw in stored
    )
    assert conn.execute("SELECT count(*) FROM run_incidents WHERE run_id = %s", (run_id,)).fetchone()[0] == 2_500
    assert {r[0] for r in conn.execute("SELECT id FROM services")} == {"PSVC001", "PSVC002", "PSVC003"}
    assert store.finish_load(run_id) == 2_500


def test_a_second_load_changes_no_row_count_and_rewrites_no_unchanged_row(store, conn):
    incidents = generate_incidents(1_200, SINCE, UNTIL)
    run_id = store.start_run(REQUEST, execution_id=None)
    load(store, run_id, incidents)
    versions = dict(conn.execute("SELECT id, xmin::text FROM incidents").fetchall())
    load(store, run_id, incidents)
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 1_200
    assert conn.execute("SELECT count(*) FROM run_incidents").fetchone()[0] == 1_200
    assert dict(conn.execute("SELECT id, xmin::text FROM incidents").fetchall()) == versions


def test_a_changed_incident_is_updated_in_place(store, conn):
    incidents = generate_incidents(10, SINCE, UNTIL)
    run_id = store.start_run(REQUEST, execution_id=None)
    load(store, run_id, incidents)
    changed = {
        **incidents[3],
        "status": "resolved",
        "resolved_at": "2026-03-01T09:00:00Z",
        "updated_at": "2026-03-01T09:00:00Z",
        "title": "renamed",
    }
    load(store, run_id, [changed])
    row = conn.execute("SELECT title, status, raw->>'title' FROM incidents WHERE id = %s", (changed["id"],)).fetchone()
    assert row == ("renamed", "resolved", "renamed")
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 10


def test_duplicates_within_a_batch_are_collapsed_to_the_newest(store, conn):
    incidents = generate_incidents(5, SINCE, UNTIL)
    newer = {**incidents[0], "title": "newest", "updated_at": "2026-03-01T23:00:00Z"}
    run_id = store.start_run(REQUEST, execution_id=None)
    store.load_batch(run_id, *rows_for_batch([*incidents, newer, incidents[0]]))
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 5
    assert conn.execute("SELECT title FROM incidents WHERE id = %s", (newer["id"],)).fetchone()[0] == "newest"


def test_a_second_run_over_the_same_window_gets_its_own_links(store, conn):
    incidents = generate_incidents(30, SINCE, UNTIL)
    first, second = store.start_run(REQUEST, None), store.start_run(REQUEST, None)
    load(store, first, incidents)
    load(store, second, incidents[:10])
    assert store.finish_load(first) == 30 and store.finish_load(second) == 10
    assert len(store.snapshot(second).incidents) == 10


def test_a_failed_batch_leaves_nothing_behind(store, conn):
    incidents = generate_incidents(100, SINCE, UNTIL)
    run_id = store.start_run(REQUEST, execution_id=None)
    rows, services = rows_for_batch(incidents)
    broken = [*rows[:-1], rows[-1]._replace(raw="{not json")]
    with pytest.raises(psycopg.Error):
        store.load_batch(run_id, broken, services)
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM services").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM run_batches").fetchone()[0] == 0
    store.load_batch(run_id, rows, services)  # the session and its stage still work
    assert conn.execute("SELECT count(*) FROM incidents").fetchone()[0] == 100


def test_start_run_is_idempotent_per_execution_id(store):
    assert store.start_run(REQUEST, "exec-1") == store.start_run(REQUEST, "exec-1")
    assert store.start_run(REQUEST, "exec-2") != store.start_run(REQUEST, "exec-1")


def test_snapshot_reports_what_the_run_holds(store):
    incidents = generate_incidents(6, SINCE, UNTIL)
    run_id = store.start_run(REQUEST, None)
    store.record_expected_count(run_id, 7)
    load(store, run_id, incidents)
    snapshot = store.snapshot(run_id)
    assert snapshot.expected_count == 7
    assert {i.id for i in snapshot.incidents} == {i["id"] for i in incidents}
    assert snapshot.known_service_ids == {"PSVC001", "PSVC002", "PSVC003"}
    created = {i.id: i.created_at for i in snapshot.incidents}
    assert created[incidents[1]["id"]] - created[incidents[0]["id"]] == timedelta(hours=4)


def test_save_report_replaces_the_previous_report_and_sets_the_run_state(store, conn):
    run_id = store.start_run(REQUEST, None)
    store.save_report(run_id, [RuleResult("a", False, ["Q1"], "1 offending"), RuleResult("b", True)])
    assert conn.execute("SELECT state FROM runs WHERE id = %s", (run_id,)).fetchone()[0] == "invalid"
    store.save_report(run_id, [RuleResult("a", True), RuleResult("b", True)])
    rows = conn.execute("SELECT rule, passed, offending_ids FROM validation_results ORDER BY rule").fetchall()
    assert rows == [("a", True, []), ("b", True, [])]
    assert conn.execute("SELECT state FROM runs WHERE id = %s", (run_id,)).fetchone()[0] == "validated"


def test_mark_failed_finds_the_run_by_id_or_execution_id(store, conn):
    by_id, by_execution = store.start_run(REQUEST, None), store.start_run(REQUEST, "exec-9")
    assert store.mark_failed(run_id=by_id, execution_id=None, error="E", cause="c")
    assert store.mark_failed(run_id=None, execution_id="exec-9", error="F", cause="d")
    assert not store.mark_failed(run_id=None, execution_id="unknown", error="G", cause="e")
    states = dict(conn.execute("SELECT id, state || ':' || error FROM runs").fetchall())
    assert states == {by_id: "failed:E", by_execution: "failed:F"}
