"""One snapshot against another: resources, policy documents and state machines that changed."""

from __future__ import annotations

from dataclasses import dataclass, field

from infra.plan_diff.machines import MachineDiff, compare_machines, flatten_states
from infra.plan_diff.policies import StatementsDiff, compare_statements
from infra.plan_diff.snapshot import PolicyDocument, Snapshot
from infra.plan_diff.values import MISSING, Change, ItemsChange, diff, parse_json_text

ResourceKey = tuple[str, str]  # (type, name)


@dataclass
class PropertyNote:
    """A changed input shown as a pointer to its own section (a policy, a definition)."""

    path: str
    note: str


@dataclass
class ResourceChange:
    """A resource in both snapshots whose inputs differ."""

    key: ResourceKey
    changes: list[Change | ItemsChange | PropertyNote]


@dataclass
class DocumentChange:
    """A policy document added, removed or changed (``before``/``after`` None when absent)."""

    before: PolicyDocument | None
    after: PolicyDocument | None
    statements: StatementsDiff

    @property
    def document(self) -> PolicyDocument:
        return self.after or self.before  # type: ignore[return-value]


@dataclass
class PlanDiff:
    """Everything that differs between two synth outputs."""

    added: list[ResourceKey] = field(default_factory=list)
    removed: list[ResourceKey] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    documents: list[DocumentChange] = field(default_factory=list)
    machines_added: dict[str, int] = field(default_factory=dict)  # label → number of states
    machines_removed: dict[str, int] = field(default_factory=dict)
    machines: dict[str, MachineDiff] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.changed
            or self.documents
            or self.machines_added
            or self.machines_removed
            or self.machines
        )

    @property
    def widened(self) -> list[DocumentChange]:
        """The documents with at least one widened statement, in document order."""
        return [d for d in self.documents if d.statements.widened]


def _is_definition(value) -> bool:
    return isinstance(value, dict) and "States" in value and "StartAt" in value


def _resource_changes(before: dict, after: dict, documents: dict[str, StatementsDiff]) -> list:
    """The input changes of one resource; a policy or a definition is one line pointing to its section."""
    found: list[Change | ItemsChange | PropertyNote] = []
    noted: set[str] = set()
    for change in diff(before, after):
        prop = next((p for p in documents if change.path == p or change.path.startswith((f"{p}.", f"{p}["))), None)
        if prop is not None:
            s = documents[prop]
            if not s:  # statements equal once normalised: only a change outside them shows
                if not change.path.startswith((f"{prop}.Statement", f"{prop}.statement")):
                    found.append(change)
            elif prop not in noted:
                noted.add(prop)
                counts = [(len(s.added), "added"), (len(s.removed), "removed"), (len(s.changed), "changed")]
                counts_text = ", ".join(f"{n} {word}" for n, word in counts if n)
                found.append(PropertyNote(prop, f"statements {counts_text} (see IAM)"))
            continue
        root = change.path.split(".")[0].split("[")[0]
        if root in noted:
            continue
        doc_before = parse_json_text(before.get(root, MISSING))
        doc_after = parse_json_text(after.get(root, MISSING))
        if _is_definition(doc_before) or _is_definition(doc_after):
            noted.add(root)
            found.append(PropertyNote(root, "definition changed (see State machines)"))
            continue
        found.append(change)
    return found


def _document_changes(before: Snapshot, after: Snapshot) -> list[DocumentChange]:
    found = []
    for key in [*before.documents, *(k for k in after.documents if k not in before.documents)]:
        old, new = before.documents.get(key), after.documents.get(key)
        statements = compare_statements(old.statements if old else (), new.statements if new else ())
        if statements or (old is None) != (new is None):
            found.append(DocumentChange(old, new, statements))
    # By owner, so a role's documents stand together; the synth's resource order has changed over time.
    return sorted(found, key=lambda c: (c.document.owner, c.document.resource, c.document.prop))


def compare(before: Snapshot, after: Snapshot) -> PlanDiff:
    """``before`` → ``after``: resources added, removed and changed; policy documents; state machines."""
    result = PlanDiff()
    result.added = sorted(k for k in after.resources if k not in before.resources)
    result.removed = sorted(k for k in before.resources if k not in after.resources)
    result.documents = _document_changes(before, after)
    by_resource: dict[ResourceKey, dict[str, StatementsDiff]] = {}
    for change in result.documents:
        by_resource.setdefault(change.document.resource, {})[change.document.prop] = change.statements
    for key in sorted(k for k in after.resources if k in before.resources):
        old, new = before.resources[key], after.resources[key]
        if old == new:
            continue
        documents = {
            d.prop: StatementsDiff() for d in after.documents.values() if d.resource == key and d.prop
        } | by_resource.get(key, {})
        changes = _resource_changes(old, new, documents)
        if changes:
            result.changed.append(ResourceChange(key, changes))
    for label, definition in sorted(after.machines.items()):
        if label not in before.machines:
            result.machines_added[label] = len(flatten_states(definition))
        else:
            machine = compare_machines(before.machines[label], definition)
            if machine:
                result.machines[label] = machine
    result.machines_removed = {
        label: len(flatten_states(d)) for label, d in before.machines.items() if label not in after.machines
    }
    return result
