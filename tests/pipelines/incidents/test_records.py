"""PagerDuty incident JSON → rows: field mapping, duplicate collapsing, services."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra.sandbox.fakes.pagerduty import make_incident
from pipelines.common.errors import DataIntegrityError
from pipelines.incidents.records import collapse_duplicates, incident_row, rows_for_batch

CREATED = datetime(2026, 3, 1, 10, tzinfo=UTC)


def test_incident_row_maps_pagerduty_fields():
    incident = make_incident(1, CREATED, status="acknowledged", urgency="high")
    row = incident_row(incident)
    assert row.id == incident["id"]
    assert row.incident_number == 2
    assert (row.status, row.urgency) == ("acknowledged", "high")
    assert row.service_id == "PSVC001"
    assert row.escalation_policy_id == "PEP001" and row.escalation_policy_summary == "Checkout API policy"
    assert row.priority_id == "PPRI001" and row.priority_summary == "P1"
    assert json.loads(row.assignments) == incident["assignments"] and row.assignments != "[]"
    assert row.created_at == CREATED
    assert row.resolved_at is None
    assert json.loads(row.raw) == incident


def test_null_priority_and_resolution_time_stay_null():
    row = incident_row(make_incident(0, CREATED, status="resolved"))
    assert row.priority_id is None and row.priority_summary is None
    assert row.resolved_at is not None and row.resolved_at > row.created_at


def test_malformed_fields_become_null_for_the_rules_to_report():
    incident = {**make_incident(1, CREATED), "created_at": "not a time", "incident_number": "7", "service": None}
    row = incident_row(incident)
    assert row.created_at is None and row.incident_number is None and row.service_id is None


def test_an_incident_without_an_id_is_a_data_integrity_error():
    with pytest.raises(DataIntegrityError):
        incident_row({**make_incident(1, CREATED), "id": None})


def test_collapse_duplicates_keeps_the_most_recently_updated_version():
    older = make_incident(1, CREATED)
    newer = {**older, "title": "renamed", "updated_at": "2026-03-01T12:00:00Z"}
    rows = collapse_duplicates([incident_row(newer), incident_row(older), incident_row(make_incident(2, CREATED))])
    assert len(rows) == 2
    assert next(r for r in rows if r.id == older["id"]).title == "renamed"


def test_rows_for_batch_deduplicates_incidents_and_lists_each_service_once():
    incidents = [
        make_incident(i, CREATED + timedelta(minutes=i), service=(f"PSVC00{i % 2}", f"svc {i % 2}")) for i in range(4)
    ]
    rows, services = rows_for_batch(incidents + incidents[:2])
    assert len(rows) == 4
    assert [s.id for s in services] == ["PSVC000", "PSVC001"]
    assert services[0].summary == "svc 0"
