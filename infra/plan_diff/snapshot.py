"""A synth output directory read back: resources by (type, name), policy documents, state machines.

Policy documents are found in the resources' inputs, wherever an input holds one (a role's trust
policy, a role policy, a key, bucket, topic or queue policy …), so a new resource type that carries
a policy is compared without a change here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.plan_diff.values import MISSING, join, parse_json_text

RESOURCES_FILE = "resources.json"
MACHINE_SUFFIX = ".asl.json"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# ``<logical name>-<7 hex>``: the physical name the program (and the synth's mocks) give a resource.
_PHYSICAL = re.compile(r"^(?P<logical>.+)-[0-9a-f]{7}$")


class SnapshotError(Exception):
    """The directory is not a synth output (or one that cannot be read); the message says why."""


@dataclass(frozen=True)
class PolicyDocument:
    """One policy held by one resource input; ``owner`` is the role (or resource) it governs."""

    owner: str
    owner_type: str
    label: str
    resource: tuple[str, str]
    prop: str
    statements: tuple[dict, ...]


@dataclass
class Snapshot:
    """What one synth output declares."""

    resources: dict[tuple[str, str], dict[str, Any]]
    machines: dict[str, dict[str, Any]]
    documents: dict[tuple[str, str, str], PolicyDocument] = field(default_factory=dict)


def short_type(typ: str) -> str:
    """``aws:kms/key:Key`` → ``kms/key``."""
    parts = typ.split(":")
    return parts[1] if len(parts) == 3 else typ


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SnapshotError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SnapshotError(f"{path}: not JSON: {exc}") from exc


def load_snapshot(directory: Path) -> Snapshot:
    """The synth output in ``directory`` (SnapshotError if it has no readable ``resources.json``)."""
    listing = directory / RESOURCES_FILE
    if not listing.is_file():
        raise SnapshotError(f"{directory} is not synth output (no {RESOURCES_FILE}; see python -m infra synth)")
    declared = _read_json(listing)
    if not isinstance(declared, list) or not all(
        isinstance(r, dict) and isinstance(r.get("type"), str) and isinstance(r.get("name"), str) for r in declared
    ):
        raise SnapshotError(f"{listing}: not a list of resources with a type and a name")
    resources = {(r["type"], r["name"]): r.get("inputs") or {} for r in declared}
    machines = {}
    for path in sorted(directory.glob(f"*{MACHINE_SUFFIX}")):
        definition = _read_json(path)
        if not isinstance(definition, dict):
            raise SnapshotError(f"{path}: not a state machine definition")
        machines[path.name.removesuffix(MACHINE_SUFFIX)] = definition
    return Snapshot(resources, machines, policy_documents(resources))


def is_policy(value: Any) -> bool:
    """A policy document: an object with a ``Statement``."""
    return isinstance(value, dict) and "Statement" in value


def statements_of(document: dict) -> tuple[dict, ...]:
    """Its statements as a tuple (a lone statement object counts as one)."""
    found = document.get("Statement")
    found = found if isinstance(found, list) else [found]
    return tuple(s for s in found if isinstance(s, dict))


def _found_policies(value: Any, path: str):
    document = parse_json_text(value)
    document = value if document is MISSING else document
    if is_policy(document):
        yield path, document
    elif isinstance(document, dict):
        for key, inner in document.items():
            yield from _found_policies(inner, join(path, key))
    elif isinstance(document, list):
        for index, inner in enumerate(document):
            yield from _found_policies(inner, join(path, index))


def _role_names(resources: dict[tuple[str, str], dict]) -> dict[str, str]:
    """A role's physical names (``name`` input or ``<logical>-<hash>``) → its logical name."""
    names = {}
    for typ, name in resources:
        if typ == ROLE:
            names[name] = name
            given = resources[(typ, name)].get("name")
            if isinstance(given, str):
                names[given] = name
    return names


def _owner_role(reference: Any, roles: dict[str, str]) -> str:
    if not isinstance(reference, str):
        return str(reference)
    if reference in roles:
        return roles[reference]
    match = _PHYSICAL.match(reference.rsplit("/", 1)[-1])
    return roles.get(match["logical"], reference) if match else reference


def policy_documents(resources: dict[tuple[str, str], dict]) -> dict[tuple[str, str, str], PolicyDocument]:
    """Every policy document any resource input holds, keyed by (type, name, input path)."""
    roles = _role_names(resources)
    found = {}
    for (typ, name), inputs in resources.items():
        for prop, document in _found_policies(inputs, ""):
            if typ == ROLE and prop == "assumeRolePolicy":
                owner, owner_type, label = name, "role", "trust policy"
            elif typ == ROLE_POLICY:
                owner, owner_type, label = _owner_role(inputs.get("role"), roles), "role", f"policy `{name}`"
            elif typ == ROLE:
                owner, owner_type, label = name, "role", f"`{prop}`"
            else:
                owner, owner_type = name, short_type(typ)
                label = "policy" if prop == "policy" else f"`{prop}`"
            found[(typ, name, prop)] = PolicyDocument(
                owner, owner_type, label, (typ, name), prop, statements_of(document)
            )
    return found
