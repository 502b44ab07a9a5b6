"""Each validation rule, passing on clean data and failing (naming the incidents) on bad data."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.incidents import rules
from pipelines.incidents.rules import RunSnapshot, StoredIncident, evaluate

CREATED = datetime(2026, 3, 1, tzinfo=UTC)


def incident(n: int, **changes) -> StoredIncident:
    base = StoredIncident(
        id=f"Q{n:04d}",
        incident_number=n,
        title=f"incident {n}",
        status="resolved",
        urgency="high",
        service_id="PSVC001",
        created_at=CREATED,
        resolved_at=CREATED + timedelta(minutes=5),
    )
    return replace(base, **changes)


def snapshot(*incidents: StoredIncident, expected: int | None = None, services=("PSVC001",)) -> RunSnapshot:
    return RunSnapshot(
        expected_count=len(incidents) if expected is None else expected,
        incidents=list(incidents),
        known_service_ids=frozenset(services),
    )


CLEAN = snapshot(
    incident(1),
    incident(2, status="triggered", resolved_at=None),
    incident(3, status="acknowledged", urgency="low", resolved_at=None),
)


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda r: r.__name__)
def test_every_rule_passes_on_clean_data(rule):
    result = rule(CLEAN)
    assert result.passed and result.offending_ids == []
    assert result.rule == rule.__name__


def test_row_count_fails_when_the_run_holds_fewer_or_more_rows_than_pagerduty_reported():
    assert not rules.row_count_matches_total(snapshot(incident(1), expected=2)).passed
    assert not rules.row_count_matches_total(snapshot(incident(1), incident(2), expected=1)).passed
    result = rules.row_count_matches_total(snapshot(incident(1), expected=2))
    assert result.detail == "expected 2, found 1"


def test_row_count_fails_when_pagerduty_gave_no_total():
    result = rules.row_count_matches_total(RunSnapshot(None, [incident(1)], frozenset({"PSVC001"})))
    assert not result.passed


def test_duplicate_incident_numbers_name_every_incident_sharing_the_number():
    result = rules.unique_incident_numbers(snapshot(incident(1), incident(2, incident_number=1), incident(3)))
    assert not result.passed
    assert result.offending_ids == ["Q0001", "Q0002"]


@pytest.mark.parametrize("field", rules.REQUIRED_FIELDS)
def test_each_missing_required_field_fails(field):
    result = rules.required_fields_present(snapshot(incident(1), incident(2, **{field: None})))
    assert not result.passed and result.offending_ids == ["Q0002"]


def test_an_empty_title_counts_as_missing():
    assert rules.required_fields_present(snapshot(incident(1, title=""))).offending_ids == ["Q0001"]


def test_status_outside_the_enum_fails_and_a_missing_one_is_left_to_the_required_rule():
    result = rules.status_in_enum(snapshot(incident(1, status="open"), incident(2, status=None)))
    assert result.offending_ids == ["Q0001"]


def test_urgency_outside_the_enum_fails():
    result = rules.urgency_in_enum(snapshot(incident(1), incident(2, urgency="critical")))
    assert not result.passed and result.offending_ids == ["Q0002"]


def test_resolved_before_created_fails():
    bad = incident(2, resolved_at=CREATED - timedelta(hours=1))
    result = rules.resolved_after_created(snapshot(incident(1), bad))
    assert not result.passed and result.offending_ids == ["Q0002"]


def test_resolved_at_equal_to_created_at_passes():
    assert rules.resolved_after_created(snapshot(incident(1, resolved_at=CREATED))).passed


def test_a_resolved_incident_without_a_resolution_time_fails():
    assert rules.resolved_after_created(snapshot(incident(1, resolved_at=None))).offending_ids == ["Q0001"]


def test_unknown_or_missing_service_fails():
    result = rules.service_known(snapshot(incident(1), incident(2, service_id="PGONE"), incident(3, service_id=None)))
    assert result.offending_ids == ["Q0002", "Q0003"]


def test_evaluate_runs_every_rule_in_order_and_reports_only_the_broken_ones():
    results = evaluate(snapshot(incident(1), incident(2, urgency="critical")))
    assert [r.rule for r in results] == [rule.__name__ for rule in rules.RULES]
    assert [r.rule for r in results if not r.passed] == ["urgency_in_enum"]
