"""PagerDuty incident JSON → database rows (pure; no database driver needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import NamedTuple

from pipelines.common.errors import DataIntegrityError


class IncidentRow(NamedTuple):
    """One ``incidents`` row; field order is the COPY column order."""

    id: str
    incident_number: int | None
    title: str | None
    status: str | None
    urgency: str | None
    service_id: str | None
    escalation_policy_id: str | None
    escalation_policy_summary: str | None
    priority_id: str | None
    priority_summary: str | None
    assignments: str  # JSON array text
    created_at: datetime | None
    updated_at: datetime | None
    resolved_at: datetime | None
    raw: str  # the incident as PagerDuty sent it, JSON text


class ServiceRow(NamedTuple):
    """One ``services`` row, from the service reference embedded in an incident."""

    id: str
    summary: str | None
    html_url: str | None


INCIDENT_COLUMNS = IncidentRow._fields


def _timestamp(value) -> datetime | None:
    # A malformed timestamp becomes NULL so the batch still loads and the
    # required-fields rule reports the incident, instead of one bad row failing the run.
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _ref(value, key: str) -> str | None:
    return _text(value.get(key)) if isinstance(value, dict) else None


def _number(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def incident_row(incident: dict) -> IncidentRow:
    """The row for one incident; DataIntegrityError if it has no id (it could not be keyed)."""
    incident_id = incident.get("id") if isinstance(incident, dict) else None
    if not isinstance(incident_id, str) or not incident_id:
        raise DataIntegrityError(f"PagerDuty sent an incident without an id: {str(incident)[:200]}")
    assignments = incident.get("assignments")
    return IncidentRow(
        id=incident_id,
        incident_number=_number(incident.get("incident_number")),
        title=_text(incident.get("title")),
        status=_text(incident.get("status")),
        urgency=_text(incident.get("urgency")),
        service_id=_ref(incident.get("service"), "id"),
        escalation_policy_id=_ref(incident.get("escalation_policy"), "id"),
        escalation_policy_summary=_ref(incident.get("escalation_policy"), "summary"),
        priority_id=_ref(incident.get("priority"), "id"),
        priority_summary=_ref(incident.get("priority"), "summary"),
        assignments=json.dumps(assignments if isinstance(assignments, list) else [], separators=(",", ":")),
        created_at=_timestamp(incident.get("created_at")),
        updated_at=_timestamp(incident.get("updated_at")),
        resolved_at=_timestamp(incident.get("resolved_at")),
        raw=json.dumps(incident, separators=(",", ":")),
    )


def service_row(incident: dict) -> ServiceRow | None:
    """The service an incident references, or None when it references none."""
    service = incident.get("service")
    service_id = _ref(service, "id")
    if not service_id:
        return None
    return ServiceRow(id=service_id, summary=_ref(service, "summary"), html_url=_ref(service, "html_url"))


def _newer(candidate: IncidentRow, current: IncidentRow) -> bool:
    if candidate.updated_at is None or current.updated_at is None:
        return True  # no way to order them: the later one in the stream wins
    return candidate.updated_at >= current.updated_at


def collapse_duplicates(rows: list[IncidentRow]) -> list[IncidentRow]:
    """One row per id, the most recently updated one; needed because ON CONFLICT cannot
    touch the same key twice in one statement (SQLSTATE 21000). Pages overlap when an
    incident is updated while we page, or when a window is split after paging began."""
    by_id: dict[str, IncidentRow] = {}
    for row in rows:
        current = by_id.get(row.id)
        if current is None or _newer(row, current):
            by_id[row.id] = row
    return list(by_id.values())


def rows_for_batch(incidents: list[dict]) -> tuple[list[IncidentRow], list[ServiceRow]]:
    """Deduplicated incident rows and distinct service rows for one load batch."""
    rows = collapse_duplicates([incident_row(incident) for incident in incidents])
    services: dict[str, ServiceRow] = {}
    for incident in incidents:
        service = service_row(incident)
        if service is not None:
            services[service.id] = service
    return rows, sorted(services.values())
