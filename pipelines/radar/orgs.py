"""Organization records: the registry's structure, the org schema, and selecting the orgs to fetch.

Only schema fields travel past the decryption step, so anything else a registry carries
(contacts, credentials, billing data) never reaches a state payload or the execution history.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipelines.common.errors import InvalidInputError
from pipelines.radar.queries import PARAM_VALIDATORS

ORG_FIELDS = ("orgId", "name", "active", "connectorParams")

# orgId becomes an S3 key prefix: keep it to characters that need no escaping anywhere.
_ORG_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Top-level prefixes the pipeline itself uses in the bucket (the staging area, which expires,
# and the registry): an org by these names would mix its files with them.
RESERVED_ORG_IDS = frozenset({"staging", "config"})


def registry_organizations(registry: object) -> list:
    """The ``organizations`` list of a decrypted registry; InvalidInputError naming the field otherwise."""
    if not isinstance(registry, dict):
        raise InvalidInputError("registry", f"must be a JSON object, got {type(registry).__name__}")
    if "organizations" not in registry:
        raise InvalidInputError("registry.organizations", "is missing")
    organizations = registry["organizations"]
    if not isinstance(organizations, list):
        raise InvalidInputError("registry.organizations", f"must be a list, got {type(organizations).__name__}")
    return organizations


def project_record(record: object) -> dict | None:
    """``record`` reduced to the org schema's fields (None if it is not an object at all)."""
    if not isinstance(record, dict):
        return None
    projected = {name: record[name] for name in ORG_FIELDS if name in record}
    params = projected.get("connectorParams")
    if isinstance(params, dict):
        projected["connectorParams"] = {k: v for k, v in params.items() if k in PARAM_VALIDATORS}
    elif "connectorParams" in projected:
        # Keep only the type so the rejection reason can name it without carrying the value on.
        projected["connectorParams"] = type(params).__name__
    return projected


def check_org_id(value: object, field: str) -> str:
    """``value`` if it is a usable orgId (it becomes an S3 key prefix); InvalidInputError otherwise."""
    if not isinstance(value, str) or not _ORG_ID.match(value):
        raise InvalidInputError(
            field, "must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if value in RESERVED_ORG_IDS:
        raise InvalidInputError(field, f"{value!r} is reserved (one of {', '.join(sorted(RESERVED_ORG_IDS))})")
    return value


def check_org(record: object, needs: tuple[str, ...], where: str = "org") -> dict:
    """The org in canonical form (orgId, name?, normalised connectorParams for ``needs``).

    Raises InvalidInputError naming the offending field (prefixed by ``where``).
    """
    if not isinstance(record, dict):
        raise InvalidInputError(where, "must be an object")
    org_id = check_org_id(record.get("orgId"), f"{where}.orgId")
    params = record.get("connectorParams")
    if not isinstance(params, dict):
        raise InvalidInputError(f"{where}.connectorParams", "must be an object")
    clean: dict[str, str] = {}
    for name in needs:
        if name not in params:
            raise InvalidInputError(f"{where}.connectorParams.{name}", "is missing")
        try:
            clean[name] = PARAM_VALIDATORS[name](params[name])
        except ValueError as exc:
            raise InvalidInputError(f"{where}.connectorParams.{name}", str(exc)) from None
    org = {"orgId": org_id, "connectorParams": clean}
    if isinstance(record.get("name"), str):
        org["name"] = record["name"]
    return org


@dataclass
class Selection:
    """The organizations to fetch and a report of every record left out, with its reason."""

    organizations: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    def report(self) -> str:
        """One line per rejected record: index, orgId (if readable) and reason."""
        return "; ".join(f"#{r['index']} ({r['orgId'] or 'no orgId'}): {r['reason']}" for r in self.rejected)


def _is_active(record: Mapping) -> bool:
    active = record.get("active", True)
    if not isinstance(active, bool):
        raise InvalidInputError("active", "must be true or false")
    return active


def select_organizations(records: list, needs: tuple[str, ...]) -> Selection:
    """Active, valid, first-seen organizations from ``records``; the rest reported with reasons."""
    selection = Selection()
    kept_at: dict[str, int] = {}
    for index, record in enumerate(records):
        raw_id = record.get("orgId") if isinstance(record, dict) else None
        org_id = raw_id if isinstance(raw_id, str) else None

        def reject(reason: str, index=index, org_id=org_id) -> None:
            selection.rejected.append({"index": index, "orgId": org_id, "reason": reason})

        try:
            # An inactive org is skipped as such even if its parameters are also wrong.
            if isinstance(record, dict) and not _is_active(record):
                reject("inactive")
                continue
            org = check_org(record, needs, where="record")
        except InvalidInputError as exc:
            reject(str(exc).removeprefix("record."))
            continue
        if org["orgId"] in kept_at:
            reject(f"duplicate orgId (first kept at #{kept_at[org['orgId']]})")
            continue
        kept_at[org["orgId"]] = index
        selection.organizations.append(org)
    return selection
