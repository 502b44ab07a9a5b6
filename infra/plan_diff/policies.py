"""Policy statements normalised, compared statement by statement, and which changes widen access.

A statement is normalised into sets (actions, resources, principals, conditions), so order, case of
actions, a lone string for a one-item list and ``"*"`` for ``{"AWS": "*"}`` do not count as changes.

Widening is judged grant by grant (one action × resource × principal under the statement's
conditions): a new Allow grant widens unless an old Allow grant covers it — an action, resource or
principal pattern that matches it (wildcards included) under conditions no stricter than its own.
A Deny widens access when it stops covering something it denied. Operators this module cannot
order (``ForAllValues:…``, numeric and date comparisons) must stay equal, so an unsure change is
reported as widening rather than missed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import Any

Condition = tuple[str, str, tuple[str, ...]]  # operator, key, values
Principal = tuple[str, str]  # type, value: ("Service", "states.amazonaws.com"), ("*", "*")


@dataclass(frozen=True)
class Statement:
    """One statement, normalised."""

    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    principals: tuple[Principal, ...]
    conditions: tuple[Condition, ...]
    # True where the statement says NotAction / NotResource / NotPrincipal instead.
    not_actions: bool = False
    not_resources: bool = False
    not_principals: bool = False

    def key(self) -> str:
        """What two statements are equal by (the Sid included: a rename is a change of the document).

        Actions are case-insensitive in IAM; resources, principals and condition values are not.
        """
        actions = sorted({a.lower() for a in self.actions})
        fields = [self.resources, self.principals, self.conditions, self.not_actions, self.not_resources]
        return json.dumps([self.sid, self.effect, actions, *fields, self.not_principals], sort_keys=True)


@dataclass(frozen=True)
class Reason:
    """How a statement widens: ``new action`` and the actions, ``condition removed`` and the tests …"""

    kind: str
    subjects: tuple[str, ...]


@dataclass(frozen=True)
class Widening:
    """A statement whose grants reach further than before, and how."""

    statement: Statement
    reasons: tuple[Reason, ...]


@dataclass
class StatementsDiff:
    """Two versions of one policy document compared."""

    added: list[Statement] = field(default_factory=list)
    removed: list[Statement] = field(default_factory=list)
    changed: list[tuple[Statement, Statement]] = field(default_factory=list)
    widened: list[Widening] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _strings(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    return tuple(sorted({item if isinstance(item, str) else json.dumps(item) for item in items if item is not None}))


def _principals(value: Any) -> tuple[Principal, ...]:
    if value is None:
        return ()
    if value == "*":
        return (("*", "*"),)
    if not isinstance(value, dict):
        return (("?", json.dumps(value, sort_keys=True)),)
    found = set()
    for kind, members in value.items():
        for member in _strings(members):
            found.add(("*", "*") if kind == "AWS" and member == "*" else (kind, member))
    return tuple(sorted(found))


def _conditions(value: Any) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        return ()
    found = []
    for operator, tests in value.items():
        if not isinstance(tests, dict):
            continue
        for key, values in tests.items():
            shown = tuple(sorted(str(v).lower() if isinstance(v, bool) else str(v) for v in _listed(values)))
            found.append((operator, key, shown))
    return tuple(sorted(found))


def _listed(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def normalise(raw: dict) -> Statement:
    """``raw`` (a statement as written) as a Statement."""

    def either(name: str) -> tuple[Any, bool]:
        return (raw[f"Not{name}"], True) if f"Not{name}" in raw else (raw.get(name), False)

    actions, not_actions = either("Action")
    resources, not_resources = either("Resource")
    principals, not_principals = either("Principal")
    return Statement(
        sid=str(raw.get("Sid") or ""),
        effect=str(raw.get("Effect") or "Allow"),
        actions=tuple(sorted(set(_strings(actions)), key=str.lower)),
        resources=_strings(resources),
        principals=_principals(principals),
        conditions=_conditions(raw.get("Condition")),
        not_actions=not_actions,
        not_resources=not_resources,
        not_principals=not_principals,
    )


# --- coverage -----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def glob_covers(pattern: str, value: str) -> bool:
    """Every string ``value`` (itself maybe a pattern) matches is matched by ``pattern`` (IAM's * and ?)."""
    return pattern == value or _glob(pattern).fullmatch(value) is not None


def _negated(operator: str) -> bool:
    return "Not" in operator


def _set_operator(operator: str) -> bool:
    """Values OR'ed together: fewer values, or values a pattern covers, is narrower."""
    return operator.removesuffix("IfExists") in {
        "StringEquals",
        "StringEqualsIgnoreCase",
        "StringLike",
        "ArnEquals",
        "ArnLike",
        "IpAddress",
    }


def _condition_implied(wide: Condition, narrow: tuple[Condition, ...]) -> bool:
    """The test ``wide`` admits everything one of ``narrow``'s tests on the same key and operator admits."""
    operator, key, values = wide
    for other_operator, other_key, other_values in narrow:
        if (other_operator, other_key) != (operator, key):
            continue
        if other_values == values:
            return True
        if _set_operator(operator) and all(any(glob_covers(v, o) for v in values) for o in other_values):
            return True
        if _negated(operator) and not operator.startswith("For") and set(other_values) >= set(values):
            return True
    return False


def conditions_cover(wide: tuple[Condition, ...], narrow: tuple[Condition, ...]) -> bool:
    """Whatever satisfies ``narrow`` satisfies ``wide`` (every test in ``wide`` is implied by one in ``narrow``)."""
    return all(_condition_implied(test, narrow) for test in wide)


@dataclass(frozen=True)
class Grant:
    """One action on one resource for one principal, under its statement's conditions."""

    action: str | Opaque | None
    resource: str | Opaque | None
    principal: Principal | Opaque | None
    conditions: tuple[Condition, ...]
    statement: Statement


@dataclass(frozen=True)
class Opaque:
    """A NotAction / NotResource / NotPrincipal list as one element: only itself (or ``*``) covers it."""

    text: str

    def __str__(self) -> str:
        return self.text


def _element(values: tuple, negated: bool, kind: str) -> tuple:
    if negated:
        return (Opaque(f"{kind} {', '.join(describe_principal(v) if kind == 'NotPrincipal' else v for v in values)}"),)
    return values or (None,)


def grants(statement: Statement) -> list[Grant]:
    """Its grants: actions × resources × principals."""
    actions = _element(statement.actions, statement.not_actions, "NotAction")
    resources = _element(statement.resources, statement.not_resources, "NotResource")
    principals = _element(statement.principals, statement.not_principals, "NotPrincipal")
    return [Grant(a, r, p, statement.conditions, statement) for a, r, p in product(actions, resources, principals)]


def _covers(pattern: str | Opaque | None, value: str | Opaque | None) -> bool:
    if pattern is None or value is None:
        return pattern == value
    if isinstance(pattern, Opaque) or isinstance(value, Opaque):
        return pattern == value or pattern == "*"
    return glob_covers(pattern, value)


def _principal_covers(wide: Principal | Opaque | None, narrow: Principal | Opaque | None) -> bool:
    if wide is None or narrow is None:
        return wide == narrow
    if isinstance(wide, Opaque) or isinstance(narrow, Opaque):
        return wide == narrow or wide == ("*", "*")
    return wide == ("*", "*") or (wide[0] == narrow[0] and glob_covers(wide[1], narrow[1]))


def grant_covers(wide: Grant, narrow: Grant) -> bool:
    """``wide`` allows (or denies) at least everything ``narrow`` does."""
    return (
        _covers(wide.action, narrow.action)
        and _covers(wide.resource, narrow.resource)
        and _principal_covers(wide.principal, narrow.principal)
        and conditions_cover(wide.conditions, narrow.conditions)
    )


# --- widening ------------------------------------------------------------------------------------


def describe_principal(principal: Principal | Opaque | None) -> str:
    """``Service: states.amazonaws.com``."""
    if principal is None:
        return "(none)"
    if isinstance(principal, Opaque):
        return str(principal)
    return "*" if principal == ("*", "*") else f"{principal[0]}: {principal[1]}"


def describe_condition(condition: Condition) -> str:
    """``StringEquals aws:sourceaccount = 123456789012``."""
    operator, key, values = condition
    return f"{operator} {key} = {', '.join(values)}"


def _why_wider(grant: Grant, old: list[Grant]) -> list[tuple[str, str]]:
    """(kind, subject) pairs saying why no grant in ``old`` covers ``grant``."""
    same_principal = [g for g in old if _principal_covers(g.principal, grant.principal)]
    if grant.principal is not None and not same_principal:
        return [("new principal", describe_principal(grant.principal))]
    same_action = [g for g in same_principal if _covers(g.action, grant.action)]
    if not same_action:
        return [("new action", str(grant.action))]
    same_resource = [g for g in same_action if _covers(g.resource, grant.resource)]
    if not same_resource:
        wider = any(_covers(grant.resource, g.resource) for g in same_action)
        return [("wider resource" if wider else "new resource", str(grant.resource))]
    closest = min(same_resource, key=lambda g: sum(not _condition_implied(c, grant.conditions) for c in g.conditions))
    now = {c[:2]: c[2] for c in grant.conditions}
    found = []
    for operator, key, values in (c for c in closest.conditions if not _condition_implied(c, grant.conditions)):
        if (operator, key) in now:
            admits = ", ".join(now[(operator, key)])
            found.append(("condition widened", f"{operator} {key} = {admits} (was {', '.join(values)})"))
        else:
            found.append(("condition removed", describe_condition((operator, key, values))))
    return found


def _reasons(found: list[tuple[str, str]]) -> tuple[Reason, ...]:
    by_kind: dict[str, list[str]] = {}
    for kind, subject in found:
        subjects = by_kind.setdefault(kind, [])
        if subject not in subjects:
            subjects.append(subject)
    return tuple(Reason(kind, tuple(subjects)) for kind, subjects in by_kind.items())


def widenings(before: list[Statement], after: list[Statement]) -> list[Widening]:
    """The statements of ``after`` that allow more than ``before`` did, and the Denys of ``before`` that lost ground."""
    old_allows = [g for s in before if s.effect == "Allow" for g in grants(s)]
    new_denies = [g for s in after if s.effect == "Deny" for g in grants(s)]
    found = []
    for statement in after:
        if statement.effect != "Allow":
            continue
        uncovered = [g for g in grants(statement) if not any(grant_covers(o, g) for o in old_allows)]
        if uncovered:
            found.append(Widening(statement, _reasons([why for g in uncovered for why in _why_wider(g, old_allows)])))
    for statement in before:
        if statement.effect != "Deny":
            continue
        lifted = [g for g in grants(statement) if not any(grant_covers(n, g) for n in new_denies)]
        if lifted:
            subjects = sorted({f"{g.action} on {g.resource}" if g.resource else str(g.action) for g in lifted})
            found.append(Widening(statement, (Reason("Deny no longer covers", tuple(subjects)),)))
    return found


# --- statement by statement -----------------------------------------------------------------------


def _overlap(a: Statement, b: Statement) -> bool:
    return a.effect == b.effect and bool(
        set(a.actions) & set(b.actions) or set(a.resources) & set(b.resources) or set(a.principals) & set(b.principals)
    )


def _pairs(removed: list[Statement], added: list[Statement]) -> list[tuple[Statement, Statement]]:
    """A removed and an added statement shown as one changed statement: same Sid, or no Sid and overlapping."""
    pairs = []
    for old in list(removed):
        match = next((new for new in added if old.sid and new.sid == old.sid), None)
        if match is None and not old.sid:
            match = next((new for new in added if not new.sid and _overlap(old, new)), None)
        if match is not None:
            pairs.append((old, match))
            removed.remove(old)
            added.remove(match)
    # One statement without a Sid replaced by another: the same statement, changed.
    unnamed_old, unnamed_new = [s for s in removed if not s.sid], [s for s in added if not s.sid]
    if len(unnamed_old) == len(unnamed_new) == 1 and unnamed_old[0].effect == unnamed_new[0].effect:
        pairs.append((unnamed_old[0], unnamed_new[0]))
        removed.remove(unnamed_old[0])
        added.remove(unnamed_new[0])
    return pairs


def compare_statements(before: tuple[dict, ...], after: tuple[dict, ...]) -> StatementsDiff:
    """``before`` against ``after``: statements added, removed and changed, and the widenings."""
    old = [normalise(s) for s in before]
    new = [normalise(s) for s in after]
    remaining = Counter(s.key() for s in old)
    added = []
    for statement in new:
        if remaining[statement.key()] > 0:
            remaining[statement.key()] -= 1
        else:
            added.append(statement)
    kept = Counter(s.key() for s in new)
    removed = []
    for statement in old:
        if kept[statement.key()] > 0:
            kept[statement.key()] -= 1
        else:
            removed.append(statement)
    if not added and not removed:
        return StatementsDiff()
    changed = _pairs(removed, added)
    return StatementsDiff(added, removed, changed, widenings(old, new))
