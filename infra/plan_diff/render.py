"""A PlanDiff as Markdown for a pull-request comment: summary, widened permissions first, then the rest."""

from __future__ import annotations

from infra.plan_diff.compare import DocumentChange, PlanDiff, PropertyNote
from infra.plan_diff.machines import MachineDiff
from infra.plan_diff.policies import Reason, Statement, describe_condition, describe_principal
from infra.plan_diff.values import MISSING, Change, ItemsChange, short

WIDENED = "⚠ Widened permissions"
NO_CHANGES = "No changes"
LIST_LIMIT = 6  # items of one list shown before "… and N more"


def code(text: str) -> str:
    """``text`` as inline code, whatever backticks it holds."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _listed(items, limit: int = LIST_LIMIT, width: int = 80) -> str:
    items = list(items)
    shown = ", ".join(code(short(item, width)) for item in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")


# --- one line per thing ----------------------------------------------------------------------------


def value_change(change: Change | ItemsChange | PropertyNote) -> str:
    """``path``: ``old`` → ``new`` (or what came in and went out of a list)."""
    if isinstance(change, PropertyNote):
        return f"{code(change.path)}: {change.note}"
    if isinstance(change, ItemsChange):
        if change.reordered:
            return f"{code(change.path)}: same items, reordered"
        parts = []
        if change.added:
            parts.append(f"added {_listed(change.added)}")
        if change.removed:
            parts.append(f"removed {_listed(change.removed)}")
        return f"{code(change.path)}: {'; '.join(parts) or 'duplicates changed'}"
    if change.old is MISSING:
        return f"{code(change.path)}: added {code(short(change.new))}"
    if change.new is MISSING:
        return f"{code(change.path)}: removed (was {code(short(change.old))})"
    return f"{code(change.path)}: {code(short(change.old))} → {code(short(change.new))}"


def statement_line(statement: Statement, brief: bool = False) -> str:
    """``Sid``: Allow ``a``, ``b`` on ``r`` for ``Service: x`` if ``StringEquals k = v`` (``brief``: to the actions)."""
    parts = [f"{code(statement.sid)}: " if statement.sid else "", f"**{statement.effect}**"]
    if statement.actions:
        parts.append(f" {'all but ' if statement.not_actions else ''}{_listed(statement.actions)}")
    if brief:
        return "".join(parts)
    if statement.resources:
        parts.append(f" on {'all but ' if statement.not_resources else ''}{_listed(statement.resources, 4)}")
    if statement.principals:
        who = [describe_principal(p) for p in statement.principals]
        parts.append(f" for {'all but ' if statement.not_principals else ''}{_listed(who, 4)}")
    if statement.conditions:
        parts.append(f" if {_listed([describe_condition(c) for c in statement.conditions], 4, 100)}")
    return "".join(parts)


def _delta(name: str, old: tuple, new: tuple) -> str | None:
    added, removed = [x for x in new if x not in old], [x for x in old if x not in new]
    if not added and not removed:
        return None
    parts = ([f"added {_listed(added)}"] if added else []) + ([f"removed {_listed(removed)}"] if removed else [])
    return f"{name} {' and '.join(parts)}"


def changed_statement_line(old: Statement, new: Statement) -> str:
    """What differs between two versions of one statement, field by field."""
    label = code(new.sid) if new.sid else f"**{new.effect}** {_listed(new.actions, 3)}"
    deltas = [
        f"effect {old.effect} → {new.effect}" if old.effect != new.effect else None,
        _delta("actions", old.actions, new.actions),
        _delta("resources", old.resources, new.resources),
        _delta("principals", *([describe_principal(p) for p in s.principals] for s in (old, new))),
        _delta("conditions", *(tuple(describe_condition(c) for c in s.conditions) for s in (old, new))),
    ]
    if (old.not_actions, old.not_resources, old.not_principals) != (
        new.not_actions,
        new.not_resources,
        new.not_principals,
    ):
        deltas.append("Not… form changed")
    if old.sid != new.sid:
        deltas.append(f"Sid {code(old.sid or '(none)')} → {code(new.sid or '(none)')}")
    return f"{label}: {'; '.join(d for d in deltas if d) or 'changed'}"


def reason_text(reason: Reason) -> str:
    """``new actions `a`, `b```, ``condition removed `StringEquals k = v```."""
    plural = "s" if len(reason.subjects) > 1 and reason.kind.startswith(("new", "wider")) else ""
    return f"{reason.kind}{plural} {_listed(reason.subjects, 4, 120)}"


def _document_title(change: DocumentChange) -> str:
    doc = change.document
    status = " (new)" if change.before is None else " (removed)" if change.after is None else ""
    return f"{code(doc.owner)} ({doc.owner_type}) · {doc.label}{status}"


# --- sections ----------------------------------------------------------------------------------------


def _counts(counts: list[tuple[int, str]]) -> str:
    return ", ".join(f"{n} {word}" for n, word in counts if n) or "no changes"


def summary(diff: PlanDiff) -> str:
    """One line: how much changed in each section."""
    if not diff:
        return NO_CHANGES
    statements = [d.statements for d in diff.documents]
    widened = sum(len(s.widened) for s in statements)
    added = sum(len(s.added) for s in statements)
    iam = _counts(
        [
            (added, "statement added" if added == 1 else "statements added"),
            (sum(len(s.removed) for s in statements), "removed" if added else "statements removed"),
            (sum(len(s.changed) for s in statements), "changed"),
        ]
    )
    machines = list(diff.machines.values())
    states = _counts(
        [
            (sum(len(m.added) for m in machines), "added"),
            (sum(len(m.removed) for m in machines), "removed"),
            (sum(len(m.changed) for m in machines), "changed"),
        ]
    )
    resources = _counts([(len(diff.added), "added"), (len(diff.removed), "removed"), (len(diff.changed), "changed")])
    machine_counts = [(len(diff.machines_added), "added"), (len(diff.machines_removed), "removed")]
    machine_text = _counts([*machine_counts, (len(machines), "changed")])
    parts = [
        f"Resources: {resources}",
        f"IAM: {iam}" + (f" (⚠ {widened} widened)" if widened else ""),
        f"State machines: {machine_text}" + (f" (states: {states})" if machines and states != "no changes" else ""),
    ]
    return " · ".join(parts)


def widened_section(diff: PlanDiff) -> list[str]:
    """Every statement that grants more than before, grouped by document, with why."""
    documents = diff.widened
    if not documents:
        return []
    lines = [f"### {WIDENED} ({sum(len(d.statements.widened) for d in documents)})", ""]
    for change in documents:
        lines.append(f"- {_document_title(change)}")
        for widening in change.statements.widened:
            if change.before is None:  # all of a new document is new: show what it grants
                lines.append(f"  - {statement_line(widening.statement)}")
                continue
            reasons = "; ".join(reason_text(r) for r in widening.reasons)
            lines.append(f"  - {statement_line(widening.statement, brief=True)} — {reasons}")
    return [*lines, ""]


def resources_section(diff: PlanDiff) -> list[str]:
    """Resources added, removed, and changed with their changed properties."""
    if not (diff.added or diff.removed or diff.changed):
        return []
    lines = ["### Resources", ""]
    for title, keys in (("Added", diff.added), ("Removed", diff.removed)):
        if keys:
            lines += [f"**{title} ({len(keys)})**", ""]
            lines += [f"- {code(name)} ({code(typ)})" for typ, name in keys]
            lines.append("")
    if diff.changed:
        lines += [f"**Changed ({len(diff.changed)})**", ""]
        for change in diff.changed:
            typ, name = change.key
            lines.append(f"- {code(name)} ({code(typ)})")
            lines += [f"  - {value_change(c)}" for c in change.changes]
        lines.append("")
    return lines


def iam_section(diff: PlanDiff) -> list[str]:
    """Per role (or resource), each policy document's statements added, removed and changed."""
    if not diff.documents:
        return []
    lines = ["### IAM", ""]
    for change in diff.documents:
        s = change.statements
        lines.append(f"- {_document_title(change)}")
        lines += [f"  - ➕ {statement_line(x)}" for x in s.added]
        lines += [f"  - ➖ {statement_line(x)}" for x in s.removed]
        lines += [f"  - ✎ {changed_statement_line(old, new)}" for old, new in s.changed]
        if not s:
            lines.append("  - no statements")
    return [*lines, ""]


def _machine_lines(machine: MachineDiff) -> list[str]:
    lines = [f"  - top level: {value_change(c)}" for c in machine.top_level]
    lines += [f"  - ➕ {code(name)} ({kind})" for name, kind in machine.added]
    lines += [f"  - ➖ {code(name)} ({kind})" for name, kind in machine.removed]
    for state in machine.changed:
        lines.append(f"  - ✎ {code(state.name)} ({state.type}): {', '.join(code(f) for f in state.fields)}")
        lines += [f"    - {value_change(c)}" for c in state.changes]
    return lines


def machines_section(diff: PlanDiff) -> list[str]:
    """Per state machine: states added, removed and changed (with the fields that changed)."""
    if not (diff.machines_added or diff.machines_removed or diff.machines):
        return []
    lines = ["### State machines", ""]
    lines += [f"- {code(label)}: new ({_plural(n, 'state')})" for label, n in diff.machines_added.items()]
    lines += [f"- {code(label)}: removed ({_plural(n, 'state')})" for label, n in diff.machines_removed.items()]
    for label, machine in diff.machines.items():
        lines.append(f"- {code(label)}")
        lines += _machine_lines(machine)
    return [*lines, ""]


def _cut(text: str, max_chars: int | None, hint: str) -> str:
    if max_chars is None or len(text) <= max_chars:
        return text
    note = f"\n\n… cut at {max_chars:,} of {len(text):,} characters: {hint}\n"
    kept = text[: max(0, max_chars - len(note))]
    return kept[: kept.rfind("\n") + 1 or len(kept)].rstrip("\n") + note


def render_markdown(diff: PlanDiff, base: str, head: str, max_chars: int | None = None) -> str:
    """The whole comment; cut (at a line, saying so) to ``max_chars`` if given."""
    lines = [f"## Infrastructure diff: {code(base)} → {code(head)}", "", f"**{summary(diff)}**", ""]
    if diff:
        lines += widened_section(diff) + resources_section(diff) + iam_section(diff) + machines_section(diff)
    text = "\n".join(lines).rstrip("\n") + "\n"
    return _cut(text, max_chars, f"run `python -m infra diff {base} {head}` for the whole diff")
