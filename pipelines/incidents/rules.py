"""Validation rules over what the database holds for one run (pure)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.incidents.request import STATUSES, URGENCIES

REQUIRED_FIELDS = ("incident_number", "title", "status", "urgency", "service_id", "created_at")


@dataclass(frozen=True)
class StoredIncident:
    """The columns the rules look at, for one incident linked to the run."""

    id: str
    incident_number: int | None
    title: str | None
    status: str | None
    urgency: str | None
    service_id: str | None
    created_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class RunSnapshot:
    """What the database holds for a run, plus PagerDuty's total for its window."""

    expected_count: int | None
    incidents: list[StoredIncident]
    known_service_ids: frozenset[str]


@dataclass(frozen=True)
class RuleResult:
    """One rule's verdict; ``offending_ids`` are incident ids (sorted) that broke it."""

    rule: str
    passed: bool
    offending_ids: list[str] = field(default_factory=list)
    detail: str = ""


def _verdict(rule: str, offending, detail: str = "") -> RuleResult:
    ids = sorted(set(offending))
    return RuleResult(rule=rule, passed=not ids, offending_ids=ids, detail=detail or f"{len(ids)} offending")


def row_count_matches_total(snapshot: RunSnapshot) -> RuleResult:
    """The run holds exactly as many incidents as PagerDuty reported for the window."""
    found = len(snapshot.incidents)
    passed = snapshot.expected_count is not None and found == snapshot.expected_count
    return RuleResult("row_count_matches_total", passed, [], f"expected {snapshot.expected_count}, found {found}")


def unique_incident_numbers(snapshot: RunSnapshot) -> RuleResult:
    """No two incidents share an incident number."""
    by_number: dict[int, list[str]] = defaultdict(list)
    for incident in snapshot.incidents:
        if incident.incident_number is not None:
            by_number[incident.incident_number].append(incident.id)
    return _verdict("unique_incident_numbers", [i for ids in by_number.values() if len(ids) > 1 for i in ids])


def required_fields_present(snapshot: RunSnapshot) -> RuleResult:
    """Every incident has a number, title, status, urgency, service and creation time."""
    offending = [i.id for i in snapshot.incidents if any(getattr(i, name) in (None, "") for name in REQUIRED_FIELDS)]
    return _verdict("required_fields_present", offending)


def status_in_enum(snapshot: RunSnapshot) -> RuleResult:
    """Status is triggered, acknowledged or resolved (missing ones are the required rule's)."""
    return _verdict("status_in_enum", [i.id for i in snapshot.incidents if i.status and i.status not in STATUSES])


def urgency_in_enum(snapshot: RunSnapshot) -> RuleResult:
    """Urgency is high or low (missing ones are the required rule's)."""
    return _verdict("urgency_in_enum", [i.id for i in snapshot.incidents if i.urgency and i.urgency not in URGENCIES])


def resolved_after_created(snapshot: RunSnapshot) -> RuleResult:
    """A resolved incident has a resolution time, not before its creation time."""
    offending = [
        i.id
        for i in snapshot.incidents
        if i.status == "resolved"
        and (i.resolved_at is None or (i.created_at is not None and i.resolved_at < i.created_at))
    ]
    return _verdict("resolved_after_created", offending)


def service_known(snapshot: RunSnapshot) -> RuleResult:
    """Every incident references a service the services table knows."""
    offending = [
        i.id for i in snapshot.incidents if i.service_id is None or i.service_id not in snapshot.known_service_ids
    ]
    return _verdict("service_known", offending)


RULES = (
    row_count_matches_total,
    unique_incident_numbers,
    required_fields_present,
    status_in_enum,
    urgency_in_enum,
    resolved_after_created,
    service_known,
)


def evaluate(snapshot: RunSnapshot) -> list[RuleResult]:
    """Every rule's result, in a stable order."""
    return [rule(snapshot) for rule in RULES]
